//! Giving leases back, by one rule for every path that does it (`berth release`, the
//! `release_ports` activity and the web view's action): a fallback whose port is in use now
//! is kept unless forced, because releasing it would let the next lookup hand that port to
//! a second holder while the first still serves on it.

use berth_workflows::activities::ReleaseRequest;

use super::{Lease, Ledger, LedgerError, ReleaseScope};
use crate::probe::{self, HostPorts};

/// What `request` gives back: the whole project, one service's leases or one port's.
pub fn scope(request: &ReleaseRequest) -> Result<ReleaseScope, LedgerError> {
    match (&request.service, request.port) {
        (Some(_), Some(_)) => {
            Err(LedgerError::InvalidRequest { problem: "a release names a service or a port, not both".to_string() })
        }
        (Some(service), None) => Ok(ReleaseScope::Service(service.clone())),
        (None, Some(port)) => Ok(ReleaseScope::Port(port)),
        (None, None) => Ok(ReleaseScope::Project),
    }
}

/// Releases what `request` names from `ledger`; see the module docs.
pub fn release(ledger: &mut Ledger, request: &ReleaseRequest) -> Result<Vec<Lease>, LedgerError> {
    let scope = scope(request)?;
    if Lease::is_fallback_project(&request.project) && !request.force {
        refuse_fallbacks_in_use(ledger, &request.project, &scope)?;
    }
    ledger.release(&request.project, &scope)
}

/// Fails on the first fallback lease in `scope` whose port is in use now, naming its holder.
fn refuse_fallbacks_in_use(ledger: &Ledger, project: &str, scope: &ReleaseScope) -> Result<(), LedgerError> {
    let in_scope = |lease: &Lease| match scope {
        ReleaseScope::Project => true,
        ReleaseScope::Service(service) => &lease.service == service,
        ReleaseScope::Port(port) => lease.port == *port,
    };
    for lease in ledger.leases(Some(project))?.iter().filter(|lease| in_scope(lease)) {
        if !probe::is_free(lease.port, lease.protocol) {
            let holder = HostPorts::snapshot()
                .ok()
                .and_then(|host| host.describe_holder(lease.port))
                .unwrap_or_else(|| "a process berth cannot see".to_string());
            return Err(LedgerError::FallbackInUse { project: project.to_string(), port: lease.port, holder });
        }
    }
    Ok(())
}

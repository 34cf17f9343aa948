//! Falling back inside a port key's range when a process berth did not start holds the
//! computed port (a `ports:` file's dashboard: 3210, else the first free of 3211–3220).
//!
//! The port chosen is a lease in the ledger, under the instance's fallback project
//! ([`fallback_project`]), so two lookups never pick the same port, and a lookup answers the
//! same port while the lease lives, even once the computed port is free again: clients
//! configured with the fallback keep working. `berth release --project fallback:NAME` ends it.

use super::LedgerError;
use super::allocate::PortSet;
use super::lease::{AllocationRequest, Lease, LeaseSlot, Strategy, fallback_project};
use super::store::Ledger;
use crate::probe::{HostPorts, Protocol};
use crate::registry::{PortRange, ResolvedPort};

/// A fallback in force for one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The port the slot computes to.
    pub computed: u16,
    /// The lease on the port used instead.
    pub lease: Lease,
    /// Whether this lookup made the lease (rather than finding it).
    pub new: bool,
}

/// Why a lookup could not settle on a port: a finding about the host (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum FallbackError {
    /// The key refuses conflicts and its port is held.
    #[error(
        "{slot} = {port} is held by {holder}, and its entry refuses conflicts (`conflict_check: true` without a wider range): stop that process, or give the entry a range to fall back in"
    )]
    Refused {
        /// The slot, written `dashboard[0].port`.
        slot: String,
        /// Its port.
        port: u16,
        /// Who holds it.
        holder: String,
    },
}

/// The fallback lease already held for `resolved`'s slot, if any; reads only.
pub fn existing(ledger: &Ledger, resolved: &ResolvedPort) -> Result<Option<Lease>, LedgerError> {
    let project = fallback_project(&resolved.service, &resolved.environment, resolved.instance);
    Ok(ledger.leases(Some(&project))?.into_iter().find(|lease| lease.service == resolved.key))
}

/// Fails when the key refuses conflicts (`conflict_check: true` on a single port) and
/// `holder` holds its port.
pub fn refuse_if_held(resolved: &ResolvedPort, holder: Option<String>) -> Result<(), FallbackError> {
    match holder {
        None => Ok(()),
        Some(holder) => Err(FallbackError::Refused { slot: slot_text(resolved), port: resolved.port, holder }),
    }
}

/// Settles the port for `resolved`, whose key falls back inside `range`: the fallback in
/// force, or `None` for the computed port. `holder` names the
/// process holding the computed port when it is not free and not the slot's own
/// container's; `taken` holds ports a fallback must never take (registry slots, reserved
/// ports); `is_free` tests a candidate on the live host. A fallback lease in force is
/// renewed and kept even when the computed port is free again.
pub fn settle(
    ledger: &mut Ledger,
    resolved: &ResolvedPort,
    range: PortRange,
    holder: Option<&str>,
    taken: &PortSet,
    is_free: impl Fn(u16) -> bool,
    now: i64,
) -> Result<Option<Fallback>, LedgerError> {
    let mut unavailable = taken.clone();
    unavailable.insert(resolved.port);
    let fresh = existing(ledger, resolved)?.is_none();
    let purpose = match holder {
        Some(holder) => format!("fallback for {} = {}, held by {holder}", slot_text(resolved), resolved.port),
        None if fresh => return Ok(None),
        None => String::new(),
    };
    let leases =
        ledger.allocate(&request(resolved, range, purpose), &unavailable, is_free, now).map_err(
            |error| match error {
                LedgerError::Exhausted { .. } => LedgerError::FallbackFull {
                    slot: slot_text(resolved),
                    port: resolved.port,
                    holder: holder.unwrap_or("a process berth cannot see").to_string(),
                    range,
                },
                other => other,
            },
        )?;
    let lease = leases.into_iter().next().ok_or(LedgerError::ZeroCount)?;
    Ok(Some(Fallback { computed: resolved.port, lease, new: fresh }))
}

fn request(resolved: &ResolvedPort, range: PortRange, purpose: String) -> AllocationRequest {
    AllocationRequest {
        project: fallback_project(&resolved.service, &resolved.environment, resolved.instance),
        service: resolved.key.clone(),
        count: 1,
        range,
        strategy: Strategy::FirstFit,
        protocol: Protocol::Tcp,
        purpose,
        owner: None,
        ttl_seconds: None,
        health_endpoint: None,
        slot: Some(LeaseSlot {
            service: resolved.service.clone(),
            instance: resolved.instance,
            key: resolved.key.clone(),
        }),
    }
}

/// Who holds `resolved`'s computed port, when it is not free (`free_now`) and its lease is
/// not the slot's own container's: the holder named as the host shows it.
pub fn foreign_holder(ledger: Option<&Ledger>, resolved: &ResolvedPort, free_now: bool) -> Option<String> {
    if free_now {
        return None;
    }
    let lease = ledger.and_then(|ledger| ledger.lease_on(resolved.port).ok().flatten());
    if lease.is_some_and(|lease| is_own_container_lease(&lease, resolved)) {
        return None;
    }
    let described = HostPorts::snapshot().ok().and_then(|host| host.describe_holder(resolved.port));
    Some(
        described.unwrap_or_else(|| {
            "a process berth cannot see (another user's, or in another network namespace)".to_string()
        }),
    )
}

/// Logs `port_fallback` and says, in one line, what `resolved` uses instead of its computed
/// port and why (`holder` holds the computed port, or the lease is still in force), then
/// `remedy`: how to give the fallback up.
pub fn fallback_note(resolved: &ResolvedPort, fallback: &Fallback, holder: Option<&str>, remedy: &str) -> String {
    let project = &fallback.lease.project;
    tracing::info!(
        service = %resolved.service,
        instance = resolved.instance,
        key = %resolved.key,
        environment = %resolved.environment,
        computed = fallback.computed,
        port = fallback.lease.port,
        project = %project,
        new = fallback.new,
        "port_fallback"
    );
    let why = match holder {
        Some(holder) => format!("{} is held by {holder}", fallback.computed),
        None => format!("the fallback lease on it is still in force, though {} is free again", fallback.computed),
    };
    format!("{} uses {} instead of {}: {why}; {remedy}", slot_text(resolved), fallback.lease.port, fallback.computed)
}

fn slot_text(resolved: &ResolvedPort) -> String {
    format!("{}[{}].{}", resolved.service, resolved.instance, resolved.key)
}

/// Whether `lease` is the one berth took for the slot's own container: the instance's
/// container (its name says service, instance and environment) holding this very port key.
/// That is the slot in use as intended, not a conflict.
pub fn is_own_container_lease(lease: &Lease, resolved: &ResolvedPort) -> bool {
    let container = crate::registry::container_name(&resolved.service, &resolved.environment, resolved.instance);
    lease.container() == Some(container.as_str())
        && lease.slot.as_ref().is_some_and(|slot| {
            (slot.service.as_str(), slot.instance, slot.key.as_str())
                == (resolved.service.as_str(), resolved.instance, resolved.key.as_str())
        })
}

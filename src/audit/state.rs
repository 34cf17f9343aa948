//! berth's own claims: every registry slot (in every environment), every reserved port
//! and every lease in the host ledger, as claims a tree's files may collide with. A slot
//! and a lease on it speak through the slot's variable, so `.env`'s `KAFKA_BROKER_PORT=9092`
//! written from berth's own export is the same setting, not a collision.

use super::{Claim, HOST, SourceKind, owner};
use crate::ledger::Lease;
use crate::probe::Protocol;
use crate::registry::{Registry, slot_variable};

/// The registry's slots and reserved ports; `location` names the registry file.
pub fn registry_claims(registry: &Registry, location: &str) -> Vec<Claim> {
    let mut claims = Vec::new();
    for service in &registry.services {
        for key in &service.ports {
            for instance in service.instances() {
                let variable = slot_variable(service, key, instance);
                for environment in &registry.environments {
                    let Ok(port) = u16::try_from(service.port_of(key, environment.offset, instance)) else { continue };
                    let at =
                        if registry.environments.len() > 1 { format!("@{}", environment.name) } else { String::new() };
                    claims.push(Claim {
                        port,
                        protocol: Protocol::Tcp,
                        scope: HOST.to_string(),
                        source: SourceKind::Registry,
                        claimant: format!("registry slot {}[{instance}].{}{at}", service.name, key.name),
                        owner: owner(Some(&variable), String::new()),
                        variable: Some(variable.clone()),
                        location: location.to_string(),
                    });
                }
            }
        }
    }
    for reservation in &registry.reserved {
        for range in &reservation.ports {
            claims.extend((range.start..=range.end).map(|port| Claim {
                port,
                protocol: Protocol::Tcp,
                scope: HOST.to_string(),
                source: SourceKind::Reserved,
                claimant: format!("reserved ({})", reservation.reason),
                variable: None,
                location: location.to_string(),
                owner: format!("reserved:{}", reservation.reason),
            }));
        }
    }
    claims
}

/// The ledger's leases; a lease on a registry slot is that slot's claim.
pub fn lease_claims(leases: &[Lease], registry: Option<&Registry>, location: &str) -> Vec<Claim> {
    leases
        .iter()
        .map(|lease| {
            let variable = lease.slot.as_ref().and_then(|slot| {
                let service = registry?.service(&slot.service)?;
                Some(slot_variable(service, service.port_key(&slot.key)?, slot.instance))
            });
            Claim {
                port: lease.port,
                protocol: lease.protocol,
                scope: HOST.to_string(),
                source: SourceKind::Lease,
                claimant: format!("lease of project {} ({})", lease.project, lease.service),
                owner: owner(variable.as_deref(), format!("lease:{}", lease.project)),
                variable,
                location: location.to_string(),
            }
        })
        .collect()
}

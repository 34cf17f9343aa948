//! `berth audit`: where do a tree's existing files claim the same host port?
//!
//! Teams wrote their port plans from manual audits of compose files, `.env` files and
//! Kubernetes manifests. This reads those files ([`tree`]), turns every port they claim
//! into a [`Claim`] with its `file:line` ([`compose`], [`env_file`], [`kubernetes`]), adds
//! the registry's slots, reserved ports and the ledger's leases, and reports every port
//! claimed by two owners ([`collisions`], pure). A variable's definition and a claim made
//! through it are one setting: `.env`'s `API_PORT=8000` and compose's
//! `${API_PORT:-8000}:8000`; but two compose entries publishing one port collide, through
//! one variable or not, as Docker refuses the second.

mod compose;
mod env_file;
mod interpolate;
mod kubernetes;
mod marked;
pub mod report;
pub mod state;
pub mod tree;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::probe::Protocol;

/// One port one thing claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The port.
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Where the port is claimed: the host, or (for a Kubernetes `containerPort`) one pod.
    pub scope: String,
    /// What kind of source claims it.
    pub source: SourceKind,
    /// Who claims it, for people (`compose service api`, `variable CONTIMG_API_PORT`).
    pub claimant: String,
    /// The variable that sets the port, when one does.
    pub variable: Option<String>,
    /// `file:line`, or what the claim comes from (`registry`, `ledger`).
    pub location: String,
    /// Claims with the same owner are one setting, never a collision.
    #[serde(skip)]
    pub owner: String,
}

/// Where a claim was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A compose file's `ports:`.
    Compose,
    /// A `.env` file's `…PORT=` line.
    EnvFile,
    /// A Kubernetes manifest's `hostPort`, `nodePort` or `containerPort`.
    Kubernetes,
    /// A registry slot.
    Registry,
    /// A registry reserved port.
    Reserved,
    /// A lease in the host ledger.
    Lease,
}

impl SourceKind {
    /// Whether the claim comes from a file of the audited tree (not berth's own state).
    pub fn is_file(self) -> bool {
        matches!(self, Self::Compose | Self::EnvFile | Self::Kubernetes)
    }
}

/// A port claimed by more than one owner, where at least one claim is a file's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collision {
    /// The port.
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The host, or the pod.
    pub scope: String,
    /// Every claim on it, files first.
    pub claims: Vec<Claim>,
}

/// Every port two owners claim in the same scope, where a file is among them (the
/// registry's own collisions are `berth check`'s business), in port order.
pub fn collisions(claims: &[Claim]) -> Vec<Collision> {
    let mut groups: BTreeMap<(u16, Protocol, &str), Vec<&Claim>> = BTreeMap::new();
    for claim in claims {
        groups.entry((claim.port, claim.protocol, claim.scope.as_str())).or_default().push(claim);
    }
    groups
        .into_iter()
        .filter(|(_, group)| group.iter().any(|claim| claim.source.is_file()))
        .filter(|(_, group)| {
            group
                .iter()
                .enumerate()
                .any(|(index, claim)| group[index + 1..].iter().any(|other| !claim.same_setting(other)))
        })
        .map(|((port, protocol, scope), group)| {
            let mut claims: Vec<Claim> = group.into_iter().cloned().collect();
            claims.sort_by(|left, right| (left.source, &left.location).cmp(&(right.source, &right.location)));
            Collision { port, protocol, scope: scope.to_string(), claims }
        })
        .collect()
}

impl Claim {
    /// Whether the claim publishes a port (a compose entry, a manifest's port) rather than
    /// define one (a `.env` line, a registry slot, a lease).
    fn publishes(&self) -> bool {
        matches!(self.source, SourceKind::Compose | SourceKind::Kubernetes)
    }

    /// Whether two claims on one port are one setting: the same owner, or a variable and a
    /// claim through it (two claims that publish are two, whatever variable they share).
    fn same_setting(&self, other: &Claim) -> bool {
        self.owner == other.owner
            || (self.variable.is_some() && self.variable == other.variable && !(self.publishes() && other.publishes()))
    }
}

/// The owner of a claim made through `variable`, or else `fallback`.
fn owner(variable: Option<&str>, fallback: String) -> String {
    variable.map_or(fallback, |variable| format!("variable:{variable}"))
}

/// The scope of every host port.
pub const HOST: &str = "host";

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(port: u16, source: SourceKind, owner: &str) -> Claim {
        Claim {
            port,
            protocol: Protocol::Tcp,
            scope: HOST.to_string(),
            source,
            claimant: owner.to_string(),
            variable: None,
            location: format!("{owner}:1"),
            owner: owner.to_string(),
        }
    }

    fn through(port: u16, source: SourceKind, owner: &str, variable: &str) -> Claim {
        Claim { variable: Some(variable.to_string()), ..claim(port, source, owner) }
    }

    #[test]
    fn a_variable_and_its_use_are_one_setting_but_two_entries_publishing_a_port_collide() {
        let definition = through(8000, SourceKind::EnvFile, "variable:WEB_PORT", "WEB_PORT");
        let api = through(8000, SourceKind::Compose, "compose:app/api#0", "WEB_PORT");
        let docs = through(8000, SourceKind::Compose, "compose:app/docs#0", "WEB_PORT");
        let slot = through(8000, SourceKind::Registry, "variable:WEB_PORT", "WEB_PORT");
        assert!(collisions(&[definition.clone(), api.clone(), slot]).is_empty(), "one setting");
        let found = collisions(&[definition, api.clone(), docs]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].claims.len(), 3);
        let again = claim(8000, SourceKind::Compose, "compose:app/api#1");
        assert_eq!(collisions(&[api, again]).len(), 1, "one service publishing a port twice");
    }

    #[test]
    fn two_owners_collide_one_owner_twice_does_not_and_berths_own_state_alone_is_not_audited() {
        let claims = [
            claim(8000, SourceKind::Compose, "api"),
            claim(8000, SourceKind::EnvFile, "docs"),
            claim(8001, SourceKind::Compose, "web"),
            claim(8001, SourceKind::EnvFile, "web"),
            claim(9000, SourceKind::Registry, "slot"),
            claim(9000, SourceKind::Lease, "lease"),
            claim(9100, SourceKind::Kubernetes, "svc"),
            claim(9100, SourceKind::Reserved, "reserved"),
        ];
        let found: Vec<(u16, Vec<String>)> = collisions(&claims)
            .into_iter()
            .map(|collision| (collision.port, collision.claims.into_iter().map(|claim| claim.claimant).collect()))
            .collect();
        let names = |list: &[&str]| list.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        assert_eq!(found, [(8000, names(&["api", "docs"])), (9100, names(&["svc", "reserved"]))]);
    }

    #[test]
    fn ports_in_other_scopes_or_protocols_do_not_collide() {
        let mut udp = claim(8000, SourceKind::Compose, "dns");
        udp.protocol = Protocol::Udp;
        let mut pod = claim(8000, SourceKind::Kubernetes, "pod");
        pod.scope = "pod a".to_string();
        assert_eq!(collisions(&[claim(8000, SourceKind::Compose, "api"), udp, pod]), []);
    }
}

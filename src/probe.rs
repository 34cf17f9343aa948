//! Which process listens on a port right now, read from the live host's `/proc`.
//!
//! TCP sockets count when they listen, UDP sockets when they are bound; IPv4 and IPv6
//! alike. A socket is tied to its process through the socket inode that appears among the
//! process's open file descriptors. Processes whose descriptors cannot be read (another
//! user's, without root) still show their socket, with the owner unknown. Linux only.
//!
//! [`is_free`] answers the narrower, much cheaper question "could I bind this port now?"
//! with a bind test, for allocation loops that ask it thousands of times; [`is_free_on`]
//! asks it for the one address a container publishes on.
//!
//! A port can also be held without a listener: as the local port of an outgoing
//! connection, which the kernel takes from its ephemeral range. The snapshot keeps those
//! [`Connection`]s apart, so berth can say "the local port of a connection to X" instead
//! of blaming a process nobody can see.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

use procfs::net::TcpState;
use procfs::process::FDTarget;
use serde::Serialize;

/// Transport protocol of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// A listening TCP socket.
    Tcp,
    /// A bound UDP socket.
    Udp,
}

/// A socket that holds a port, and the process that owns it when that can be known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The local address and port the socket is bound to.
    pub address: SocketAddr,
    /// The owning process.
    pub owner: Option<Owner>,
}

/// A TCP connection that uses a port as its local port without listening on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// The local address and port.
    pub local: SocketAddr,
    /// The other end.
    pub remote: SocketAddr,
    /// The TCP state (`Established`, `TimeWait`, …).
    pub state: String,
    /// The owning process, when it can be known.
    pub owner: Option<Owner>,
}

impl Connection {
    /// `the local port of a connection to 172.17.0.2:6379 (Established, pid 42 (redis-cli))`.
    pub fn describe(&self) -> String {
        let owner = self.owner.as_ref().map_or_else(String::new, |owner| format!(", {owner}"));
        format!("the local port of a connection to {} ({}{owner})", self.remote, self.state)
    }
}

/// The process behind a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// Process id.
    pub pid: i32,
    /// The process's name (`comm`, at most 15 characters).
    pub name: String,
}

/// Reading `/proc` failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the host's socket tables from /proc: {source}; berth's port probe needs Linux with /proc mounted")]
pub struct ProbeError {
    source: procfs::ProcError,
}

impl Protocol {
    /// `tcp` or `udp`, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "pid {} ({})", self.pid, self.name)
    }
}

impl Listener {
    /// The port the socket holds.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `tcp 127.0.0.1:9192 pid 4242 (java)`, or `… owner unknown` when the process is hidden.
    pub fn describe(&self) -> String {
        let owner = self.owner.as_ref().map_or_else(|| "owner unknown".to_string(), ToString::to_string);
        format!("{} {} {owner}", self.protocol, self.address)
    }
}

/// A snapshot of every port held on the host, taken once and asked many times.
#[derive(Debug, Clone, Default)]
pub struct HostPorts {
    by_port: HashMap<u16, Vec<Listener>>,
    connections: HashMap<u16, Vec<Connection>>,
}

impl HostPorts {
    /// Reads the host's TCP and UDP socket tables and their owners.
    pub fn snapshot() -> Result<Self, ProbeError> {
        let sockets = sockets().map_err(|source| ProbeError { source })?;
        let owners = socket_owners();
        let mut ports = Self::from_parts(sockets, &owners);
        for (local, remote, state, inode) in connections().map_err(|source| ProbeError { source })? {
            let owner = owners.get(&inode).cloned();
            ports.connections.entry(local.port()).or_default().push(Connection { local, remote, state, owner });
        }
        Ok(ports)
    }

    /// Joins sockets (protocol, address, inode) with an inode → owner map.
    fn from_parts(sockets: Vec<(Protocol, SocketAddr, u64)>, owners: &HashMap<u64, Owner>) -> Self {
        let mut by_port: HashMap<u16, Vec<Listener>> = HashMap::new();
        for (protocol, address, inode) in sockets {
            let owner = owners.get(&inode).cloned();
            by_port.entry(address.port()).or_default().push(Listener { protocol, address, owner });
        }
        for listeners in by_port.values_mut() {
            listeners.sort_by(|left, right| {
                (left.protocol, left.address.is_ipv6(), left.address).cmp(&(
                    right.protocol,
                    right.address.is_ipv6(),
                    right.address,
                ))
            });
            listeners.dedup();
        }
        Self { by_port, connections: HashMap::new() }
    }

    /// Every listening socket on the host, in port order.
    pub fn listeners(&self) -> Vec<&Listener> {
        let mut all: Vec<&Listener> = self.by_port.values().flatten().collect();
        all.sort_by_key(|listener| listener.port());
        all
    }

    /// Every socket process `pid` holds, in port order.
    pub fn listeners_of(&self, pid: i32) -> Vec<&Listener> {
        let mut found: Vec<&Listener> = self
            .by_port
            .values()
            .flatten()
            .filter(|listener| listener.owner.as_ref().is_some_and(|owner| owner.pid == pid))
            .collect();
        found.sort_by_key(|listener| (listener.port(), listener.protocol));
        found
    }

    /// The sockets holding `port`, TCP before UDP, IPv4 before IPv6; empty when it is free.
    pub fn holders(&self, port: u16) -> &[Listener] {
        self.by_port.get(&port).map_or(&[], Vec::as_slice)
    }

    /// The TCP connections that use `port` as their local port without a listener on it
    /// (a listener's accepted connections are the listener's business).
    pub fn connections(&self, port: u16) -> &[Connection] {
        if self
            .by_port
            .get(&port)
            .is_some_and(|listeners| listeners.iter().any(|listener| listener.protocol == Protocol::Tcp))
        {
            return &[];
        }
        self.connections.get(&port).map_or(&[], Vec::as_slice)
    }

    /// Who holds `port`, in words: its listeners, else the connections using it, else `None`.
    pub fn describe_holder(&self, port: u16) -> Option<String> {
        if let Some(listener) = self.holders(port).first() {
            return Some(listener.describe());
        }
        self.connections(port).first().map(Connection::describe)
    }
}

/// Every TCP socket that is neither listening nor closed: (local, remote, state, inode).
fn connections() -> Result<Vec<(SocketAddr, SocketAddr, String, u64)>, procfs::ProcError> {
    let mut found = Vec::new();
    for table in [procfs::net::tcp()?, procfs::net::tcp6()?] {
        found.extend(
            table
                .into_iter()
                .filter(|entry| !matches!(entry.state, TcpState::Listen | TcpState::Close))
                .map(|entry| (entry.local_address, entry.remote_address, format!("{:?}", entry.state), entry.inode)),
        );
    }
    Ok(found)
}

fn sockets() -> Result<Vec<(Protocol, SocketAddr, u64)>, procfs::ProcError> {
    let mut sockets = Vec::new();
    for table in [procfs::net::tcp()?, procfs::net::tcp6()?] {
        sockets.extend(
            table
                .into_iter()
                .filter(|entry| entry.state == TcpState::Listen)
                .map(|entry| (Protocol::Tcp, entry.local_address, entry.inode)),
        );
    }
    for table in [procfs::net::udp()?, procfs::net::udp6()?] {
        sockets.extend(table.into_iter().map(|entry| (Protocol::Udp, entry.local_address, entry.inode)));
    }
    Ok(sockets)
}

/// Socket inode → owning process, for every process whose descriptors can be read.
/// Processes that vanish or deny access mid-scan are skipped, not fatal.
fn socket_owners() -> HashMap<u64, Owner> {
    let mut owners = HashMap::new();
    let Ok(processes) = procfs::process::all_processes() else {
        return owners;
    };
    for process in processes.flatten() {
        let Ok(descriptors) = process.fd() else { continue };
        let name = process.stat().map(|stat| stat.comm).unwrap_or_default();
        for descriptor in descriptors.flatten() {
            if let FDTarget::Socket(inode) = descriptor.target {
                owners.entry(inode).or_insert_with(|| Owner { pid: process.pid, name: name.clone() });
            }
        }
    }
    owners
}

/// Whether `port` can be bound right now for `protocol` on every IPv4 and IPv6 address:
/// a bind test, so it sees listeners of every user, containers' published ports included.
pub fn is_free(port: u16, protocol: Protocol) -> bool {
    let bindable = |address: SocketAddr| match protocol {
        Protocol::Tcp => TcpListener::bind(address).map(drop),
        Protocol::Udp => UdpSocket::bind(address).map(drop),
    };
    let ipv4_free = bindable(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).is_ok();
    // A host without IPv6 cannot have an IPv6 listener: only "in use" counts against the port.
    let ipv6_free = match bindable(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))) {
        Ok(()) => true,
        Err(error) => error.kind() != std::io::ErrorKind::AddrInUse,
    };
    ipv4_free && ipv6_free
}

/// Whether a TCP listener could bind `port` on exactly `address`, the way the engine's
/// port publishing will: a connection whose local port it is on another address does not
/// count, and neither does one in TIME_WAIT (listeners reuse those). An address this host
/// lacks (an engine elsewhere, a typo) is left for the engine to judge, so it counts as free.
pub fn is_free_on(address: IpAddr, port: u16) -> bool {
    if address.is_unspecified() {
        return is_free(port, Protocol::Tcp);
    }
    match TcpListener::bind(SocketAddr::new(address, port)) {
        Ok(_) => true,
        Err(error) => error.kind() != std::io::ErrorKind::AddrInUse,
    }
}

/// When process `pid` started, in clock ticks since boot; `None` when it does not exist.
/// With the pid it identifies a process across pid reuse, as Google's portserver does.
pub fn process_start_time(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid).and_then(|process| process.stat()).ok().map(|stat| stat.starttime)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv6Addr, TcpListener, UdpSocket};

    use super::*;

    #[test]
    fn joins_sockets_with_their_owners_and_orders_them() {
        let sockets = vec![
            (Protocol::Udp, "0.0.0.0:5353".parse().expect("address"), 7),
            (Protocol::Tcp, "[::]:5353".parse().expect("address"), 8),
            (Protocol::Tcp, "127.0.0.1:5353".parse().expect("address"), 9),
        ];
        let owners = HashMap::from([(9, Owner { pid: 42, name: "dnsd".into() })]);
        let ports = HostPorts::from_parts(sockets, &owners);
        let holders = ports.holders(5353);
        assert_eq!(holders.len(), 3);
        assert_eq!(holders[0].address.to_string(), "127.0.0.1:5353");
        assert_eq!(holders[0].owner, Some(Owner { pid: 42, name: "dnsd".into() }));
        assert_eq!(holders[1].address.to_string(), "[::]:5353");
        assert_eq!(holders[1].owner, None);
        assert_eq!(holders[2].protocol, Protocol::Udp);
        assert!(ports.holders(5354).is_empty());
    }

    #[test]
    fn finds_this_process_on_real_tcp_and_udp_sockets() {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let tcp6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).ok();
        let ports = HostPorts::snapshot().expect("snapshot");
        let me = i32::try_from(std::process::id()).expect("pid fits");

        let tcp_port = tcp.local_addr().expect("addr").port();
        let held = ports.holders(tcp_port);
        assert!(
            held.iter().any(|listener| listener.protocol == Protocol::Tcp
                && listener.owner.as_ref().map(|owner| owner.pid) == Some(me)),
            "tcp port {tcp_port} not attributed to pid {me}: {held:?}"
        );
        let udp_port = udp.local_addr().expect("addr").port();
        assert!(
            ports.holders(udp_port).iter().any(|listener| listener.protocol == Protocol::Udp
                && listener.owner.as_ref().map(|owner| owner.pid) == Some(me))
        );
        if let Some(tcp6) = tcp6 {
            let port = tcp6.local_addr().expect("addr").port();
            assert!(ports.holders(port).iter().any(|listener| listener.address.is_ipv6()));
        }
    }

    #[test]
    fn bind_tests_see_listeners_on_any_address() {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        assert!(!is_free(port, Protocol::Tcp));
        drop(tcp);
        assert!(is_free(port, Protocol::Tcp));
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = udp.local_addr().expect("addr").port();
        assert!(!is_free(port, Protocol::Udp));
        if let Ok(tcp6) = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) {
            assert!(!is_free(tcp6.local_addr().expect("addr").port(), Protocol::Tcp));
        }
    }

    #[test]
    fn a_connection_s_local_port_is_told_from_a_listener() {
        let server = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = std::net::TcpStream::connect(server.local_addr().expect("addr")).expect("connect");
        let local = client.local_addr().expect("local");
        let ports = HostPorts::snapshot().expect("snapshot");
        assert!(ports.holders(local.port()).iter().all(|listener| listener.protocol != Protocol::Tcp));
        let holder = ports.describe_holder(local.port()).expect("held");
        assert!(
            holder.starts_with(&format!(
                "the local port of a connection to {} (Established",
                server.local_addr().expect("addr")
            )),
            "{holder}"
        );
        assert!(ports.connections(server.local_addr().expect("addr").port()).is_empty(), "a listener's own");
        // Bound to 127.0.0.1 only: the same port on another loopback address is free.
        assert!(is_free_on("127.0.0.2".parse().expect("address"), local.port()));
        assert!(!is_free_on("127.0.0.1".parse().expect("address"), local.port()));
        assert!(!is_free(local.port(), Protocol::Tcp), "the wildcard bind test counts it");
        assert!(
            is_free_on("203.0.113.7".parse().expect("address"), local.port()),
            "not this host's: the engine judges"
        );
    }

    #[test]
    fn start_times_identify_live_processes() {
        let me = i32::try_from(std::process::id()).expect("pid fits");
        assert!(process_start_time(me).is_some());
        assert_eq!(process_start_time(i32::MAX), None);
    }

    #[test]
    fn a_closed_port_has_no_holders() {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let ports = HostPorts::snapshot().expect("snapshot");
        assert!(ports.holders(port).iter().all(|listener| listener.protocol != Protocol::Tcp));
    }
}

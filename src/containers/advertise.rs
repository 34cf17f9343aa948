//! Endpoints as a client elsewhere dials them. A port published on every address
//! (`0.0.0.0`, `::`) is reported at the host's advertised address, so that a fleet lists
//! endpoints reachable from other machines; a port published on one address keeps it
//! (loopback is reachable only on the host itself, and saying so is the honest answer).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The address other machines reach this host at: an IP address or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedAddress(String);

/// Why a text is no address to advertise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is no address to advertise: give an IP address or a DNS name (h1.example.com)")]
pub struct NotAnAddress(String);

impl FromStr for AdvertisedAddress {
    type Err = NotAnAddress;

    fn from_str(text: &str) -> Result<Self, NotAnAddress> {
        let refused = || NotAnAddress(text.chars().take(80).collect());
        if let Ok(address) = text.parse::<IpAddr>() {
            if address.is_unspecified() {
                return Err(refused());
            }
            return Ok(Self(address.to_string()));
        }
        let label_fits = |label: &str| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if text.len() > 253 || !text.split('.').all(label_fits) {
            return Err(refused());
        }
        Ok(Self(text.to_ascii_lowercase()))
    }
}

impl AdvertisedAddress {
    /// `endpoint` (`address:port`) as dialled from elsewhere: at this address when it is
    /// published on every address, unchanged otherwise (or when it is not `address:port`).
    pub fn endpoint(&self, endpoint: &str) -> String {
        match endpoint.parse::<SocketAddr>() {
            Ok(published) if published.ip().is_unspecified() => match self.0.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, published.port()).to_string(),
                Err(_) => format!("{}:{}", self.0, published.port()),
            },
            _ => endpoint.to_string(),
        }
    }
}

impl std::fmt::Display for AdvertisedAddress {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advertised(text: &str) -> AdvertisedAddress {
        text.parse().expect("an address")
    }

    #[test]
    fn ports_on_every_address_are_reported_at_the_advertised_one() {
        assert_eq!(advertised("10.0.0.7").endpoint("0.0.0.0:8080"), "10.0.0.7:8080");
        assert_eq!(advertised("fd00::7").endpoint("[::]:8080"), "[fd00::7]:8080");
        assert_eq!(advertised("H1.Example.com").endpoint("0.0.0.0:9092"), "h1.example.com:9092");
    }

    #[test]
    fn ports_on_one_address_keep_it() {
        let address = advertised("10.0.0.7");
        assert_eq!(address.endpoint("127.0.0.1:6379"), "127.0.0.1:6379");
        assert_eq!(address.endpoint("10.0.0.9:6379"), "10.0.0.9:6379");
        assert_eq!(address.endpoint("not an endpoint"), "not an endpoint");
    }

    #[test]
    fn what_no_client_can_dial_is_refused() {
        for bad in ["", "0.0.0.0", "::", "a..b", "-h1", "h1-", "h_1", "h1:80", "10.0.0.7/24", &"a".repeat(64)] {
            let refused = bad.parse::<AdvertisedAddress>().expect_err(bad).to_string();
            assert!(refused.contains("is no address to advertise"), "{bad}: {refused}");
        }
        assert!("a.".repeat(128).trim_end_matches('.').parse::<AdvertisedAddress>().is_err(), "over 253");
    }
}

//! berth's Temporal workflow definitions and the types its activities exchange.
//!
//! The activity inputs are a public contract: workflows written in any Temporal SDK send
//! them as JSON, the way seed 001's Python workflows send `{"instance_id": 1}`.

use serde::{Deserialize, Serialize};

/// Input of `start_service` and `stop_service`; `start_<service>_activity` takes the same
/// object without `service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInstance {
    /// The registry service (`kafka`); implied by the activity name for `start_kafka_activity`.
    #[serde(default)]
    pub service: Option<String>,
    /// The instance id; 0 when left out, as in seed 001.
    #[serde(default)]
    pub instance_id: u32,
    /// The environment; the registry's first when left out.
    #[serde(default)]
    pub env: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::ServiceInstance;

    #[test]
    fn seed_001_parameters_decode() {
        let input: ServiceInstance = serde_json::from_str(r#"{"instance_id": 1}"#).expect("decodes");
        assert_eq!(input, ServiceInstance { service: None, instance_id: 1, env: None });
        let empty: ServiceInstance = serde_json::from_str("{}").expect("decodes");
        assert_eq!(empty.instance_id, 0);
    }
}

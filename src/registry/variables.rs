//! Environment variable names for slots: `KAFKA_BROKER_PORT` for instance 0,
//! `KAFKA_1_BROKER_PORT` for instance 1.
//!
//! One function names them, so the names the exports write and the names the
//! `PortManager` reads as overrides can never drift apart. A port key may name its own
//! variable with `env_var:`; instance N then adds `_N` (`CONTIMG_API_PORT_1`).

use super::model::{PortKey, Service};

/// The variable that carries (and overrides) the port of `service`'s `key` on `instance`,
/// honouring the key's `env_var:`.
pub fn slot_variable(service: &Service, key: &PortKey, instance: u16) -> String {
    match (&key.variable, instance) {
        (Some(variable), 0) => variable.clone(),
        (Some(variable), _) => format!("{variable}_{instance}"),
        (None, _) => variable_name(&service.name, instance, &key.name),
    }
}

/// The variable that carries (and overrides) the port of `service`'s `key` on `instance`.
pub fn variable_name(service: &str, instance: u16, key: &str) -> String {
    let service = shout(service);
    let key = shout(key);
    if instance == 0 { format!("{service}_{key}") } else { format!("{service}_{instance}_{key}") }
}

/// Upper case, with every character a shell variable cannot hold turned into `_`.
fn shout(name: &str) -> String {
    name.chars()
        .map(|character| if character.is_ascii_alphanumeric() { character.to_ascii_uppercase() } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::variable_name;

    #[test]
    fn names_follow_the_seed_convention() {
        assert_eq!(variable_name("kafka", 0, "broker_port"), "KAFKA_BROKER_PORT");
        assert_eq!(variable_name("kafka", 1, "broker_port"), "KAFKA_1_BROKER_PORT");
        assert_eq!(variable_name("redis", 0, "port"), "REDIS_PORT");
        assert_eq!(variable_name("http-server", 2, "port"), "HTTP_SERVER_2_PORT");
    }
}

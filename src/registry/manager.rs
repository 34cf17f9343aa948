//! The process-wide `PortManager`: the one answer to "which port does this slot get?".
//!
//! It is built once per process from the registry file ([`PortManager::global`]); a registry
//! that fails validation is refused, so a port handed out by berth is always part of a
//! proven collision-free map. Lookups return typed errors that say what would have been
//! valid, honour `KAFKA_1_BROKER_PORT`-style overrides from the environment, and emit one
//! `port_manager_port_allocated` event each. It does not check whether the port is free on
//! the host: that is the ledger's and the probe's job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use once_cell::sync::OnceCell;

use super::load::{self, LoadError};
use super::model::{Environment, OnConflict, Registry, Service, Slot};
use super::overrides::Overrides;
use super::suggest::did_you_mean;
use super::validate::{Finding, validate};
use super::variables::slot_variable;

static GLOBAL: OnceCell<PortManager> = OnceCell::new();

/// Why a `PortManager` could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The registry could not be found, read or parsed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The registry loaded but has errors such as collisions.
    #[error(
        "port registry {} has {errors} error(s), the first: {first}; run `berth check --registry {}` to see them all",
        path.display(), path.display()
    )]
    Invalid {
        /// The registry file.
        path: PathBuf,
        /// How many errors validation found.
        errors: usize,
        /// The first of them.
        first: String,
    },
}

/// Why a lookup failed; each says what would have been valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No service of that name.
    #[error("unknown service `{service}`{}; run `berth ports` to list the services", hint(suggestion.as_deref()))]
    UnknownService {
        /// The name asked for.
        service: String,
        /// The closest known service, if any is close.
        suggestion: Option<String>,
    },
    /// The service has no such port key.
    #[error("service `{service}` has no port key `{key}`; its keys are {}", quoted(valid))]
    UnknownKey {
        /// The service.
        service: String,
        /// The key asked for.
        key: String,
        /// The keys it does have.
        valid: Vec<String>,
    },
    /// No key was named and the service has several.
    #[error("service `{service}` has several ports; name one of {}", quoted(valid))]
    KeyRequired {
        /// The service.
        service: String,
        /// The keys to choose from.
        valid: Vec<String>,
    },
    /// The instance id is not below `max_instances`.
    #[error(
        "instance {instance} of `{service}` is out of range: it allows instances 0 to {} (max_instances: {max_instances})",
        max_instances.saturating_sub(1)
    )]
    InstanceOutOfRange {
        /// The service.
        service: String,
        /// The instance asked for.
        instance: u32,
        /// The service's limit.
        max_instances: u16,
    },
    /// No environment of that name.
    #[error("unknown environment `{environment}`{}; the registry defines {}", hint(suggestion.as_deref()), quoted(valid))]
    UnknownEnvironment {
        /// The name asked for.
        environment: String,
        /// The closest known environment, if any is close.
        suggestion: Option<String>,
        /// The environments the registry has.
        valid: Vec<String>,
    },
    /// The computed port lies beyond 65535.
    #[error("{slot} computes to {port}, beyond 65535; run `berth check` and fix the registry")]
    Overflow {
        /// The slot, written `kafka[9].broker_port`.
        slot: String,
        /// The port it computes to.
        port: u32,
    },
    /// An override variable holds something that is not a usable port, or a port this slot
    /// cannot take.
    #[error("environment variable {variable}={value:?} cannot set the port of {slot}: {reason}; fix or unset it")]
    BadOverride {
        /// The slot, written `kafka[1].broker_port`.
        slot: String,
        /// The variable's name.
        variable: String,
        /// Its value.
        value: String,
        /// What is wrong with the value.
        reason: String,
    },
}

fn hint(suggestion: Option<&str>) -> String {
    suggestion.map(|name| format!(" (did you mean `{name}`?)")).unwrap_or_default()
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// One resolved port and how it came about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResolvedPort {
    /// The service (`kafka`).
    pub service: String,
    /// The instance id.
    pub instance: u16,
    /// The port key (`broker_port`).
    pub key: String,
    /// The environment the port was computed for.
    pub environment: String,
    /// The port to use.
    pub port: u16,
    /// The key's base port.
    pub base: u16,
    /// The service's instance increment.
    pub increment: u16,
    /// The environment variable that carries this port (`KAFKA_1_BROKER_PORT`); setting it
    /// overrides the computed port.
    pub variable: String,
    /// The variable that overrode the computed port, if one did.
    pub overridden_by: Option<String>,
    /// The port this one stands in for, when another process held that one and `port` is
    /// the key's fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_for: Option<u16>,
}

/// Resolves slots to ports; see the module docs.
#[derive(Debug)]
pub struct PortManager {
    registry: Registry,
    path: PathBuf,
    overrides: Overrides,
    /// What is wrong with each slot an override moved somewhere it cannot be.
    override_problems: HashMap<Slot, String>,
}

/// A `PortManager` seen through one environment.
#[derive(Debug, Clone, Copy)]
pub struct EnvironmentView<'a> {
    manager: &'a PortManager,
    environment: &'a Environment,
}

impl PortManager {
    /// The process-wide manager, built on first use from `explicit` (`--registry`), else
    /// `BERTH_REGISTRY`, else the nearest `dynamicconfig/port_registry.yaml`; overrides come
    /// from the process environment. Later calls return the first manager and ignore `explicit`.
    pub fn global(explicit: Option<&Path>) -> Result<&'static PortManager, ManagerError> {
        GLOBAL.get_or_try_init(|| {
            let path = load::locate(explicit)?;
            Self::load(&path, super::overrides::process_variables())
        })
    }

    /// Loads and validates the registry at `path`, with `overrides` as the variables to honour.
    pub fn load(path: &Path, overrides: HashMap<String, String>) -> Result<Self, ManagerError> {
        let registry = load::load_file(path)?;
        Self::new(registry, path.to_path_buf(), overrides)
    }

    /// A manager over an already loaded registry; refused when validation finds errors.
    /// Overrides among `variables` that cannot work make only their own slots unusable.
    pub fn new(registry: Registry, path: PathBuf, variables: HashMap<String, String>) -> Result<Self, ManagerError> {
        let report = validate(&registry);
        if report.errors() > 0 {
            let first = report
                .findings
                .iter()
                .find(|finding| finding.severity() == super::validate::Severity::Error)
                .map(|finding| finding.message(&registry))
                .unwrap_or_default();
            return Err(ManagerError::Invalid { path, errors: report.errors(), first });
        }
        let overrides = Overrides::read(&registry, &variables);
        for ignored in overrides.ignored() {
            tracing::info!(variable = %ignored.variable, value = %ignored.value, reason = ignored.reason, "override_ignored");
        }
        let mut override_problems: HashMap<Slot, String> = HashMap::new();
        for finding in overrides.findings(&registry) {
            if let Finding::Override { slot, problem, .. } = finding {
                override_problems.entry(slot).or_insert(problem);
            }
        }
        Ok(Self { registry, path, overrides, override_problems })
    }

    /// The overrides read from the variables this manager was given.
    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// The registry behind this manager.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The file the registry came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The view for `environment`, or the registry's default environment when `None`.
    pub fn environment(&self, environment: Option<&str>) -> Result<EnvironmentView<'_>, LookupError> {
        let Some(name) = environment else {
            return Ok(EnvironmentView { manager: self, environment: self.registry.default_environment() });
        };
        let found = self.registry.environment(name).ok_or_else(|| {
            let names = self.registry.environments.iter().map(|environment| environment.name.as_str());
            LookupError::UnknownEnvironment {
                environment: name.to_string(),
                suggestion: did_you_mean(name, names.clone()).map(str::to_string),
                valid: names.map(str::to_string).collect(),
            }
        })?;
        Ok(EnvironmentView { manager: self, environment: found })
    }

    /// The port of `service`'s `key` on `instance` in the default environment.
    pub fn get_port(&self, service: &str, instance: u32, key: &str) -> Result<u16, LookupError> {
        self.environment(None)?.get_port(service, instance, key)
    }

    /// Every port of `service` on `instance` in the default environment, in key order.
    pub fn instance_ports(&self, service: &str, instance: u32) -> Result<Vec<ResolvedPort>, LookupError> {
        self.environment(None)?.instance_ports(service, instance)
    }

    /// What a lookup or start of `resolved`'s key does when another process holds its port.
    pub fn on_conflict(&self, resolved: &ResolvedPort) -> OnConflict {
        self.registry
            .service(&resolved.service)
            .and_then(|service| service.port_key(&resolved.key))
            .map_or(OnConflict::Ignore, |key| key.on_conflict)
    }

    /// Whether any port key of the registry falls back inside a range.
    pub fn has_fallbacks(&self) -> bool {
        self.registry.services.iter().flat_map(|service| &service.ports).any(|key| key.fallback().is_some())
    }

    /// The service called `name`, or an error suggesting the closest one.
    pub fn service(&self, name: &str) -> Result<&Service, LookupError> {
        self.registry.service(name).ok_or_else(|| LookupError::UnknownService {
            service: name.to_string(),
            suggestion: did_you_mean(name, self.registry.services.iter().map(|service| service.name.as_str()))
                .map(str::to_string),
        })
    }
}

impl<'a> EnvironmentView<'a> {
    /// The environment this view resolves in.
    pub fn environment(&self) -> &'a Environment {
        self.environment
    }

    /// The port of `service`'s `key` on `instance`.
    pub fn get_port(&self, service: &str, instance: u32, key: &str) -> Result<u16, LookupError> {
        self.resolve(service, instance, Some(key)).map(|resolved| resolved.port)
    }

    /// The port of `service`'s `key` (or its only key when `None`) on `instance`, with its provenance.
    pub fn resolve(&self, service: &str, instance: u32, key: Option<&str>) -> Result<ResolvedPort, LookupError> {
        let found = self.manager.service(service)?;
        let instance = checked_instance(found, instance)?;
        let key = match key {
            Some(key) => found.port_key(key).ok_or_else(|| LookupError::UnknownKey {
                service: found.name.clone(),
                key: key.to_string(),
                valid: key_names(found),
            })?,
            None => match found.ports.as_slice() {
                [only] => only,
                _ => {
                    return Err(LookupError::KeyRequired { service: found.name.clone(), valid: key_names(found) });
                }
            },
        };
        self.resolve_key(found, instance, &key.name)
    }

    /// Every port of `service` on `instance`, in key order, each on its own: a bad override
    /// spoils only its own key. Fails as a whole only for an unknown service or instance.
    pub fn each_instance_port(
        &self,
        service: &str,
        instance: u32,
    ) -> Result<Vec<Result<ResolvedPort, LookupError>>, LookupError> {
        let found = self.manager.service(service)?;
        let instance = checked_instance(found, instance)?;
        Ok(found.ports.iter().map(|key| self.resolve_key(found, instance, &key.name)).collect())
    }

    /// Every port of `service` on `instance`, in key order.
    pub fn instance_ports(&self, service: &str, instance: u32) -> Result<Vec<ResolvedPort>, LookupError> {
        let found = self.manager.service(service)?;
        let instance = checked_instance(found, instance)?;
        found.ports.iter().map(|key| self.resolve_key(found, instance, &key.name)).collect()
    }

    /// Every port of `service` on `instance`, in key order, for views that only show them:
    /// not counted as allocations and not logged.
    pub fn instance_ports_quietly(&self, service: &str, instance: u32) -> Result<Vec<ResolvedPort>, LookupError> {
        let found = self.manager.service(service)?;
        let instance = checked_instance(found, instance)?;
        found.ports.iter().map(|key| self.compute_key(found, instance, &key.name)).collect()
    }

    /// [`Self::compute_key`], counted in `berth_port_allocations_total` and logged.
    fn resolve_key(&self, service: &Service, instance: u16, key_name: &str) -> Result<ResolvedPort, LookupError> {
        let resolved = self.compute_key(service, instance, key_name)?;
        crate::metrics::METRICS.port_allocations.with_label_values(&[service.name.as_str(), key_name]).inc();
        tracing::info!(
            service = %service.name,
            instance,
            "type" = %key_name,
            port = resolved.port,
            base = resolved.base,
            increment = service.instance_increment,
            environment = %self.environment.name,
            overridden_by = resolved.overridden_by.as_deref(),
            "port_manager_port_allocated"
        );
        Ok(resolved)
    }

    fn compute_key(&self, service: &Service, instance: u16, key_name: &str) -> Result<ResolvedPort, LookupError> {
        let key = service.port_key(key_name).ok_or_else(|| LookupError::UnknownKey {
            service: service.name.clone(),
            key: key_name.to_string(),
            valid: key_names(service),
        })?;
        let variable = slot_variable(service, key, instance);
        let registry = &self.manager.registry;
        let slot = Slot {
            service: registry.services.iter().position(|candidate| candidate.name == service.name).unwrap_or_default(),
            environment: registry
                .environments
                .iter()
                .position(|candidate| candidate.name == self.environment.name)
                .unwrap_or_default(),
            instance,
            key: service.ports.iter().position(|candidate| candidate.name == key.name).unwrap_or_default(),
        };
        let (port, overridden_by) = match self.manager.overrides.get(slot) {
            Some(found) => {
                let bad = |reason: &str| LookupError::BadOverride {
                    slot: registry.describe(slot),
                    variable: found.variable.clone(),
                    value: found.value.clone(),
                    reason: reason.to_string(),
                };
                match (&found.port, self.manager.override_problems.get(&slot)) {
                    (Ok(port), None) => (*port, Some(variable.clone())),
                    (Err(reason), _) | (Ok(_), Some(reason)) => return Err(bad(reason)),
                }
            }
            None => {
                let computed = service.port_of(key, self.environment.offset, instance);
                let port = u16::try_from(computed).map_err(|_| LookupError::Overflow {
                    slot: format!("{}[{instance}].{}", service.name, key.name),
                    port: computed,
                })?;
                (port, None)
            }
        };
        Ok(ResolvedPort {
            service: service.name.clone(),
            instance,
            key: key.name.clone(),
            environment: self.environment.name.clone(),
            port,
            base: key.base,
            increment: service.instance_increment,
            variable,
            overridden_by,
            fallback_for: None,
        })
    }
}

fn checked_instance(service: &Service, instance: u32) -> Result<u16, LookupError> {
    u16::try_from(instance).ok().filter(|id| *id < service.max_instances).ok_or_else(|| {
        LookupError::InstanceOutOfRange {
            service: service.name.clone(),
            instance,
            max_instances: service.max_instances,
        }
    })
}

fn key_names(service: &Service) -> Vec<String> {
    service.ports.iter().map(|key| key.name.clone()).collect()
}

#[cfg(test)]
mod tests;

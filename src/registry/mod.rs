//! The port registry: load it, prove it collision-free, resolve slots to ports.
//!
//! [`load_file`] reads `dynamicconfig/port_registry.yaml` into a [`Registry`];
//! [`validate`] checks every slot and returns a [`Report`]; [`PortManager`] is the
//! process-wide resolver built on both. Everything but `load` and the global manager is pure.

mod container;
mod load;
mod manager;
mod model;
pub(crate) mod names;
mod overrides;
mod ports_file;
mod schema;
mod stacks;
mod suggest;
mod validate;
mod variables;

pub use container::{
    ContainerSection, DEFAULT_READY_TIMEOUT, MAXIMUM_READY_TIMEOUT, PLACEHOLDERS, Ready, StackReference, expand,
};
pub use load::{
    LoadError, MAXIMUM_FILE_BYTES, MAXIMUM_NESTING, MAXIMUM_SERVICES, MAXIMUM_SLOTS, REGISTRY_PATH, REGISTRY_VARIABLE,
    load_file, locate, parse,
};
pub use manager::{EnvironmentView, LookupError, ManagerError, PortManager, ResolvedPort};
pub use model::{
    DEFAULT_ENVIRONMENT, DEFAULT_INSTANCE_INCREMENT, DEFAULT_MAX_INSTANCES, Environment, NamedRange, OnConflict,
    PortKey, PortRange, Registry, Reservation, Service, Slot, Stack,
};
pub use names::{container_name, network_name, volume_name};
pub use overrides::{Ignored, Override, Overrides, process_variables};
pub use schema::parse_range;
pub use stacks::{dependency_cycles, stack_problems};
pub use suggest::did_you_mean;
pub use validate::{Finding, FindingCode, Report, Severity, ephemeral_findings, kernel_reserved_ports, validate};
pub use variables::{slot_variable, variable_name};

//! The thin edge to the Docker engine (bollard): the handful of calls berth makes, each
//! turning Docker's answers into berth's typed errors.
//!
//! No decisions are made here; `start` decides whether to adopt, start or create.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, EndpointSettings, HealthStatusEnum, HostConfig,
    Mount, MountType, NetworkCreateRequest, NetworkingConfig, PortBinding as DockerPortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::StartError;
use super::engine_target::{Endpoint, EngineTarget};
use super::images::{PULL_STALL, PullFailure, PullStep, Pulls, classify_pull_failure};
use super::keyed::Keyed;
use super::ownership::RUN_LABEL;
use super::spec::{InstanceSpec, MANAGED_LABEL};

/// How long `docker stop` waits before killing; with an init process stop takes milliseconds.
const STOP_TIMEOUT_SECONDS: i32 = 10;
/// How long the engine may take to answer the first ping.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one request to the engine may take before it counts as unanswered.
const REQUEST_TIMEOUT_SECONDS: u64 = 120;

/// A connection to the Docker engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    target: EngineTarget,
    id: String,
    pulls: std::sync::Arc<Pulls>,
    network_locks: std::sync::Arc<Keyed<()>>,
}

/// A network found by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundNetwork {
    /// Its id.
    pub id: String,
    /// When it was made, as far as the engine says.
    pub created: Option<std::time::SystemTime>,
    /// Its labels.
    pub labels: HashMap<String, String>,
}

/// What berth needs to know about an existing container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    /// Container id.
    pub id: String,
    /// Whether it is running.
    pub running: bool,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// Its address on its first network (for readiness checks from the host).
    pub address: Option<IpAddr>,
    /// Exit code, once it has exited.
    pub exit_code: Option<i64>,
    /// HEALTHCHECK status, when the image has one.
    pub health: Option<HealthStatusEnum>,
}

fn not_found(error: &DockerError) -> bool {
    matches!(error, DockerError::DockerResponseServerError { status_code: 404, .. })
}

impl Engine {
    /// Docker's failure on `subject`: an engine that no longer answers is said as such,
    /// naming it, for it is what the person must fix.
    fn failed(&self, subject: &str, error: DockerError) -> StartError {
        let failed = StartError::docker(subject, error);
        match failed {
            StartError::Docker { subject, source } if super::failed_kind_is_unreachable(&source) => {
                StartError::EngineUnreachable {
                    engine: self.target().to_string(),
                    detail: format!("{subject}: {source}"),
                }
            }
            other => other,
        }
    }

    /// Connects to exactly `target` and checks that it answers; nothing else is tried.
    pub async fn connect(target: &EngineTarget) -> Result<Self, StartError> {
        let unreachable = |error: DockerError| StartError::EngineUnreachable {
            engine: target.to_string(),
            detail: error.to_string(),
        };
        let version = bollard::API_DEFAULT_VERSION;
        let docker = match &target.endpoint {
            Endpoint::Unix(path) => {
                Docker::connect_with_unix(&path.to_string_lossy(), REQUEST_TIMEOUT_SECONDS, version)
            }
            Endpoint::Http(address) => Docker::connect_with_http(address, REQUEST_TIMEOUT_SECONDS, version),
            Endpoint::Https { address, certificates } => Docker::connect_with_ssl(
                address,
                &certificates.join("key.pem"),
                &certificates.join("cert.pem"),
                &certificates.join("ca.pem"),
                REQUEST_TIMEOUT_SECONDS,
                version,
            ),
        }
        .map_err(unreachable)?;
        match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
            Ok(answer) => answer.map_err(unreachable)?,
            Err(_) => {
                return Err(StartError::EngineUnreachable {
                    engine: target.to_string(),
                    detail: format!("it accepted the connection but did not answer within {}s", PING_TIMEOUT.as_secs()),
                });
            }
        };
        let id = docker.info().await.map_err(unreachable)?.id.unwrap_or_default();
        Ok(Self {
            docker,
            target: target.clone(),
            id,
            pulls: std::sync::Arc::default(),
            network_locks: std::sync::Arc::default(),
        })
    }

    /// The engine's own ID (`docker info`), the same whichever address reaches it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The engine this connection talks to.
    pub fn target(&self) -> &EngineTarget {
        &self.target
    }

    /// This process's pulls through this engine.
    pub(super) fn pulls(&self) -> &Pulls {
        &self.pulls
    }

    /// Pulls `image` for `service`, reporting each step; fails as `ImageMissing` when the
    /// registry has no such image and `RegistryUnreachable` when it does not answer, or when
    /// the engine reports nothing for [`PULL_STALL`].
    pub async fn pull(
        &self,
        image: &str,
        service: &str,
        credentials: Option<bollard::auth::DockerCredentials>,
        progress: &(dyn Fn(PullStep) + Send + Sync),
    ) -> Result<(), StartError> {
        let options = bollard::query_parameters::CreateImageOptionsBuilder::new().from_image(image).build();
        let mut steps = self.docker.create_image(Some(options), None, credentials);
        let failed = |status: Option<u16>, message: String| {
            let detail = message.trim().to_string();
            match classify_pull_failure(status, &detail) {
                PullFailure::Missing => StartError::ImageMissing {
                    image: image.to_string(),
                    service: service.to_string(),
                    reason: format!("its registry has no such image ({detail})"),
                    remedy: "check the image name and tag in the registry file (and the image mirror), or `docker login` if the registry needs it".to_string(),
                },
                PullFailure::Damaged => StartError::ImageMissing {
                    image: image.to_string(),
                    service: service.to_string(),
                    reason: format!("its registry holds the image's manifest but not all of its layers ({detail})"),
                    remedy: "the registry is damaged: push the image to it again".to_string(),
                },
                PullFailure::Unreachable => StartError::RegistryUnreachable {
                    image: image.to_string(),
                    service: service.to_string(),
                    detail,
                },
                PullFailure::Other => self.failed(image, DockerError::DockerStreamError { error: detail }),
            }
        };
        loop {
            let step = match tokio::time::timeout(PULL_STALL, steps.next()).await {
                Err(_) => {
                    return Err(StartError::RegistryUnreachable {
                        image: image.to_string(),
                        service: service.to_string(),
                        detail: format!("the pull made no progress for {}s", PULL_STALL.as_secs()),
                    });
                }
                Ok(None) => return Ok(()),
                Ok(Some(step)) => step,
            };
            match step {
                Ok(info) => progress(PullStep {
                    image: image.to_string(),
                    layer: info.id,
                    status: info.status.unwrap_or_default(),
                    bytes: info.progress_detail.and_then(|detail| {
                        let done = u64::try_from(detail.current?).ok()?;
                        let total = u64::try_from(detail.total?).ok()?;
                        Some((done, total))
                    }),
                }),
                Err(DockerError::DockerResponseServerError { status_code, message }) => {
                    return Err(failed(Some(status_code), message));
                }
                Err(DockerError::DockerStreamError { error }) => return Err(failed(None, error)),
                Err(
                    error @ (DockerError::IOError { .. }
                    | DockerError::HyperResponseError { .. }
                    | DockerError::RequestTimeoutError),
                ) => {
                    return Err(StartError::EngineUnreachable {
                        engine: self.target.to_string(),
                        detail: error.to_string(),
                    });
                }
                Err(error) => return Err(self.failed(image, error)),
            }
        }
    }

    /// Whether `image` is on the host.
    pub async fn has_image(&self, image: &str) -> Result<bool, StartError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(error) if not_found(&error) => Ok(false),
            Err(error) => Err(self.failed(image, error)),
        }
    }

    /// The container called `name`, if there is one.
    pub async fn inspect(&self, name: &str) -> Result<Option<Existing>, StartError> {
        match self.docker.inspect_container(name, None).await {
            Ok(response) => Ok(Some(existing(response))),
            Err(error) if not_found(&error) => Ok(None),
            Err(error) => Err(self.failed(name, error)),
        }
    }

    /// The labels of volume `name`, if it exists.
    pub async fn volume_labels(&self, name: &str) -> Result<Option<HashMap<String, String>>, StartError> {
        match self.docker.inspect_volume(name).await {
            Ok(volume) => Ok(Some(volume.labels)),
            Err(error) if not_found(&error) => Ok(None),
            Err(error) => Err(self.failed(name, error)),
        }
    }

    /// Creates volume `name` with the spec's labels and `run`'s.
    pub async fn create_volume(&self, name: &str, spec: &InstanceSpec, run: &str) -> Result<(), StartError> {
        let request =
            VolumeCreateRequest { name: Some(name.to_string()), labels: Some(labels(spec, run)), ..Default::default() };
        self.docker.create_volume(request).await.map_err(|error| self.failed(name, error))?;
        Ok(())
    }

    /// Creates the spec's container on network `network` (an id), labelled with `run`; `None`
    /// when a container of that name appeared meanwhile (another berth starting the same
    /// instance) or the network went away (a stop removed it).
    pub async fn create(&self, spec: &InstanceSpec, run: &str, network: &str) -> Result<Option<String>, StartError> {
        let port_key = |container_port: u16| format!("{container_port}/tcp");
        let mut bindings: HashMap<String, Option<Vec<DockerPortBinding>>> = HashMap::new();
        for binding in &spec.ports {
            bindings
                .entry(port_key(binding.container_port))
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_default()
                .push(DockerPortBinding {
                    host_ip: Some(binding.host_address.to_string()),
                    host_port: Some(binding.host_port.to_string()),
                });
        }
        let mounts = spec
            .volumes
            .iter()
            .map(|mount| Mount {
                target: Some(mount.path.clone()),
                source: Some(mount.volume.clone()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.command.clone(),
            env: Some(spec.env.iter().map(|(name, value)| format!("{name}={value}")).collect()),
            exposed_ports: Some(bindings.keys().cloned().collect()),
            labels: Some(labels(spec, run)),
            host_config: Some(HostConfig {
                port_bindings: Some(bindings),
                mounts: Some(mounts),
                init: Some(true),
                network_mode: Some(network.to_string()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_string(),
                    EndpointSettings { aliases: Some(vec![spec.service.clone()]), ..Default::default() },
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&spec.container_name).build();
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => Ok(Some(created.id)),
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => Ok(None),
            Err(DockerError::DockerResponseServerError { status_code: 404, message })
                if message.contains("network") =>
            {
                Ok(None)
            }
            Err(error) => Err(self.failed(&spec.container_name, error)),
        }
    }

    /// The networks called exactly `name`, oldest first (engines before Docker 25 let two
    /// creations of one name both succeed, so there may be several).
    pub async fn networks_named(&self, name: &str) -> Result<Vec<FoundNetwork>, StartError> {
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let options = bollard::query_parameters::ListNetworksOptions { filters: Some(filters) };
        let listed = self.docker.list_networks(Some(options)).await.map_err(|error| self.failed(name, error))?;
        let mut found: Vec<FoundNetwork> = listed
            .into_iter()
            .filter(|network| network.name.as_deref() == Some(name))
            .map(|network| FoundNetwork {
                id: network.id.unwrap_or_default(),
                created: network.created.as_deref().and_then(|text| humantime::parse_rfc3339_weak(text).ok()),
                labels: network.labels.unwrap_or_default(),
            })
            .collect();
        found.sort_by(|left, right| (left.created, &left.id).cmp(&(right.created, &right.id)));
        Ok(found)
    }

    /// How many containers, running or not, use network `network`: a stopped container
    /// keeps its place on the network and needs it to start again. The engine knows a
    /// container created but never started by the network's name only, so with `name` those
    /// count too (which is only exact while the name is not shared by two networks).
    pub async fn containers_on(&self, network: &FoundNetwork, name: Option<&str>) -> Result<usize, StartError> {
        let mut users = std::collections::HashSet::new();
        for key in std::iter::once(network.id.as_str()).chain(name) {
            let filters = HashMap::from([("network".to_string(), vec![key.to_string()])]);
            let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
            let listed = self.docker.list_containers(Some(options)).await.map_err(|error| self.failed(key, error))?;
            users.extend(listed.into_iter().filter_map(|container| container.id));
        }
        Ok(users.len())
    }

    /// Network `name` (the oldest of that name) with how many containers use it, if it exists.
    pub async fn network(&self, name: &str) -> Result<Option<(FoundNetwork, usize)>, StartError> {
        let Some(oldest) = self.networks_named(name).await?.into_iter().next() else { return Ok(None) };
        let users = self.containers_on(&oldest, Some(name)).await?;
        Ok(Some((oldest, users)))
    }

    /// This process's locks on network names, so its own starts create a network once.
    pub(super) fn network_locks(&self) -> &Keyed<()> {
        &self.network_locks
    }

    /// Creates the spec's stack network, labelled with its environment, instance and `run`;
    /// its id, or `None` when the engine refused a second network of that name.
    pub async fn create_network(&self, spec: &InstanceSpec, run: &str) -> Result<Option<String>, StartError> {
        let mut labels = network_labels(spec);
        labels.insert(RUN_LABEL.to_string(), run.to_string());
        let request = NetworkCreateRequest {
            name: spec.network.clone(),
            driver: Some("bridge".to_string()),
            labels: Some(labels),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(created) => Ok(Some(created.id)),
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => Ok(None),
            Err(error) => Err(self.failed(&spec.network, error)),
        }
    }

    /// Removes network `name` (a name or an id) when no container uses it; `false` when it
    /// was missing or still in use (a container attached meanwhile keeps it).
    pub async fn remove_network(&self, name: &str) -> Result<bool, StartError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(true),
            Err(error) if not_found(&error) => Ok(false),
            Err(DockerError::DockerResponseServerError { status_code: 403 | 409, .. }) => Ok(false),
            Err(error) => Err(self.failed(name, error)),
        }
    }

    /// Writes the spec's files into its created, not yet started container.
    pub async fn write_files(&self, spec: &InstanceSpec) -> Result<(), StartError> {
        if spec.files.is_empty() {
            return Ok(());
        }
        let mut archive = tar::Builder::new(Vec::new());
        for (path, content) in &spec.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            archive.append_data(&mut header, path.trim_start_matches('/'), content.as_bytes()).map_err(|error| {
                StartError::Spec(super::SpecError::Invalid {
                    service: spec.service.clone(),
                    problem: format!("file {path} cannot be packed: {error}"),
                })
            })?;
        }
        let bytes = archive.into_inner().map_err(|error| {
            StartError::Spec(super::SpecError::Invalid {
                service: spec.service.clone(),
                problem: format!("files cannot be packed: {error}"),
            })
        })?;
        let options = bollard::query_parameters::UploadToContainerOptionsBuilder::new().path("/").build();
        self.docker
            .upload_to_container(&spec.container_name, Some(options), bollard::body_full(bytes::Bytes::from(bytes)))
            .await
            .map_err(|error| match error {
                // The image's own filesystem refused a path (`/bin/sh/x`): the same every time.
                DockerError::DockerResponseServerError { message, .. } => StartError::Spec(super::SpecError::Invalid {
                    service: spec.service.clone(),
                    problem: format!("its files cannot be written into {}: {message}", spec.image),
                }),
                other => self.failed(&spec.container_name, other),
            })
    }

    /// Renames the container `name` (a name or an id) to `new_name`.
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<(), StartError> {
        let options = bollard::query_parameters::RenameContainerOptions { name: new_name.to_string() };
        self.docker.rename_container(name, options).await.map_err(|error| self.failed(name, error))
    }

    /// Starts the container `name` (a name or an id) as it is.
    pub async fn start_existing(&self, name: &str) -> Result<(), StartError> {
        self.docker.start_container(name, None).await.map_err(|error| self.failed(name, error))
    }

    /// Stops the container `name` and keeps it; a missing or stopped one is fine.
    pub async fn stop(&self, name: &str) -> Result<(), StartError> {
        let stop = StopContainerOptionsBuilder::new().t(STOP_TIMEOUT_SECONDS).build();
        match self.docker.stop_container(name, Some(stop)).await {
            Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(error) if not_found(&error) => Ok(()),
            Err(error) => Err(self.failed(name, error)),
        }
    }

    /// Starts the container; Docker's own port conflicts come back as `StartError::PortTaken`.
    pub async fn start(&self, spec: &InstanceSpec) -> Result<(), StartError> {
        self.docker.start_container(&spec.container_name, None).await.map_err(|error| {
            let text = error.to_string();
            if text.contains("port is already allocated") || text.contains("address already in use") {
                let port = spec.ports.iter().find(|binding| text.contains(&format!(":{}", binding.host_port)));
                StartError::PortTaken {
                    port: port.map_or(0, |binding| binding.host_port),
                    slot: port.map_or_else(|| spec.label(), |binding| format!("{}.{}", spec.label(), binding.key)),
                    holder: format!("Docker refused: {text}"),
                }
            } else {
                self.failed(&spec.container_name, error)
            }
        })
    }

    /// Stops (if running) and removes the container `name` (a name or an id); a missing
    /// container is fine.
    pub async fn remove(&self, name: &str) -> Result<bool, StartError> {
        self.stop(name).await?;
        let remove = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(remove)).await {
            Ok(()) => Ok(true),
            Err(error) if not_found(&error) => Ok(false),
            Err(error) => Err(self.failed(name, error)),
        }
    }

    /// Removes the volume `name`; a missing volume is fine, one another container uses is
    /// `VolumeInUse`.
    pub async fn remove_volume(&self, name: &str) -> Result<bool, StartError> {
        let options = RemoveVolumeOptionsBuilder::new().force(true).build();
        match self.docker.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(true),
            Err(error) if not_found(&error) => Ok(false),
            Err(DockerError::DockerResponseServerError { status_code: 409, message }) => {
                Err(StartError::VolumeInUse { volume: name.to_string(), detail: message })
            }
            Err(error) => Err(self.failed(name, error)),
        }
    }

    /// Every container berth manages, running or not, optionally only one environment's.
    pub async fn managed(&self, environment: Option<&str>) -> Result<Vec<ContainerSummary>, StartError> {
        let mut labels = vec![format!("{MANAGED_LABEL}=true")];
        labels.extend(environment.map(|environment| format!("{}={environment}", super::spec::ENVIRONMENT_LABEL)));
        let filters = HashMap::from([("label".to_string(), labels)]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        self.docker.list_containers(Some(options)).await.map_err(|error| self.failed("managed containers", error))
    }

    /// The running containers that publish `port` on the host (through docker-proxy), with
    /// their labels: berth's or anybody's.
    pub async fn publishing(&self, port: u16) -> Result<Vec<Publisher>, StartError> {
        let filters = HashMap::from([("publish".to_string(), vec![port.to_string()])]);
        let options = ListContainersOptionsBuilder::new().filters(&filters).build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|error| self.failed("the containers publishing a port", error))?;
        Ok(containers
            .into_iter()
            .filter_map(|container| {
                let name = container.names.unwrap_or_default().first()?.trim_start_matches('/').to_string();
                Some(Publisher { name, labels: container.labels.unwrap_or_default() })
            })
            .collect())
    }

    /// The names of every container on the engine, managed by berth or not, running or not.
    pub async fn container_names(&self) -> Result<std::collections::HashSet<String>, StartError> {
        let options = ListContainersOptionsBuilder::new().all(true).build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|error| self.failed("the container list", error))?;
        Ok(containers
            .into_iter()
            .flat_map(|container| container.names.unwrap_or_default())
            .map(|name| name.trim_start_matches('/').to_string())
            .collect())
    }

    /// The last `lines` lines of the container's output (all of it for `None`), stdout and
    /// stderr together; empty when the logs cannot be read.
    pub async fn logs(&self, name: &str, lines: Option<usize>) -> Vec<String> {
        let tail = lines.map_or_else(|| "all".to_string(), |lines| lines.to_string());
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).tail(&tail).build();
        let chunks: Vec<_> = self.docker.logs(name, Some(options)).collect().await;
        let text: String = chunks.into_iter().filter_map(Result::ok).map(|chunk| chunk.to_string()).collect();
        text.lines().map(str::to_string).collect()
    }

    /// The container's output from its last `lines` lines on, as it comes, until the
    /// container stops (or the caller stops reading).
    pub fn follow_logs<'a>(
        &'a self,
        name: &'a str,
        lines: usize,
    ) -> impl futures_util::Stream<Item = Result<String, StartError>> + 'a {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).follow(true).tail(&lines.to_string()).build();
        self.docker
            .logs(name, Some(options))
            .map(move |chunk| chunk.map(|chunk| chunk.to_string()).map_err(|error| self.failed(name, error)))
    }

    /// Runs `command` inside the container and returns its exit code.
    pub async fn exec(&self, name: &str, command: &[String]) -> Result<Option<i64>, StartError> {
        let options = CreateExecOptions {
            cmd: Some(command.to_vec()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self.docker.create_exec(name, options).await.map_err(|error| self.failed(name, error))?;
        let started = self
            .docker
            .start_exec(&exec.id, Some(StartExecOptions { detach: false, tty: false, output_capacity: None }))
            .await
            .map_err(|error| self.failed(name, error))?;
        if let StartExecResults::Attached { mut output, .. } = started {
            while output.next().await.is_some() {}
        }
        let inspected = self.docker.inspect_exec(&exec.id).await.map_err(|error| self.failed(name, error))?;
        Ok(inspected.exit_code)
    }
}

/// A running container that publishes a host port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// Its name.
    pub name: String,
    /// Its labels (berth's say service, instance and environment).
    pub labels: HashMap<String, String>,
}

/// `127.0.0.1:6379` (`[::1]:6379`) for each port the container publishes, sorted, once each.
pub fn endpoints(summary: &bollard::models::ContainerSummary) -> Vec<String> {
    let mut endpoints: Vec<String> = summary
        .ports
        .iter()
        .flatten()
        .filter_map(|port| {
            let ip = port.ip.as_deref().unwrap_or("0.0.0.0");
            // `[::]:8080` as a socket address is written, not `:::8080`.
            Some(match ip.parse::<std::net::IpAddr>() {
                Ok(ip) => std::net::SocketAddr::new(ip, port.public_port?).to_string(),
                Err(_) => format!("{ip}:{}", port.public_port?),
            })
        })
        .collect();
    endpoints.sort();
    endpoints.dedup();
    endpoints
}

/// A stack network's labels: berth's, the environment's and the instance's; no service,
/// since the instance's services share it.
pub fn network_labels(spec: &InstanceSpec) -> HashMap<String, String> {
    HashMap::from([
        (MANAGED_LABEL.to_string(), "true".to_string()),
        (super::spec::ENVIRONMENT_LABEL.to_string(), spec.environment.clone()),
        (super::spec::INSTANCE_LABEL.to_string(), spec.instance.to_string()),
    ])
}

/// A container's or volume's labels: the spec's, and the run that made it.
fn labels(spec: &InstanceSpec, run: &str) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    labels.insert(RUN_LABEL.to_string(), run.to_string());
    labels
}

fn existing(response: ContainerInspectResponse) -> Existing {
    let state = response.state.unwrap_or_default();
    let address = response
        .network_settings
        .and_then(|settings| settings.networks)
        .and_then(|networks| networks.into_values().find_map(|network| network.ip_address.filter(|ip| !ip.is_empty())))
        .and_then(|ip| ip.parse().ok());
    Existing {
        id: response.id.unwrap_or_default(),
        running: state.running.unwrap_or(false),
        labels: response.config.and_then(|config| config.labels).unwrap_or_default(),
        address,
        exit_code: state.exit_code,
        health: state.health.and_then(|health| health.status),
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::{ContainerSummary, PortSummary};

    #[test]
    fn endpoints_are_socket_addresses_once_each() {
        let port = |ip: Option<&str>, public_port: Option<u16>| PortSummary {
            ip: ip.map(str::to_string),
            private_port: 80,
            public_port,
            ..PortSummary::default()
        };
        let summary = ContainerSummary {
            ports: Some(vec![
                port(Some("::"), Some(8080)),
                port(Some("0.0.0.0"), Some(8080)),
                port(Some("0.0.0.0"), Some(8080)),
                port(Some("127.0.0.1"), Some(6379)),
                port(None, None),
            ]),
            ..ContainerSummary::default()
        };
        assert_eq!(super::endpoints(&summary), ["0.0.0.0:8080", "127.0.0.1:6379", "[::]:8080"]);
    }
}

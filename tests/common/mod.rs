//! Helpers shared by the integration tests: the `berth` binary with a controlled
//! environment, and throwaway registries.

#![allow(dead_code, reason = "each test crate uses its own subset of these helpers")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

/// The registry shipped in `dynamicconfig/`.
pub(crate) fn shipped_registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dynamicconfig/port_registry.yaml")
}

/// A state directory with no ledger in it, so lookups never touch the host's real one.
pub(crate) fn no_ledger() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-ledger-here")
}

/// `berth` with the shipped registry, no ledger, and nothing inherited from the caller's
/// berth settings.
pub(crate) fn berth() -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("berth"));
    command
        .env_remove("BERTH_LOG")
        .env_remove("BERTH_PROJECT")
        .env("BERTH_REGISTRY", shipped_registry())
        .env("BERTH_STATE_DIR", no_ledger());
    command
}

/// `berth` with its ledger in `state` and no registry at all (run from `state`, where no
/// `dynamicconfig/` exists above).
pub(crate) fn berth_with_ledger(state: &Path) -> Command {
    let mut command = berth();
    command.env_remove("BERTH_REGISTRY").env("BERTH_STATE_DIR", state).current_dir(state);
    command
}

/// A registry file holding `text`.
pub(crate) fn registry_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().expect("temp file");
    std::fs::write(file.path(), text).expect("write registry");
    file
}

/// A Docker-backed test's own corner of the host: a unique environment name (so container
/// names never clash between parallel tests), free ports, a ledger, and cleanup on drop.
pub(crate) struct DockerScene {
    /// The environment name, unique to the test and this run.
    pub(crate) environment: String,
    /// A word unique to the test and this run, for `{tag}` in the registry (volume keys,
    /// so that parallel tests never share a volume).
    pub(crate) tag: String,
    /// The first of `width` consecutive free ports.
    pub(crate) base: u16,
    /// The registry file.
    pub(crate) registry: tempfile::NamedTempFile,
    /// The ledger's state directory.
    pub(crate) state: tempfile::TempDir,
    /// Selections to remove (with volumes) when the test ends.
    pub(crate) cleanup: Vec<String>,
}

/// The test images the scenes use; `.ci/run` builds them with docker/test-images/build.sh.
pub(crate) const TEST_IMAGES: [&str; 4] =
    ["berth-test-busybox", "berth-test-redis", "berth-test-prometheus", "berth-test-alertmanager"];

impl DockerScene {
    /// A scene for test `name` whose registry is `services`, a YAML fragment where `{base}`
    /// stands for the first free port (`{base+1}` for the next, up to `width`) and `{tag}`
    /// for a word unique to the test and run. Fails (never skips) when Docker or the images are missing.
    pub(crate) fn new(name: &str, width: u16, services: &str) -> Self {
        let docker = std::process::Command::new("docker").arg("info").output();
        assert!(
            docker.is_ok_and(|output| output.status.success()),
            "no Docker engine answers: run `bash scripts/ensure-docker.sh` (CI does)"
        );
        for image in TEST_IMAGES {
            let found = std::process::Command::new("docker").args(["image", "inspect", image]).output();
            assert!(
                found.is_ok_and(|output| output.status.success()),
                "test image {image} is missing: run `bash docker/test-images/build.sh`"
            );
        }
        let environment = format!("t{}-{name}", std::process::id());
        let tag = format!("{name}{}", std::process::id());
        let base = free_ports(name, width);
        let services = (1..width)
            .fold(services.to_string(), |text, step| {
                text.replace(&format!("{{base+{step}}}"), &(base + step).to_string())
            })
            .replace("{base}", &base.to_string())
            .replace("{tag}", &tag);
        let text = format!("environments:\n  {environment}: 0\n{services}");
        Self {
            environment,
            tag,
            base,
            registry: registry_file(&text),
            state: tempfile::tempdir().expect("state dir"),
            cleanup: Vec::new(),
        }
    }

    /// `berth` pointed at this scene's registry and ledger.
    pub(crate) fn berth(&self) -> Command {
        let mut command = berth();
        command.env("BERTH_REGISTRY", self.registry.path()).env("BERTH_STATE_DIR", self.state.path());
        command
    }

    /// `berth ARGS` as a process to start and watch, with its output piped.
    pub(crate) fn process(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("berth"));
        command
            .env_remove("BERTH_LOG")
            .env_remove("BERTH_PROJECT")
            .env("BERTH_REGISTRY", self.registry.path())
            .env("BERTH_STATE_DIR", self.state.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    }

    /// The container name of `service`'s `instance` in this scene.
    pub(crate) fn container(&self, service: &str, instance: u16) -> String {
        match instance {
            0 => format!("{service}-{}", self.environment),
            _ => format!("{service}-{}-{instance}", self.environment),
        }
    }

    /// The name of `service`'s volume `key` (`{tag}` filled in) of `instance` in this scene.
    pub(crate) fn volume(&self, service: &str, key: &str, instance: u16) -> String {
        let key = key.replace("{tag}", &self.tag);
        match instance {
            0 => format!("{service}-{key}"),
            _ => format!("{service}-{key}-{instance}"),
        }
    }

    /// Removes `selection`'s containers and volumes when the test ends, pass or fail.
    pub(crate) fn remove_on_drop(&mut self, selection: &str) {
        self.cleanup.push(selection.to_string());
    }
}

impl Drop for DockerScene {
    fn drop(&mut self) {
        if !self.cleanup.is_empty() {
            let _ = self.berth().args(["down", "--volumes", "--force"]).args(&self.cleanup).output();
        }
    }
}

/// `width` consecutive ports that are free now, in 20000–29999 (below the ephemeral range),
/// starting from a place derived from the test's name so parallel tests spread out.
fn free_ports(name: &str, width: u16) -> u16 {
    let seed = name.bytes().fold(5381u32, |hash, byte| hash.wrapping_mul(33) ^ u32::from(byte));
    let start = u16::try_from(seed % 900).expect("fits") * 10;
    (0..900u16)
        .map(|step| 20000 + (start + step * 10) % 9000)
        .find(|base| (*base..*base + width).all(|port| std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()))
        .expect("a free stretch of ports")
}

/// A client of the local engine, for looking at what berth did.
pub(crate) fn docker() -> Docker {
    Docker::connect_with_local_defaults().expect("docker client")
}

pub(crate) fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(future)
}

pub(crate) fn containers_of(environment: &str) -> Vec<String> {
    block_on(async {
        let filters = HashMap::from([("label".to_string(), vec![format!("io.berth.env={environment}")])]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let mut names: Vec<String> = docker()
            .list_containers(Some(options))
            .await
            .expect("list")
            .into_iter()
            .flat_map(|summary| summary.names.unwrap_or_default())
            .map(|name| name.trim_start_matches('/').to_string())
            .collect();
        names.sort();
        names
    })
}

pub(crate) fn volume_exists(name: &str) -> bool {
    block_on(async { docker().inspect_volume(name).await.is_ok() })
}

/// `berth up --format json` of `selections` in `scene`, which must succeed.
pub(crate) fn up_json(scene: &DockerScene, selections: &[&str]) -> serde_json::Value {
    let output = scene.berth().arg("up").args(selections).args(["--format", "json"]).output().expect("run berth up");
    assert!(output.status.success(), "berth up failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json report")
}

/// A real image registry (Debian's `docker-registry`) on a free loopback port, with its
/// storage and log in a temporary directory; stopped, and the images pulled from it
/// removed, on drop. The engine treats 127.0.0.0/8 registries as insecure, so no TLS.
pub(crate) struct LoopbackRegistry {
    /// `127.0.0.1:PORT`.
    pub(crate) address: String,
    directory: tempfile::TempDir,
    process: std::process::Child,
    /// References to remove from the engine on drop.
    pulled: Vec<String>,
}

impl LoopbackRegistry {
    /// Starts a registry and waits until it answers.
    pub(crate) fn start() -> Self {
        let directory = tempfile::tempdir().expect("registry dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let address = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
            directory.path().join("data").display()
        );
        std::fs::write(directory.path().join("config.yml"), config).expect("registry config");
        let log = std::fs::File::create(directory.path().join("registry.log")).expect("registry log");
        let process = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(directory.path().join("config.yml"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("docker-registry is missing: run `bash scripts/ensure-test-tools.sh`");
        let registry = Self { address, directory, process, pulled: Vec::new() };
        for _ in 0..200 {
            if std::net::TcpStream::connect(&registry.address).is_ok() {
                return registry;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("docker-registry did not listen on {} within 5s", registry.address);
    }

    /// Pushes local image `local` as `repository:tag` and removes the local tag again, so
    /// the engine must pull it; returns the full reference.
    pub(crate) fn push(&mut self, local: &str, repository_and_tag: &str) -> String {
        let reference = format!("{}/{repository_and_tag}", self.address);
        let run = |arguments: &[&str]| {
            let output = std::process::Command::new("docker").args(arguments).output().expect("docker");
            assert!(output.status.success(), "docker {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        run(&["tag", local, &reference]);
        run(&["push", &reference]);
        run(&["rmi", &reference]);
        self.pulled.push(reference.clone());
        reference
    }

    /// How many times the registry's access log shows a pull asking for a manifest of
    /// `repository` (a pull asks HEAD or GET once per tag; a push PUTs).
    pub(crate) fn manifest_requests(&self, repository: &str) -> usize {
        let log = std::fs::read_to_string(self.directory.path().join("registry.log")).unwrap_or_default();
        let asked = |method: &str| format!("\"{method} /v2/{repository}/manifests/");
        log.lines().filter(|line| line.contains(&asked("HEAD")) || line.contains(&asked("GET"))).count()
    }
}

impl Drop for LoopbackRegistry {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        for reference in &self.pulled {
            let _ = std::process::Command::new("docker").args(["rmi", "--force", reference]).output();
        }
    }
}

/// Whether the engine holds image `reference`.
pub(crate) fn image_exists(reference: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The body of `GET path` from `127.0.0.1:port` (HTTP/1.0, so the server closes), or `None`
/// when nothing answers.
pub(crate) fn http_get(port: u16, path: &str) -> Option<String> {
    http_get_at("127.0.0.1", port, path)
}

/// The body of `GET path` from `address:port`, if it answers within 5 s.
pub(crate) fn http_get_at(address: &str, port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect((address, port)).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// Whether Docker network `name` exists.
pub(crate) fn network_exists(name: &str) -> bool {
    block_on(async { docker().inspect_network(name, None).await.is_ok() })
}

/// `server` serves a page naming its instance; `client` fetches it from `server` through
/// the stack network by name and serves what it got, so the host can see who answered.
pub(crate) const CLIENT_SERVER: &str = "\
server:
  port: {base}
  instance_increment: 1
  max_instances: 3
  container:
    image: berth-test-busybox
    command: [sh, -c, 'mkdir -p /www; echo server-{instance_id} > /www/index.html; exec httpd -f -p {port} -h /www']
    ready:
      http: {port: port, path: /index.html}
    timeout: 20s
client:
  port: {base+3}
  instance_increment: 1
  max_instances: 3
  container:
    image: berth-test-busybox
    depends_on: [server]
    env:
      UPSTREAM: '{server.port.address}'
      UPSTREAM_ON_HOST: '{server.port}'
    command: [sh, -c, 'mkdir -p /www; wget -q -O /www/index.html http://$UPSTREAM/index.html && exec httpd -f -p {port} -h /www']
    ready:
      http: {port: port, path: /index.html}
    timeout: 20s
";

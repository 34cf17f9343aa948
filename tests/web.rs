//! `berth serve` against a real Docker engine, ledger and host: the JSON API and the pages
//! show the registry's slots, mark a slot a foreign process holds, name the instances berth
//! starts and the leases it keeps, and the page's live fragment is the part that updates.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};

use common::DockerScene;

const WEB: &str = "\
web:
  port: {base}
  instance_increment: 1
  max_instances: 3
  container:
    image: berth-test-busybox
    command: [sh, -c, 'echo \"serving <{port}>\"; exec httpd -f -p {port} -h /tmp']
    timeout: 20s
";

/// A running `berth serve` on a port of its own choosing, stopped on drop.
struct Served {
    child: Child,
    address: String,
}

impl Served {
    fn start(scene: &DockerScene) -> Self {
        Self::start_with(scene, &[]).0
    }

    /// `berth serve` with `extra` arguments, and the rest of what it says on stderr, by line.
    fn start_with(scene: &DockerScene, extra: &[&str]) -> (Self, std::sync::mpsc::Receiver<String>) {
        let mut arguments = vec!["serve", "--addr", "127.0.0.1:0"];
        arguments.extend_from_slice(extra);
        let mut child = scene.process(&arguments).stdout(Stdio::null()).spawn().expect("start berth serve");
        let mut said = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        // Other lines (a warning naming a Temporal address) may come first.
        while !line.contains("serves the port map at http://") {
            line.clear();
            assert!(
                said.read_line(&mut line).expect("stderr") > 0,
                "berth serve ended without saying where it listens"
            );
        }
        let address = line
            .split("port map at http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in: {line}"))
            .to_string();
        let (lines, rest) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in said.lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        (Self { child, address }, rest)
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = self.request("GET", path, &[], "");
        (status, body)
    }

    /// One HTTP/1.0 request (to `Host: ADDRESS` unless `headers` name another): the status,
    /// the response's head and its body.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        let mut head = format!("{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n", body.len());
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: {}\r\n", self.address));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        write!(stream, "{head}\r\n{body}").expect("request");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("response");
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response.split_once("\r\n\r\n").expect("a response");
        let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("status");
        (status, head.to_string(), body.to_string())
    }

    /// A JSON action sent by a script with `token`.
    fn act(&self, action: &str, token: &str, request: serde_json::Value) -> (u16, serde_json::Value) {
        let bearer = format!("Bearer {token}");
        let headers = [("Content-Type", "application/json"), ("Authorization", bearer.as_str())];
        let (status, _, body) = self.request("POST", &format!("/api/actions/{action}"), &headers, &request.to_string());
        (status, serde_json::from_str(&body).unwrap_or_else(|error| panic!("{action}: {error}: {body}")))
    }

    /// A form posted from a browser holding `cookie`.
    fn post_form(&self, path: &str, cookie: &str, origin: Option<&str>, form: &str) -> (u16, String) {
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", cookie)];
        headers.extend(origin.map(|origin| ("Origin", origin)));
        let (status, _, body) = self.request("POST", path, &headers, form);
        (status, body)
    }

    fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("{path}: {error}: {body}"))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port_entry(map: &serde_json::Value, port: u16) -> serde_json::Value {
    map["ports"].as_array().expect("ports").iter().find(|entry| entry["port"] == port).cloned().unwrap_or_default()
}

#[test]
fn the_port_map_shows_slots_marks_a_held_slot_and_names_instances_and_leases() {
    let mut scene = DockerScene::new("webview", 3, WEB);
    scene.remove_on_drop("web:0");
    let served = Served::start(&scene);
    let (base, held) = (scene.base, scene.base + 1);

    let map = served.json("/api/map");
    assert_eq!(port_entry(&map, base)["slot"]["label"], "web[0].port");
    assert_eq!(port_entry(&map, base + 2)["slot"]["label"], "web[2].port");
    assert!(port_entry(&map, held)["conflict"].is_null());

    let listener = TcpListener::bind(("127.0.0.1", held)).expect("hold web[1]'s port");
    let map = served.json("/api/map");
    assert_eq!(
        port_entry(&map, held)["conflict"],
        serde_json::json!({"kind": "slot-held", "holder": format!("tcp 127.0.0.1:{held} pid {} ({})", std::process::id(), process_name())})
    );

    scene.berth().args(["up", "web"]).assert().success();
    let container = scene.container("web", 0);
    let map = served.json("/api/map");
    assert_eq!(port_entry(&map, base)["container"], container.as_str());
    assert!(port_entry(&map, base)["conflict"].is_null(), "its own container holds it: {}", port_entry(&map, base));
    let instances = served.json("/api/instances");
    let instance = instances
        .as_array()
        .expect("instances")
        .iter()
        .find(|instance| instance["name"] == container.as_str())
        .cloned()
        .expect("the instance is listed");
    assert_eq!((instance["service"].as_str(), instance["state"].as_str()), (Some("web"), Some("running")));
    assert_eq!(instance["endpoints"], serde_json::json!([format!("127.0.0.1:{base}")]));

    let leases = served.json("/api/leases");
    assert_eq!(leases[0]["project"], format!("container:{container}"));
    let (status, page) = served.get("/leases");
    assert_eq!(status, 200);
    assert!(page.contains(&format!("<td>container:{container}</td>")), "{page}");

    let (status, page) = served.get("/");
    assert_eq!(status, 200);
    assert!(page.starts_with("<!doctype html>") && page.contains("web[1].port"), "{page}");
    assert!(page.contains(&format!("class=\"mark conflict\" href=\"#port-{held}\"")), "{page}");
    let (_, fragment) = served.get("/?fragment=1");
    assert!(!fragment.contains("<html") && fragment.contains("id=\"ports\""), "{fragment}");
    let (_, instances_page) = served.get("/instances");
    assert!(
        instances_page.contains(&format!("<a href=\"/instances/{container}\">{container}</a>")),
        "{instances_page}"
    );
    let (status, instance_page) = served.get(&format!("/instances/{container}"));
    assert_eq!(status, 200);
    assert!(instance_page.contains(&format!("serving &lt;{base}&gt;")), "its log lines, escaped: {instance_page}");
    let (status, _) = served.get("/instances/not-berths");
    assert_eq!(status, 404);
    let (status, _, refused) = served.request("GET", "/api/leases", &[("Host", "rebound.evil.test")], "");
    assert_eq!(status, 421, "a name that is not this machine's is refused (DNS rebinding): {refused}");
    assert!(refused.starts_with("refused: berth answers to this machine's address or name"), "{refused}");

    // The polled fragment comes compressed, and not at all while it is unchanged.
    let (status, head, _) = served.request("GET", "/leases?fragment=1", &[("Accept-Encoding", "gzip")], "");
    assert_eq!(status, 200);
    assert!(head.to_lowercase().contains("content-encoding: gzip"), "{head}");
    let etag = head.lines().find_map(|line| line.strip_prefix("etag: ")).expect("an ETag").to_string();
    let (status, _, body) = served.request("GET", "/leases?fragment=1", &[("If-None-Match", &etag)], "");
    assert_eq!((status, body.as_str()), (304, ""));
    scene.berth().args(["alloc", "--project", "shop", "--service", "api", "--range", "30500-30599"]).assert().success();
    let (status, _, body) = served.request("GET", "/leases?fragment=1", &[("If-None-Match", &etag)], "");
    assert_eq!(status, 200, "a new lease changes the fragment");
    assert!(body.contains("<td>shop</td>"), "{body}");
    drop(listener);
}

/// This test binary's process name, as the kernel shows it (at most 15 characters).
fn process_name() -> String {
    std::fs::read_to_string("/proc/self/comm").expect("comm").trim().to_string()
}

#[test]
fn serve_refuses_an_address_it_cannot_listen_on_and_an_unknown_environment() {
    let scene = DockerScene::new("webrefuse", 1, WEB);
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port to take");
    let address = taken.local_addr().expect("address").to_string();
    let output = scene.process(&["serve", "--addr", &address]).output().expect("run berth serve");
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains(&format!("cannot listen on {address}; choose another address with --addr")), "{said}");
    let output = scene.process(&["serve", "--drift-interval", "1ms"]).output().expect("run berth serve");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("must be 0s (off) or at least 1s"));
    let output = scene.process(&["serve", "--env", "nowhere"]).output().expect("run berth serve");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nowhere"), "{}", String::from_utf8_lossy(&output.stderr));
}

/// The port map in a real browser (Debian's chromium through chromium-driver and
/// selenium): it loads without console errors, shows the registry's slots, marks the slot
/// the test holds, and updates by itself when an instance starts. With
/// `BERTH_SCREENSHOT=PATH` it also keeps a screenshot there (docs/port-map.png is one).
#[test]
fn the_port_map_works_in_a_browser_and_updates_when_an_instance_starts() {
    let mut scene = DockerScene::new("webbrowser", 3, WEB);
    scene.remove_on_drop("web:0");
    let held = scene.base + 1;
    let listener = TcpListener::bind(("127.0.0.1", held)).expect("hold web[1]'s port");
    let served = Served::start(&scene);
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(python.is_file(), "no {}: run `bash scripts/ensure-test-tools.sh`", python.display());
    let screenshot = tempfile::Builder::new().suffix(".png").tempfile().expect("screenshot file");
    let mut browser = std::process::Command::new(python)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/port_map.py"))
        .arg(format!("http://{}/", served.address))
        .arg(screenshot.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the browser driver");
    let mut seen = BufReader::new(browser.stdout.take().expect("stdout")).lines();
    let mut next = || -> serde_json::Value {
        let line = seen.next().expect("the browser driver reports").expect("a line");
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"))
    };
    let loaded = next();
    assert_eq!(loaded["title"], "berth · port map");
    assert_eq!(loaded["console_errors"], serde_json::json!([]), "{loaded}");
    for slot in ["web[0].port", "web[1].port", "web[2].port"] {
        assert!(loaded["slots"].as_array().expect("slots").iter().any(|shown| shown == slot), "{slot}: {loaded}");
    }
    assert_eq!(loaded["conflict_marks"], serde_json::json!([held.to_string()]), "{loaded}");
    let title = loaded["conflict_titles"][0].as_str().expect("a conflict's title");
    assert!(
        title.contains(&format!("CONFLICT: the slot is held by tcp 127.0.0.1:{held} pid {}", std::process::id())),
        "{title}"
    );

    scene.berth().args(["up", "web"]).assert().success();
    let container = scene.container("web", 0);
    let mut stdin = browser.stdin.take().expect("stdin");
    writeln!(stdin, "{container}").expect("tell the driver what to wait for");
    let updated = next();
    assert!(
        updated["containers"].as_array().expect("containers").iter().any(|shown| shown == container.as_str()),
        "{updated}"
    );
    assert!(updated["updated"].as_str().is_some_and(|text| text.starts_with("updated ")), "{updated}");
    assert_eq!(updated["console_errors"], serde_json::json!([]), "{updated}");
    drop(stdin);
    assert!(browser.wait().expect("the browser driver ends").success());
    let png = std::fs::read(screenshot.path()).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot: {} bytes", png.len());
    if let Some(keep) = std::env::var_os("BERTH_SCREENSHOT") {
        std::fs::write(keep, png).expect("keep the screenshot");
    }
    drop(listener);
}

/// The next line of `said` that contains every one of `words`, within a bound.
fn next_line_with(said: &std::sync::mpsc::Receiver<String>, words: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = said.recv_timeout(left).unwrap_or_else(|_| panic!("no line with {words:?} within 60 s"));
        if words.iter().all(|word| line.contains(word)) {
            return line;
        }
    }
}

#[test]
fn the_drift_watch_says_when_a_slot_is_taken_and_when_it_is_free_again() {
    let scene = DockerScene::new("webdrift", 2, WEB);
    let held = scene.base + 1;
    let (_served, said) = Served::start_with(&scene, &["--drift-interval", "1s", "--log-format", "json"]);
    let listener = TcpListener::bind(("127.0.0.1", held)).expect("hold web[1]'s port");
    let found = next_line_with(&said, &["drift_found", &held.to_string()]);
    assert!(found.contains("slot-held") && found.contains(&format!("pid {}", std::process::id())), "{found}");
    drop(listener);
    let cleared = next_line_with(&said, &["drift_cleared", &held.to_string()]);
    assert!(cleared.contains("slot-held"), "{cleared}");
}

#[test]
fn without_an_engine_the_map_still_answers_and_says_why_it_shows_no_containers() {
    let scene = DockerScene::new("webnoengine", 1, WEB);
    let mut command = scene.process(&["serve", "--addr", "127.0.0.1:0"]);
    command.env("DOCKER_HOST", "unix:///nonexistent/docker.sock").stdout(Stdio::null());
    let mut child = command.spawn().expect("start berth serve");
    let mut said = BufReader::new(child.stderr.take().expect("stderr"));
    let mut text = String::new();
    while !text.contains("http://") {
        assert!(said.read_line(&mut text).expect("stderr") > 0, "berth serve ended: {text}");
    }
    assert!(text.contains("cannot reach the Docker engine at unix:///nonexistent/docker.sock"), "{text}");
    let address = text.split("http://").nth(1).and_then(|rest| rest.split('/').next()).expect("address").to_string();
    let served = Served { child, address };
    let map = served.json("/api/map");
    assert!(map["containers_error"].as_str().is_some_and(|error| error.contains("nonexistent")), "{map}");
    assert_eq!(port_entry(&map, scene.base)["slot"]["label"], "web[0].port");
    let (status, _) = served.get("/api/instances");
    assert_eq!(status, 503);
    let (status, page) = served.get("/instances");
    assert_eq!(status, 200);
    assert!(page.contains("berth cannot list its containers") && !page.contains("berth runs no containers"), "{page}");
}

#[test]
fn the_fleet_page_says_how_to_see_the_fleet_and_names_a_cluster_that_does_not_answer() {
    let scene = DockerScene::new("webfleet", 1, WEB);
    let served = Served::start(&scene);
    let (status, page) = served.get("/fleet");
    assert_eq!(status, 200);
    assert!(page.contains("id=\"fleet-off\"") && page.contains("berth serve --temporal"), "{page}");
    let (status, body) = served.get("/api/fleet");
    assert_eq!(status, 404, "{body}");
    drop(served);

    // Pointed at a cluster that does not answer, it says so: it asks no other.
    let unanswered = TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("address").to_string();
    let (served, _said) = Served::start_with(&scene, &["--temporal", &unanswered]);
    let (status, body) = served.get("/api/fleet");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("cannot connect to Temporal at") && body.contains(&unanswered), "{body}");
    let (status, page) = served.get("/fleet");
    assert_eq!(status, 200);
    assert!(page.contains("id=\"fleet-error\"") && page.contains(&unanswered), "{page}");
}

const TOKEN: &str = "berth-web-test-token-0123456789";

#[test]
fn actions_need_the_token_refuse_forged_forms_and_do_what_the_worker_does() {
    let mut scene = DockerScene::new("webactions", 3, WEB);
    scene.remove_on_drop("web:0-1");
    let token_file = tempfile::NamedTempFile::new().expect("token file");
    std::fs::write(token_file.path(), format!("{TOKEN}\n")).expect("write the token");
    let read_only = Served::start(&scene);
    let (status, refused) = read_only.act("start", TOKEN, serde_json::json!({"service": "web", "instance_id": 0}));
    assert_eq!(status, 404, "{refused}");
    assert!(refused["error"].as_str().expect("an error").contains("read-only"), "{refused}");
    drop(read_only);

    let served = Served::start_with(&scene, &["--token-file", token_file.path().to_str().expect("a UTF-8 path")]).0;
    let environment = scene.environment.clone();
    let (status, refused) =
        served.act("start", "not-the-token-at-all", serde_json::json!({"service": "web", "env": environment}));
    assert_eq!((status, refused["error"].as_str()), (401, Some("the bearer token is wrong")));
    let (status, started) =
        served.act("start", TOKEN, serde_json::json!({"service": "web", "instance_id": 0, "env": environment}));
    assert_eq!(status, 200, "{started}");
    let container = scene.container("web", 0);
    assert_eq!(started["container"], container.as_str());
    assert_eq!(started["ports"]["port"], scene.base);
    assert_eq!(common::containers_of(&environment), vec![container.clone()]);
    let (status, typo) = served.act("start", TOKEN, serde_json::json!({"service": "web", "instance": 1}));
    assert_eq!((status, typo["kind"].as_str()), (400, Some("InvalidInput")), "unknown fields are refused: {typo}");
    assert!(typo["error"].as_str().expect("an error").contains("unknown field `instance`"), "{typo}");

    // A browser: the token logs it in, and its forms need the session's CSRF token and origin.
    let (status, _, _) =
        served.request("POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], "token=wrong");
    assert_eq!(status, 401);
    let form = format!("token={TOKEN}");
    let (status, head, handed) =
        served.request("POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], &form);
    assert_eq!(status, 200, "{head}");
    let cookie = head
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_string();
    assert!(head.contains("HttpOnly") && head.contains("SameSite=Strict") && head.contains("no-store"), "{head}");
    let csrf = handed
        .split("data-csrf=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the log-in answer hands the page its CSRF token")
        .to_string();
    let (_, _, page) = served.request("GET", "/instances", &[("Cookie", &cookie)], "");
    // Browsers send a cookie of 127.0.0.1 to every port of it: the pages a cookie opens must
    // not give away what an action needs besides it.
    assert!(!page.contains(&csrf), "the pages never carry the CSRF token: {page}");
    assert!(page.contains("action=\"/actions/stop\""), "{page}");
    let stop = format!("service=web&instance_id=0&env={environment}");
    let (status, _) = served.post_form("/actions/stop", &cookie, None, &format!("csrf=forged&{stop}"));
    assert_eq!(status, 403);
    let (status, _) = served.post_form("/actions/stop", &cookie, None, &format!("csrf=&{stop}"));
    assert_eq!(status, 403, "the cookie alone allows nothing");
    let (status, _) =
        served.post_form("/actions/stop", &cookie, Some("http://evil.test"), &format!("csrf={csrf}&{stop}"));
    assert_eq!(status, 403);
    let (status, _) = served.post_form("/actions/stop", "berth_session=guessed", None, &format!("csrf={csrf}&{stop}"));
    assert_eq!(status, 401);
    let (status, refused) = served.post_form("/actions/stop", "", None, "not a form at all");
    assert_eq!(status, 401, "the session is checked before the body: {refused}");
    assert_eq!(common::containers_of(&environment), vec![container.clone()], "nothing was stopped by a refused form");

    // Not berth's: a container of the instance's name berth did not make is refused and left.
    let squatter = scene.container("web", 1);
    let created = std::process::Command::new("docker")
        .args(["create", "--name", &squatter, "berth-test-busybox", "sleep", "60"])
        .output()
        .expect("docker create");
    assert!(created.status.success());
    let (status, page) = served.post_form(
        "/actions/stop",
        &cookie,
        Some(&format!("http://{}", served.address)),
        &format!("csrf={csrf}&service=web&instance_id=1&env={environment}"),
    );
    let _ = std::process::Command::new("docker").args(["rm", "-f", &squatter]).output();
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("NotManaged"), "{page}");

    let (status, page) = served.post_form(
        "/actions/stop",
        &cookie,
        Some(&format!("http://{}", served.address)),
        &format!("csrf={csrf}&{stop}"),
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("stopped and removed {container}; released port(s) {}", scene.base)), "{page}");
    assert!(common::containers_of(&environment).is_empty());
    assert_eq!(served.json("/api/leases"), serde_json::json!([]));

    // Release: the same rule as `berth release`.
    scene.berth().args(["alloc", "--project", "shop", "--service", "api", "--range", "30500-30599"]).assert().success();
    let leased = served.json("/api/leases")[0]["port"].as_u64().expect("a lease");
    let (status, released) = served.act("release", TOKEN, serde_json::json!({"project": "shop", "port": leased}));
    assert_eq!((status, released["ports"].clone()), (200, serde_json::json!([leased])));
    let (status, nothing) = served.act("release", TOKEN, serde_json::json!({"project": "shop"}));
    assert_eq!((status, nothing["kind"].as_str()), (400, Some("InvalidInput")), "{nothing}");
}

#[test]
fn in_a_browser_a_logged_in_person_starts_and_stops_an_instance() {
    let mut scene = DockerScene::new("webclicks", 3, WEB);
    scene.remove_on_drop("web:2");
    let token_file = tempfile::NamedTempFile::new().expect("token file");
    std::fs::write(token_file.path(), TOKEN).expect("write the token");
    let served = Served::start_with(&scene, &["--token-file", token_file.path().to_str().expect("a UTF-8 path")]).0;
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(python.is_file(), "no {}: run `bash scripts/ensure-test-tools.sh`", python.display());
    let mut browser = std::process::Command::new(python)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/actions.py"))
        .args([
            format!("http://{}/", served.address),
            "2".to_string(),
            scene.environment.clone(),
            scene.container("web", 2),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the browser driver");
    writeln!(browser.stdin.take().expect("stdin"), "{TOKEN}").expect("give the driver the token");
    let mut said = String::new();
    browser.stdout.take().expect("stdout").read_to_string(&mut said).expect("the driver's report");
    assert!(browser.wait().expect("the driver ends").success(), "{said}");
    let report: serde_json::Value = serde_json::from_str(said.trim()).unwrap_or_else(|error| panic!("{error}: {said}"));
    let container = scene.container("web", 2);
    assert_eq!(report["after_login"], format!("http://{}/instances", served.address), "{report}");
    assert_eq!(
        report["started"],
        format!("{container} is created and ready: 127.0.0.1:{}", scene.base + 2),
        "{report}"
    );
    assert!(
        report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|row| row.as_str().is_some_and(|row| row.starts_with(&container))),
        "{report}"
    );
    assert_eq!(report["question"], format!("Stop and remove {container}? Its volumes stay; its ports are released."));
    assert_eq!(report["stopped"], format!("stopped and removed {container}; released port(s) {}", scene.base + 2));
    assert_eq!(report["console_errors"], serde_json::json!([]), "{report}");
    assert!(common::containers_of(&scene.environment).is_empty());
}

#[test]
fn a_recreate_that_cannot_set_the_old_container_aside_leaves_it_running_under_its_name() {
    let mut scene = DockerScene::new("webrecreate", 3, WEB);
    scene.remove_on_drop("web:1");
    let token_file = tempfile::NamedTempFile::new().expect("token file");
    std::fs::write(token_file.path(), TOKEN).expect("write the token");
    let served = Served::start_with(&scene, &["--token-file", token_file.path().to_str().expect("a UTF-8 path")]).0;
    let name = scene.container("web", 1);
    let environment = scene.environment.clone();
    let docker = |arguments: &[&str]| {
        let output = std::process::Command::new("docker").args(arguments).output().expect("docker");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let labels = [
        "io.berth.managed=true".to_string(),
        "io.berth.service=web".to_string(),
        "io.berth.instance=1".to_string(),
        format!("io.berth.env={environment}"),
        "io.berth.config-hash=another-configuration".to_string(),
    ];
    let mut run = vec!["run", "-d", "--name", &name];
    for label in &labels {
        run.extend(["--label", label.as_str()]);
    }
    run.extend(["berth-test-busybox", "sleep", "300"]);
    let old = docker(&run);
    let blocker = format!("{name}.replaced-by-r1");
    let foreign = docker(&["create", "--name", &blocker, "berth-test-busybox", "sleep", "1"]);
    let (status, answer) = served.act(
        "start",
        TOKEN,
        serde_json::json!({"service": "web", "instance_id": 1, "env": environment, "recreate": true, "run": "r1"}),
    );
    let state = docker(&["inspect", "--format", "{{.Id}} {{.Name}} {{.State.Running}}", &old]);
    let blocker_state = docker(&["inspect", "--format", "{{.Id}}", &blocker]);
    docker(&["rm", "-f", &old, &blocker]);
    assert_ne!(status, 200, "{answer}");
    assert_eq!(state, format!("{old} /{name} true"), "the old container runs on, under its own name: {answer}");
    assert_eq!(blocker_state, foreign, "the container in the way is untouched");
    assert!(!answer["error"].as_str().expect("an error").contains("docker rename"), "{answer}");
}

#[test]
fn a_stop_asked_for_while_a_start_runs_waits_for_it_and_leaves_nothing_half_made() {
    const SLOW: &str = "\
slow:
  port: {base}
  container:
    image: berth-test-busybox
    command: [sleep, '300']
    timeout: 6s
";
    let scene = DockerScene::new("webdrain", 1, SLOW);
    let token_file = tempfile::NamedTempFile::new().expect("token file");
    std::fs::write(token_file.path(), TOKEN).expect("write the token");
    let (mut served, said) =
        Served::start_with(&scene, &["--token-file", token_file.path().to_str().expect("a UTF-8 path")]);
    let body = serde_json::json!({"service": "slow", "env": scene.environment}).to_string();
    let mut stream = TcpStream::connect(&served.address).expect("connect");
    write!(
        stream,
        "POST /api/actions/start HTTP/1.0\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        served.address,
        body.len()
    )
    .expect("request");
    let container = scene.container("slow", 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while common::containers_of(&scene.environment).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the start never made its container");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(stream);
    let signalled =
        std::process::Command::new("kill").args(["-TERM", &served.child.id().to_string()]).status().expect("kill");
    assert!(signalled.success());
    let waiting = next_line_with(&said, &["waiting for 1 action(s) under way to end"]);
    assert!(waiting.contains("Ctrl-C again interrupts them"), "{waiting}");
    let status = served.child.wait().expect("berth serve ends");
    assert!(status.success(), "{status}");
    assert!(common::containers_of(&scene.environment).is_empty(), "the failed start undid {container}");
    let leases = scene.berth().args(["leases", "--format", "json"]).output().expect("berth leases");
    assert_eq!(String::from_utf8_lossy(&leases.stdout).trim(), "[]");
}

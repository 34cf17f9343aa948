//! The README is the user's manual, so its examples must do what it shows.
//!
//! Every ```console block is run: each `$ ` line as a shell command, from a scratch copy of
//! the shipped registry and examples, with a scratch ledger, in a network namespace of its
//! own (so no listener of this host or of a parallel test can change an answer), and what
//! it prints (stdout, then stderr) must be the lines that follow it; a line `…` stands for
//! any lines. No other block may show a `$ berth` prompt, so nothing shown escapes the test.
//!
//! The quick start needs a Docker engine and an image: its pull goes through the image
//! mirror setting to a real loopback registry holding a locally built Redis under the
//! catalog's name.

mod common;

use common::{LoopbackRegistry, containers_of, shipped_registry};

/// One example: a command and the lines it must print.
#[derive(Debug)]
struct Example {
    command: String,
    shown: Vec<String>,
}

/// The README's ```console blocks, each a list of examples run in one scratch directory.
fn console_blocks(readme: &str) -> Vec<Vec<Example>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<Example>> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```console") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(examples), line) => match line.strip_prefix("$ ") {
                Some(command) => examples.push(Example { command: command.to_string(), shown: Vec::new() }),
                None => examples.last_mut().expect("a console block starts with `$ `").shown.push(line.to_string()),
            },
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "a ```console block is not closed");
    blocks
}

/// Whether `printed` is what the README shows, where `…` matches any lines.
fn matches(shown: &[String], printed: &[&str]) -> bool {
    match shown.split_first() {
        None => printed.is_empty(),
        Some((first, rest)) if first == "…" => (0..=printed.len()).any(|skip| matches(rest, &printed[skip..])),
        Some((first, rest)) => printed.first().is_some_and(|line| line == first) && matches(rest, &printed[1..]),
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").map(|entry| entry.expect("entry")) {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn readme() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md")
}

#[test]
fn every_console_example_prints_what_the_readme_shows() {
    let readme = readme();
    let blocks = console_blocks(&readme);
    assert!(blocks.len() >= 4, "the README's examples are ```console blocks: found {}", blocks.len());
    let berth = std::path::PathBuf::from(assert_cmd::cargo::cargo_bin!("berth"));
    let path = format!("{}:{}", berth.parent().expect("bin dir").display(), std::env::var("PATH").unwrap_or_default());
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut wrong = Vec::new();
    for block in &blocks {
        let scratch = tempfile::tempdir().expect("scratch dir");
        copy_tree(&source.join("dynamicconfig"), &scratch.path().join("dynamicconfig"));
        copy_tree(&source.join("examples"), &scratch.path().join("examples"));
        for example in block {
            let script = format!("ip link set lo up && exec 2>&1 && {}", example.command);
            let mut command = std::process::Command::new("unshare");
            command
                .args(["--net", "--", "sh", "-c", &script])
                .current_dir(scratch.path())
                .env_clear()
                .env("PATH", &path)
                .env("HOME", scratch.path())
                .env("BERTH_STATE_DIR", scratch.path().join("state"));
            let output = command.output().expect("run the example");
            let printed = String::from_utf8_lossy(&output.stdout);
            let printed: Vec<&str> = printed.lines().map(str::trim_end).collect();
            if !matches(&example.shown, &printed) {
                wrong.push(format!(
                    "$ {}\n  shown:\n    {}\n  printed:\n    {}",
                    example.command,
                    example.shown.join("\n    "),
                    printed.join("\n    ")
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "README examples that do not print what they show:\n{}", wrong.join("\n"));
}

#[test]
fn no_example_shows_output_outside_a_tested_block() {
    let readme = readme();
    let mut in_console = false;
    let mut in_block = false;
    for (number, line) in readme.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if fence {
            in_console = !in_block && line.trim_end() == "```console";
            in_block = !in_block;
            continue;
        }
        assert!(
            !(in_block && !in_console && line.trim_start().starts_with("$ berth")),
            "README.md:{}: `{line}` shows a command's output outside a ```console block, where no test runs it",
            number + 1
        );
    }
}

#[test]
fn ellipsis_lines_stand_for_any_lines() {
    let shown = |lines: &[&str]| lines.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert!(matches(&shown(&["a", "…", "z"]), &["a", "b", "c", "z"]));
    assert!(matches(&shown(&["a", "…", "z"]), &["a", "z"]));
    assert!(!matches(&shown(&["a", "…", "z"]), &["a", "b"]));
    assert!(!matches(&shown(&["a"]), &["a", "b"]));
}

/// The lines of the README's code block that follows `after`.
fn block_after(readme: &str, after: &str) -> Vec<String> {
    let rest = &readme[readme.find(after).unwrap_or_else(|| panic!("the README says {after:?}"))..];
    let body = rest.split("```").nth(1).expect("a code block follows");
    body.lines().filter(|line| !line.trim().is_empty()).map(str::to_string).collect()
}

#[test]
fn the_quick_start_starts_three_redis_instances_as_shown() {
    let readme = readme();
    let command = block_after(&readme, "From a checkout of this repository, with berth installed");
    assert_eq!(command, ["berth check && berth up redis:0-2"]);
    let shown = block_after(&readme, "and starts three Redis instances");

    let mut registry = LoopbackRegistry::start();
    let mirrored = registry.push("berth-test-redis", "library/redis:7.2");
    let state = tempfile::tempdir().expect("state dir");
    let berth = || {
        let mut berth = common::berth();
        berth
            .env("BERTH_REGISTRY", shipped_registry())
            .env("BERTH_STATE_DIR", state.path())
            .env("BERTH_IMAGE_MIRROR", &registry.address);
        berth
    };
    berth().arg("check").assert().success();
    let up = berth().args(["up", "redis:0-2"]).output().expect("berth up");
    let stderr = String::from_utf8_lossy(&up.stderr);
    let cleanup = || berth().args(["down", "redis:0-2", "--volumes"]).output().expect("berth down");
    if !up.status.success() {
        cleanup();
        panic!("berth up redis:0-2 failed: {stderr}");
    }
    let printed: Vec<String> =
        String::from_utf8_lossy(&up.stdout).lines().map(|line| line.trim_end().to_string()).collect();
    let down = cleanup();
    assert_eq!(printed, shown, "what the README shows");
    assert_eq!(stderr.matches(&format!("pulled {mirrored}")).count(), 1, "pulled once for three: {stderr}");
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(containers_of("development").iter().all(|name| !name.starts_with("redis-development")));
}

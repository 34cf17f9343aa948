//! Shell completion: `berth completions SHELL` prints a script that asks berth itself what
//! to offer at each <TAB> (clap's environment-activated completion), so the offers follow
//! the command line of the installed version and the registry in use: `berth up ka<TAB>`
//! offers `kafka`, and stack names too.

use std::ffi::OsStr;

use clap::Args;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::Shells;

use super::Outcome;

/// The variable that switches `berth` into answering a completion request.
pub(super) const REQUEST_VARIABLE: &str = "COMPLETE";

/// Arguments of `berth completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for.
    shell: clap_complete::Shell,
}

pub(super) fn run(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let name = args.shell.to_string();
    let shells = Shells::builtins();
    let shell = shells.completer(&name).ok_or_else(|| anyhow::anyhow!("berth cannot complete for {name}"))?;
    let mut script = Vec::new();
    shell.write_registration(REQUEST_VARIABLE, "berth", "berth", "berth", &mut script)?;
    super::output::emit(&String::from_utf8_lossy(&script), None)?;
    Ok(Outcome::Clean)
}

/// For instances (`up`, `down`, `logs`, `export`): the services that run as containers,
/// and the stacks, whose names start with what was typed.
pub(super) fn instances(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, true)
}

/// For lookups (`port`, `ports`): every service whose name starts with what was typed.
pub(super) fn services(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, false)
}

/// Names from the registry the command line being completed names (`--registry`), else
/// `$BERTH_REGISTRY`, else the one found upwards; nothing once an instance is being typed
/// (`kafka:`), or when there is no usable registry.
fn candidates(current: &OsStr, instances: bool) -> Vec<CompletionCandidate> {
    let Some(typed) = current.to_str() else { return Vec::new() };
    if typed.contains(':') {
        return Vec::new();
    }
    let named = registry_named(std::env::args_os().skip_while(|word| word != "--"));
    // Only a regular file: reading a FIFO named by mistake would hang the shell's <TAB>.
    let Some(path) = crate::registry::locate(named.as_deref()).ok().filter(|path| path.is_file()) else {
        return Vec::new();
    };
    let Ok(registry) = crate::registry::load_file(&path) else {
        return Vec::new();
    };
    let services =
        registry.services.iter().filter(|service| !instances || service.container.is_some()).map(|service| {
            let candidate = CompletionCandidate::new(&service.name);
            match &service.description {
                Some(description) => candidate.help(Some(description.clone().into())),
                None => candidate,
            }
        });
    let stacks = registry.stacks.iter().filter(|_| instances).map(|stack| {
        CompletionCandidate::new(&stack.name).help(Some(format!("stack: {}", stack.services.join(", ")).into()))
    });
    services.chain(stacks).filter(|candidate| candidate.get_value().to_string_lossy().starts_with(typed)).collect()
}

/// The `--registry PATH` (or `--registry=PATH`) among the words typed so far.
fn registry_named(words: impl Iterator<Item = std::ffi::OsString>) -> Option<std::path::PathBuf> {
    let mut words = words.peekable();
    while let Some(word) = words.next() {
        if word == "--registry" {
            return words.next().map(Into::into);
        }
        if let Some(path) = word.to_str().and_then(|word| word.strip_prefix("--registry=")) {
            return Some(path.into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::registry_named;

    #[test]
    fn the_registry_is_read_from_the_words_typed() {
        let words = |text: &str| text.split(' ').map(std::ffi::OsString::from).collect::<Vec<_>>().into_iter();
        assert_eq!(registry_named(words("berth --registry /r.yaml up ka")), Some("/r.yaml".into()));
        assert_eq!(registry_named(words("berth up --registry=/r.yaml ka")), Some("/r.yaml".into()));
        assert_eq!(registry_named(words("berth up ka")), None);
        assert_eq!(registry_named(words("berth --registry")), None);
    }
}

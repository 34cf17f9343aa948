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

/// Services and stacks of the registry in use (`--registry` is not known yet at this point:
/// `$BERTH_REGISTRY`, else the one found upwards) whose names start with what was typed;
/// nothing once an instance is being typed (`kafka:`), or when there is no usable registry.
pub(super) fn services_and_stacks(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(typed) = current.to_str() else { return Vec::new() };
    if typed.contains(':') {
        return Vec::new();
    }
    let Ok(registry) = crate::registry::locate(None).and_then(|path| crate::registry::load_file(&path)) else {
        return Vec::new();
    };
    let services = registry.services.iter().map(|service| {
        let candidate = CompletionCandidate::new(&service.name);
        match &service.description {
            Some(description) => candidate.help(Some(description.clone().into())),
            None => candidate,
        }
    });
    let stacks = registry.stacks.iter().map(|stack| {
        CompletionCandidate::new(&stack.name).help(Some(format!("stack: {}", stack.services.join(", ")).into()))
    });
    services.chain(stacks).filter(|candidate| candidate.get_value().to_string_lossy().starts_with(typed)).collect()
}

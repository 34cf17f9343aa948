//! `berth man`: the manual page, generated from the same clap definition as `--help`, so
//! the two never disagree. One page for `berth` on stdout, or with `--dir` a page per
//! command as well (`berth-up.1`), the way `man berth-up` expects them.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};

use super::{Cli, Outcome};

/// Arguments of `berth man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `berth.1` and a page per command (`berth-up.1`) into this directory (made if
    /// missing) instead of printing `berth.1`.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub(super) fn run(args: ManArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    command.build();
    let Some(directory) = args.dir else {
        super::output::emit(&page(&command)?, None)?;
        return Ok(Outcome::Clean);
    };
    std::fs::create_dir_all(&directory).with_context(|| format!("cannot create {}", directory.display()))?;
    let mut pages = vec![("berth.1".to_string(), page(&command)?)];
    pages_of(&command, "berth", &mut pages)?;
    for (file, text) in pages {
        let path = directory.join(file);
        super::output::emit(&text, Some(&path))?;
        say!("wrote {}", path.display());
    }
    Ok(Outcome::Clean)
}

/// A page for every subcommand below `command` (`berth-export-k8s.1` too), named the way
/// the pages above refer to them.
fn pages_of(command: &clap::Command, prefix: &str, pages: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    for subcommand in command.get_subcommands().filter(|subcommand| subcommand.get_name() != "help") {
        let name = format!("{prefix}-{}", subcommand.get_name());
        let words = name.replace('-', " ");
        let named = subcommand.clone().name(name.clone()).bin_name(words);
        pages.push((format!("{name}.1"), page(&named)?));
        pages_of(subcommand, &name, pages)?;
    }
    Ok(())
}

fn page(command: &clap::Command) -> anyhow::Result<String> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut roff)?;
    Ok(String::from_utf8(roff)?)
}

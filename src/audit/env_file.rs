//! `.env` files: their variables (for the compose files beside them) and the ports their
//! `…PORT=` lines claim. Parsing is dotenvy's; berth only finds each variable's line.

use std::collections::HashMap;

use super::{Claim, HOST, SourceKind, owner};
use crate::probe::Protocol;

/// One variable, its value and the line that sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Setting {
    pub(super) name: String,
    pub(super) value: String,
    pub(super) line: usize,
}

/// Every variable `text` sets, in order; an error names the line dotenvy could not read.
pub(super) fn settings(location: &str, text: &str) -> Result<Vec<Setting>, String> {
    let mut lines: Vec<(String, usize)> = text
        .lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let line = line.trim_start();
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (name, _) = line.split_once('=')?;
            Some((name.trim().to_string(), index + 1))
        })
        .collect();
    let mut settings = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (name, value) = item.map_err(|error| match error {
            dotenvy::Error::LineParse(line, _) => {
                format!("{location}: cannot read line {line:?}: write it as NAME=value")
            }
            other => format!("{location}: {other}"),
        })?;
        let position = lines.iter().position(|(candidate, _)| *candidate == name);
        let line = position.map_or(1, |position| lines.remove(position).1);
        settings.push(Setting { name, value, line });
    }
    Ok(settings)
}

/// The variables of `settings`, the last setting of a name winning, as compose reads them.
pub(super) fn variables(settings: &[Setting]) -> HashMap<String, String> {
    settings.iter().map(|setting| (setting.name.clone(), setting.value.clone())).collect()
}

/// The ports that `…PORT` variables (`API_PORT=8000`) claim.
pub(super) fn claims(location: &str, settings: &[Setting]) -> Vec<Claim> {
    settings
        .iter()
        .filter(|setting| setting.name.to_ascii_uppercase().ends_with("PORT"))
        .filter_map(|setting| {
            let port = setting.value.trim().parse::<u16>().ok().filter(|port| *port > 0)?;
            Some(Claim {
                port,
                protocol: Protocol::Tcp,
                scope: HOST.to_string(),
                source: SourceKind::EnvFile,
                claimant: format!("variable {}", setting.name),
                variable: Some(setting.name.clone()),
                location: format!("{location}:{}", setting.line),
                owner: owner(Some(&setting.name), String::new()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_variables_are_claims_at_their_lines() {
        let text = "# ports\nAPI_PORT=8000\nexport DOCS_PORT = 8001\nNAME=api\nBAD_PORT=http\nAPI_PORT=8002\n";
        let settings = settings(".env", text).expect("reads");
        let found: Vec<(u16, String)> =
            claims(".env", &settings).into_iter().map(|claim| (claim.port, claim.location)).collect();
        assert_eq!(found, [(8000, ".env:2".to_string()), (8001, ".env:3".to_string()), (8002, ".env:6".to_string())]);
        assert_eq!(variables(&settings).get("API_PORT").map(String::as_str), Some("8002"));
        assert!(super::settings(".env", "API_PORT='8000\n").is_err());
    }
}

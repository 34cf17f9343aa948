//! The audit for people (a table), for scripts (JSON) and for documents (a Markdown port
//! audit report, with a table of collisions and one of every claim the files make).

use serde::Serialize;

use super::{Claim, Collision};

/// Everything an audit found.
#[derive(Debug, Serialize)]
pub struct Audit {
    /// Ports claimed by two owners.
    pub collisions: Vec<Collision>,
    /// Every claim the tree's files make (berth's own are only shown in collisions).
    pub claims: Vec<Claim>,
    /// The files read.
    pub files: Vec<String>,
    /// Files that could not be read.
    pub problems: Vec<String>,
    /// YAML files left out: templates, or YAML that does not parse.
    pub skipped: Vec<String>,
}

impl Audit {
    /// `2 ports claimed twice among 14 claims in 4 files`.
    pub fn summary(&self) -> String {
        format!(
            "{} port(s) claimed more than once among {} claim(s) in {} file(s)",
            self.collisions.len(),
            self.claims.len(),
            self.files.len()
        )
    }
}

/// One row per claim of each collision, grouped by port.
pub fn table(audit: &Audit, width: Option<u16>) -> String {
    let mut table = crate::table::Table::new(&["PORT", "PROTOCOL", "SCOPE", "CLAIMED BY", "WHERE"]);
    for collision in &audit.collisions {
        for claim in &collision.claims {
            table.row([
                collision.port.to_string(),
                collision.protocol.as_str().to_string(),
                collision.scope.clone(),
                claim.claimant.clone(),
                claim.location.clone(),
            ]);
        }
    }
    let mut text = if table.is_empty() { String::new() } else { table.render(width) };
    text.push_str(&audit.summary());
    text.push('\n');
    text
}

/// A port audit report in Markdown.
pub fn markdown(audit: &Audit) -> String {
    let mut text = format!("# Port audit\n\n{}.\n", audit.summary());
    if !audit.collisions.is_empty() {
        text.push_str("\n## Ports claimed more than once\n\n| Port | Protocol | Scope | Claimed by | Where |\n|---|---|---|---|---|\n");
        for collision in &audit.collisions {
            for (index, claim) in collision.claims.iter().enumerate() {
                let (port, protocol, scope) = if index == 0 {
                    (format!("**{}**", collision.port), collision.protocol.as_str(), cell(&collision.scope))
                } else {
                    (String::new(), "", String::new())
                };
                text.push_str(&format!(
                    "| {port} | {protocol} | {scope} | {} | `{}` |\n",
                    cell(&claim.claimant),
                    cell(&claim.location)
                ));
            }
        }
    }
    if !audit.claims.is_empty() {
        text.push_str(
            "\n## Every port the files claim\n\n| Port | Protocol | Claimed by | Where |\n|---|---|---|---|\n",
        );
        let mut claims: Vec<&Claim> = audit.claims.iter().collect();
        claims.sort_by(|left, right| (left.port, &left.location).cmp(&(right.port, &right.location)));
        for claim in claims {
            text.push_str(&format!(
                "| {} | {} | {} | `{}` |\n",
                claim.port,
                claim.protocol.as_str(),
                cell(&claim.claimant),
                cell(&claim.location)
            ));
        }
    }
    for (heading, lines) in [("Files that could not be read", &audit.problems), ("Files left out", &audit.skipped)] {
        if !lines.is_empty() {
            text.push_str(&format!("\n## {heading}\n\n"));
            for line in lines {
                text.push_str(&format!("- {}\n", cell(line)));
            }
        }
    }
    text
}

/// Text made safe for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

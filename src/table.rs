//! The one table style of berth's output for people: a header row in capitals, columns two
//! spaces apart, no borders, and, when a width is given (a terminal's), columns that fit it
//! by wrapping their longest cells. Every command's table goes through here so they all
//! read alike; JSON and the export formats do not.
//!
//! Cells may carry colour (ANSI escapes): widths are measured without them.

use comfy_table::{ContentArrangement, presets};

/// A table being filled, row by row.
#[derive(Debug)]
pub struct Table {
    inner: comfy_table::Table,
    columns: usize,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        let mut inner = comfy_table::Table::new();
        // The width is the caller's to give: the table never asks the terminal itself.
        inner.load_style(presets::NOTHING).force_no_tty().set_header(headers.iter().copied());
        Self { inner, columns: headers.len() }
    }

    /// Adds a row; missing cells are left empty.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        let cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        self.inner.add_row(cells);
        self
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.inner.row_count() == 0
    }

    /// The table as lines, each ending in a newline and none with trailing spaces. With a
    /// `width`, long cells wrap inside their column so no line is wider than it.
    pub fn render(mut self, width: Option<u16>) -> String {
        match width {
            Some(width) => {
                self.inner.set_content_arrangement(ContentArrangement::Dynamic).set_width(width);
            }
            None => {
                self.inner.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        let last = self.columns.saturating_sub(1);
        for column in self.inner.column_iter_mut() {
            column.set_padding((0, if column.index == last { 0 } else { 2 }));
        }
        self.inner.lines().map(|line| format!("{}\n", line.trim_end())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn columns_align_under_their_headers() {
        let mut table = Table::new(&["PORT", "PROJECT", "SERVICE"]);
        table.row(["3101", "shop", "web"]).row(["30500", "ml", "mlflow"]);
        assert_eq!(table.render(None), "PORT   PROJECT  SERVICE\n3101   shop     web\n30500  ml       mlflow\n");
    }

    #[test]
    fn a_width_wraps_the_longest_cells_to_fit() {
        let mut table = Table::new(&["PORT", "HELD BY"]);
        table.row(["9192", "tcp 127.0.0.1:9192 pid 4242 (java) and a good deal more about it"]);
        let text = table.render(Some(40));
        assert!(text.lines().all(|line| line.chars().count() <= 40), "{text}");
        assert!(text.lines().count() > 2, "wrapped: {text}");
        assert!(text.starts_with("PORT  HELD BY"), "{text}");
    }

    #[test]
    fn colour_does_not_count_towards_widths() {
        let mut table = Table::new(&["STATE", "NAME"]);
        table.row(["\u{1b}[32mrunning\u{1b}[0m", "redis"]).row(["exited", "kafka"]);
        let plain: String = table.render(None).replace("\u{1b}[32m", "").replace("\u{1b}[0m", "");
        assert_eq!(plain, "STATE    NAME\nrunning  redis\nexited   kafka\n");
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(Table::new(&["A", "B"]).render(None), "A  B\n");
    }
}

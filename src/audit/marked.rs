//! YAML read into a tree that remembers the line of every node, so that each port a file
//! claims can be reported as `file:line`. Aliases are kept as leaves, never expanded, so a
//! file cannot make the tree larger than itself.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One node and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Marked {
    pub(super) node: Node,
    pub(super) line: usize,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// A scalar, as written.
    Scalar(String),
    /// A sequence.
    Sequence(Vec<Marked>),
    /// A mapping, in file order.
    Mapping(Vec<(Marked, Marked)>),
    /// An alias (`*name`), not followed.
    Alias,
}

impl Marked {
    /// The value under `key` when this is a mapping.
    pub(super) fn get(&self, key: &str) -> Option<&Marked> {
        match &self.node {
            Node::Mapping(entries) => {
                entries.iter().find(|(name, _)| name.node == Node::Scalar(key.to_string())).map(|(_, value)| value)
            }
            _ => None,
        }
    }

    /// The scalar's text, when this is a scalar.
    pub(super) fn text(&self) -> Option<&str> {
        match &self.node {
            Node::Scalar(text) => Some(text),
            _ => None,
        }
    }

    /// The entries, when this is a mapping.
    pub(super) fn entries(&self) -> &[(Marked, Marked)] {
        match &self.node {
            Node::Mapping(entries) => entries,
            _ => &[],
        }
    }

    /// The items, when this is a sequence.
    pub(super) fn items(&self) -> &[Marked] {
        match &self.node {
            Node::Sequence(items) => items,
            _ => &[],
        }
    }
}

/// Every document of `text`; an error names the line and column where YAML breaks.
pub(super) fn documents(text: &str) -> Result<Vec<Marked>, String> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, true)
        .map_err(|error| format!("{}:{}: {}", error.marker().line().max(1), error.marker().col() + 1, error.info()))?;
    Ok(builder.documents)
}

enum Open {
    Sequence(Vec<Marked>, usize),
    Mapping(Vec<(Marked, Marked)>, Option<Marked>, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    documents: Vec<Marked>,
}

impl Builder {
    fn finish(&mut self, done: Marked) {
        match self.stack.last_mut() {
            Some(Open::Sequence(items, _)) => items.push(done),
            Some(Open::Mapping(entries, key, _)) => match key.take() {
                Some(key) => entries.push((key, done)),
                None => *key = Some(done),
            },
            None => self.documents.push(done),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line().max(1);
        match event {
            Event::Scalar(text, ..) => self.finish(Marked { node: Node::Scalar(text), line }),
            Event::Alias(_) => self.finish(Marked { node: Node::Alias, line }),
            Event::SequenceStart(..) => self.stack.push(Open::Sequence(Vec::new(), line)),
            Event::MappingStart(..) => self.stack.push(Open::Mapping(Vec::new(), None, line)),
            Event::SequenceEnd | Event::MappingEnd => {
                let done = match self.stack.pop() {
                    Some(Open::Sequence(items, line)) => Marked { node: Node::Sequence(items), line },
                    Some(Open::Mapping(entries, _, line)) => Marked { node: Node::Mapping(entries), line },
                    None => return,
                };
                self.finish(done);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_remember_their_lines_across_documents() {
        let documents = documents("a:\n  - 1\n  - {b: 2}\n---\nc: d\n").expect("parses");
        assert_eq!(documents.len(), 2);
        let items = documents[0].get("a").expect("a").items();
        assert_eq!((items[0].text(), items[0].line), (Some("1"), 2));
        assert_eq!(items[1].get("b").map(|value| (value.text(), value.line)), Some((Some("2"), 3)));
        assert_eq!(documents[1].get("c").and_then(Marked::text), Some("d"));
        assert!(super::documents("a: [1\n").is_err_and(|error| error.starts_with("2:")));
    }
}

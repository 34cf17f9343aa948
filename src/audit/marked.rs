//! YAML read into a tree that remembers the line of every node, so that each port a file
//! claims can be reported as `file:line`. Aliases are expanded (a service written as
//! `*base`, or merged with `<<: *base`, claims what `base` claims, at `base`'s lines), within
//! a bound on the nodes the tree may hold, so that a file cannot make it explode.

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
    /// An alias (`*name`) that was not expanded: the tree had reached its bound.
    Alias,
}

/// The most nodes a file's tree may hold, aliases expanded.
const MAXIMUM_NODES: usize = 200_000;

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

    /// How many nodes the tree under this one holds, itself included.
    fn size(&self) -> usize {
        1 + match &self.node {
            Node::Sequence(items) => items.iter().map(Marked::size).sum(),
            Node::Mapping(entries) => entries.iter().map(|(key, value)| key.size() + value.size()).sum(),
            Node::Scalar(_) | Node::Alias => 0,
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
    if let Some(line) = builder.exceeded_at {
        return Err(format!("{line}:1: aliases expand to more than {MAXIMUM_NODES} nodes; berth reads no further"));
    }
    Ok(builder.documents)
}

/// A sequence or mapping being read: its content so far, its line and its anchor (0: none).
enum Open {
    Sequence(Vec<Marked>, usize, usize),
    Mapping(Vec<(Marked, Marked)>, Option<Marked>, usize, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    documents: Vec<Marked>,
    anchors: std::collections::HashMap<usize, Marked>,
    nodes: usize,
    exceeded_at: Option<usize>,
}

/// `entries` with the `<<` merge keys' mappings merged in, keys written here winning.
fn merged(entries: Vec<(Marked, Marked)>) -> Vec<(Marked, Marked)> {
    let (merges, mut own): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|(key, _)| key.node == Node::Scalar("<<".to_string()));
    for (_, value) in merges {
        let sources = match value.node {
            Node::Mapping(entries) => vec![entries],
            Node::Sequence(items) => items
                .into_iter()
                .filter_map(|item| match item.node {
                    Node::Mapping(entries) => Some(entries),
                    _ => None,
                })
                .collect(),
            Node::Scalar(_) | Node::Alias => Vec::new(),
        };
        for (key, value) in sources.into_iter().flatten() {
            if !own.iter().any(|(existing, _)| existing.node == key.node) {
                own.push((key, value));
            }
        }
    }
    own
}

impl Builder {
    /// Records `done` under `anchor` (when it has one) and places it in what is open.
    fn complete(&mut self, done: Marked, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, done.clone());
        }
        self.finish(done);
    }

    /// What alias `anchor` stands for, unless it would take the tree past its bound.
    fn expand(&mut self, anchor: usize, line: usize) -> Marked {
        let found = self.anchors.get(&anchor).cloned();
        let size = found.as_ref().map_or(1, Marked::size);
        if self.nodes + size > MAXIMUM_NODES {
            self.exceeded_at.get_or_insert(line);
            return Marked { node: Node::Alias, line };
        }
        self.nodes += size;
        found.unwrap_or(Marked { node: Node::Alias, line })
    }

    fn finish(&mut self, done: Marked) {
        match self.stack.last_mut() {
            Some(Open::Sequence(items, ..)) => items.push(done),
            Some(Open::Mapping(entries, key, ..)) => match key.take() {
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
        self.nodes += 1;
        match event {
            Event::Scalar(text, _, anchor, _) => self.complete(Marked { node: Node::Scalar(text), line }, anchor),
            Event::Alias(anchor) => {
                let expanded = self.expand(anchor, line);
                self.finish(expanded);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Sequence(Vec::new(), line, anchor)),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Mapping(Vec::new(), None, line, anchor)),
            Event::SequenceEnd | Event::MappingEnd => {
                let (done, anchor) = match self.stack.pop() {
                    Some(Open::Sequence(items, line, anchor)) => (Marked { node: Node::Sequence(items), line }, anchor),
                    Some(Open::Mapping(entries, _, line, anchor)) => {
                        (Marked { node: Node::Mapping(merged(entries)), line }, anchor)
                    }
                    None => return,
                };
                self.complete(done, anchor);
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

    #[test]
    fn aliases_and_merge_keys_are_followed_within_the_bound() {
        let text = "x: &base\n  ports: ['8080:80']\na: *base\nb:\n  <<: *base\n  image: web\nc:\n  <<: *base\n  ports: ['9090:90']\n";
        let document = &documents(text).expect("parses")[0];
        let port = |service: &str| {
            document.get(service).and_then(|found| found.get("ports")).map(|ports| ports.items()[0].text())
        };
        assert_eq!(port("a"), Some(Some("8080:80")));
        assert_eq!(port("b"), Some(Some("8080:80")));
        assert_eq!(port("c"), Some(Some("9090:90")), "a key written beside the merge wins");
        assert_eq!(document.get("b").and_then(|b| b.get("<<")), None);
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let previous = (b'a' + level - 1) as char;
            let name = (b'a' + level) as char;
            bomb.push_str(&format!("{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"));
        }
        let refused = documents(&bomb).expect_err("a billion laughs is refused");
        assert!(refused.contains("aliases expand to more than 200000 nodes"), "{refused}");
    }
}

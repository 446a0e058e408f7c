//! A YAML tree that remembers where every key and value came from.
//!
//! serde_yaml gives no positions for values, and validation must point at the exact
//! value that is wrong, so user-edited files are parsed with yaml-rust2's marked event
//! API into this tree. Markers count characters; everything here is converted to byte
//! offsets because that is what miette's spans index.

use std::collections::HashMap;

/// Limits that keep a hostile file from stalling or crashing Steward, each far above
/// what a real pool writes. Aliases may add at most this many nodes to a document...
pub const MAX_ALIAS_NODES: usize = 100_000;
/// ...mappings and lists may nest this deep...
pub const MAX_DEPTH: usize = 64;
/// ...and a file may be this large.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

use serde_json::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub len: usize,
}

impl Span {
    pub fn new(start: usize, len: usize) -> Self {
        Span { start, len }
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.len).into()
    }
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone)]
pub struct Key {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

impl SyntaxError {
    /// The diagnostic for it, at its place in `file`.
    pub fn problem(&self, file: &std::sync::Arc<crate::diag::SourceFile>) -> crate::diag::Problem {
        crate::diag::Problem::at(
            "yaml",
            file,
            self.span,
            format!("YAML syntax error: {}", self.message),
            "here",
        )
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Plain `~`, `null` or an empty value.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, plain: true }
            if value.is_empty() || value == "~" || value == "null" || value == "Null" || value == "NULL")
    }

    pub fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.text == key)
            .map(|(_, v)| v)
    }

    /// Follows a dotted path such as `modules.accounts.users.3.email`.
    pub fn at_path(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for seg in path.split('.').filter(|s| !s.is_empty()) {
            node = match &node.kind {
                NodeKind::Map(_) => node.get(seg)?,
                NodeKind::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
                NodeKind::Scalar { .. } => return None,
            };
        }
        Some(node)
    }

    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "null",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The value as JSON, resolving plain scalars with the YAML 1.2 core schema.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar { value, plain } => {
                if !*plain {
                    return Value::String(value.clone());
                }
                resolve_plain(value)
            }
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.text.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn resolve_plain(value: &str) -> Value {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            if let Ok(i) = value.parse::<i64>() {
                Value::from(i)
            } else if value.contains('.')
                && value
                    .chars()
                    .all(|c| c.is_ascii_digit() || ".-+eE".contains(c))
            {
                value
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(value.to_string()))
            } else {
                Value::String(value.to_string())
            }
        }
    }
}

/// Maps yaml-rust2's character indices to byte offsets.
struct Offsets<'a> {
    src: &'a str,
    /// Byte offset of each char; empty when the source is ASCII (identity map).
    table: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(src: &'a str) -> Self {
        let table = if src.is_ascii() {
            Vec::new()
        } else {
            src.char_indices().map(|(b, _)| b).collect()
        };
        Offsets { src, table }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.table.is_empty() {
            char_index.min(self.src.len())
        } else {
            self.table
                .get(char_index)
                .copied()
                .unwrap_or(self.src.len())
        }
    }
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
    },
}

struct Builder<'a> {
    offsets: Offsets<'a>,
    stack: Vec<Frame>,
    /// Anchored nodes with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    error: Option<SyntaxError>,
    /// Nodes added by aliases so far.
    expanded: usize,
}

/// How many nodes a subtree holds.
fn size(n: &Node) -> usize {
    1 + match &n.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Seq(items) => items.iter().map(size).sum(),
        NodeKind::Map(entries) => entries.iter().map(|(_, v)| 1 + size(v)).sum(),
    }
}

fn json_size(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(json_size).sum(),
        Value::Object(map) => map.values().map(|v| 1 + json_size(v)).sum(),
        _ => 0,
    }
}

fn too_many_aliases() -> String {
    format!(
        "aliases expand this document beyond {MAX_ALIAS_NODES} values; write the values out, or use fewer aliases"
    )
}

impl Builder<'_> {
    fn scalar_span(&self, start: usize, value: &str, style: TScalarStyle) -> Span {
        let rest = &self.offsets.src[start..];
        let len = match style {
            TScalarStyle::Plain => {
                if rest.starts_with(value) {
                    value.len()
                } else {
                    rest.find('\n').unwrap_or(rest.len())
                }
            }
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                quoted_len(rest).unwrap_or_else(|| rest.find('\n').unwrap_or(rest.len()))
            }
            _ => rest.find('\n').unwrap_or(rest.len()),
        };
        Span::new(start, len.max(usize::from(!rest.is_empty())))
    }

    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    let text = match &node.kind {
                        NodeKind::Scalar { value, .. } => value.clone(),
                        _ => {
                            self.error = Some(SyntaxError {
                                message: "only plain text is supported as a mapping key".into(),
                                span: node.span,
                            });
                            return;
                        }
                    };
                    if entries.iter().any(|(k, _)| k.text == text) {
                        self.error = Some(SyntaxError {
                            message: format!("duplicate key `{text}`"),
                            span: node.span,
                        });
                        return;
                    }
                    *pending_key = Some(Key {
                        text,
                        span: node.span,
                    });
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

fn quoted_len(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    let (_, quote) = chars.next()?;
    let mut escaped = false;
    while let Some((i, c)) = chars.next() {
        if quote == '"' {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return Some(i + 1);
            }
        } else if c == '\'' {
            // '' is an escaped quote inside a single-quoted scalar.
            if rest[i + 1..].starts_with('\'') {
                chars.next();
            } else {
                return Some(i + 1);
            }
        }
    }
    None
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let start = self.offsets.byte(mark.index());
        match ev {
            Event::Scalar(value, style, anchor, _) => {
                let span = self.scalar_span(start, &value, style);
                let node = Node {
                    kind: NodeKind::Scalar {
                        value,
                        plain: style == TScalarStyle::Plain,
                    },
                    span,
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push(node);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, n)) => {
                    self.expanded += n;
                    if self.expanded > MAX_ALIAS_NODES {
                        self.error = Some(SyntaxError {
                            message: too_many_aliases(),
                            span: Span::new(start, 1),
                        });
                        return;
                    }
                    let mut node = node.clone();
                    node.span = Span::new(start, 1);
                    self.push(node);
                }
                None => {
                    self.error = Some(SyntaxError {
                        message: "unknown alias".into(),
                        span: Span::new(start, 1),
                    })
                }
            },
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                start,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                start,
                anchor,
                entries: Vec::new(),
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let (node, anchor) = match frame {
                    Frame::Seq {
                        start,
                        anchor,
                        mut items,
                    } => {
                        // The tree is kept for diagnostics: no spare capacity in it.
                        items.shrink_to_fit();
                        let end = items
                            .last()
                            .map_or(start + 1, |n| n.span.start + n.span.len);
                        (
                            Node {
                                kind: NodeKind::Seq(items),
                                span: Span::new(start, end.saturating_sub(start).max(1)),
                            },
                            anchor,
                        )
                    }
                    Frame::Map {
                        start,
                        anchor,
                        mut entries,
                        ..
                    } => {
                        entries.shrink_to_fit();
                        let end = entries
                            .last()
                            .map_or(start + 1, |(_, n)| n.span.start + n.span.len);
                        (
                            Node {
                                kind: NodeKind::Map(entries),
                                span: Span::new(start, end.saturating_sub(start).max(1)),
                            },
                            anchor,
                        )
                    }
                };
                if anchor > 0 {
                    let n = size(&node);
                    self.anchors.insert(anchor, (node.clone(), n));
                }
                self.push(node);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// A parse failure at a parser marker, before it is placed in any source text.
struct Failure {
    message: String,
    mark: Marker,
    len: usize,
}

/// Feeds one document's events to `receiver`, pulling them one at a time (yaml-rust2's
/// own `load` recurses once per nesting level, so a deep file would overflow the
/// stack before any limit could be checked). Refuses a second document and nesting
/// beyond [`MAX_DEPTH`].
fn drive<T: Iterator<Item = char>>(
    mut parser: Parser<T>,
    receiver: &mut dyn MarkedEventReceiver,
) -> Result<(), Failure> {
    let fail = |message: String, mark: Marker, len: usize| Failure { message, mark, len };
    let mut depth = 0usize;
    let mut documents = 0usize;
    loop {
        let (ev, mark) = parser
            .next_token()
            .map_err(|e| fail(e.info().to_string(), *e.marker(), 1))?;
        match &ev {
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(fail(
                        "a second YAML document: a file holds exactly one".into(),
                        mark,
                        3,
                    ));
                }
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(fail(
                        format!("nested more than {MAX_DEPTH} levels deep"),
                        mark,
                        1,
                    ));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        receiver.on_event(ev, mark);
    }
}

/// [`drive`] over a string, with failures placed as byte spans in it.
fn drive_str(
    src: &str,
    offsets: &Offsets<'_>,
    receiver: &mut dyn MarkedEventReceiver,
) -> Result<(), SyntaxError> {
    drive(Parser::new_from_str(src), receiver).map_err(|f| {
        let at = offsets.byte(f.mark.index());
        SyntaxError {
            message: f.message,
            span: Span::new(
                at,
                f.len
                    .min(src.len().saturating_sub(at))
                    .max(usize::from(at < src.len())),
            ),
        }
    })
}

/// Parses one YAML document. An empty file is an empty mapping. A byte-order mark at
/// the start is skipped (spans still count it).
pub fn parse(src: &str) -> Result<Node, SyntaxError> {
    const BOM: &str = "\u{feff}";
    if let Some(rest) = src.strip_prefix(BOM) {
        return match parse(rest) {
            Ok(mut node) => {
                shift(&mut node, BOM.len());
                Ok(node)
            }
            Err(mut e) => {
                e.span.start += BOM.len();
                Err(e)
            }
        };
    }
    let offsets = Offsets::new(src);
    let mut builder = Builder {
        offsets: Offsets::new(src),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        error: None,
        expanded: 0,
    };
    drive_str(src, &offsets, &mut builder)?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.root.unwrap_or(Node {
        kind: NodeKind::Map(Vec::new()),
        span: Span::new(0, 0),
    }))
}

/// Moves every span of a tree `by` bytes later.
fn shift(node: &mut Node, by: usize) {
    node.span.start += by;
    match &mut node.kind {
        NodeKind::Scalar { .. } => {}
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| shift(n, by)),
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                k.span.start += by;
                shift(v, by);
            }
        }
    }
}

/// Where items of one top-level list go as each is complete: the list's key and the
/// function that takes them (an error stops the parse at that item).
pub type Stream<'a> = (
    &'a str,
    &'a mut (dyn FnMut(Value) -> Result<(), String> + 'a),
);

/// Builds JSON straight from parser events, for YAML that needs no positions (a
/// module's rendered output): no intermediate tree to build, convert and drop.
#[derive(Default)]
struct JsonBuilder<'a> {
    stack: Vec<(Value, Option<String>)>,
    anchors: HashMap<usize, Value>,
    root: Option<Value>,
    error: Option<(String, Marker)>,
    /// Values added by aliases so far.
    expanded: usize,
    /// Items of the top-level list under this key go to `on_item` as each is complete,
    /// instead of into the tree: a large list never exists whole.
    stream: Option<Stream<'a>>,
}

impl JsonBuilder<'_> {
    fn push(&mut self, value: Value, mark: Marker) {
        if let Some((key, on_item)) = self.stream.as_mut()
            && let [(Value::Object(_), Some(pending)), (Value::Array(_), None)] =
                self.stack.as_slice()
            && pending == key
        {
            if let Err(e) = on_item(value) {
                self.error = Some((e, mark));
            }
            return;
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(value);
                }
            }
            Some((Value::Array(items), _)) => items.push(value),
            Some((Value::Object(map), pending)) => match pending.take() {
                None => match value {
                    Value::String(k) => *pending = Some(k),
                    other => *pending = Some(other.to_string()),
                },
                Some(key) => {
                    if map.insert(key.clone(), value).is_some() {
                        self.error = Some((format!("duplicate key `{key}`"), mark));
                    }
                }
            },
            Some(_) => {}
        }
    }
}

impl MarkedEventReceiver for JsonBuilder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(value, style, anchor, _) => {
                let v = if style == TScalarStyle::Plain {
                    resolve_plain(&value)
                } else {
                    Value::String(value)
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.push(v, mark);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(v) => {
                    self.expanded += json_size(&v);
                    if self.expanded > MAX_ALIAS_NODES {
                        self.error = Some((too_many_aliases(), mark));
                        return;
                    }
                    self.push(v, mark)
                }
                None => self.error = Some(("unknown alias".into(), mark)),
            },
            Event::SequenceStart(anchor, _) => {
                self.stack.push((Value::Array(Vec::new()), None));
                if anchor > 0 {
                    self.anchors.insert(anchor, Value::Null);
                }
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push((Value::Object(serde_json::Map::new()), None));
                if anchor > 0 {
                    self.anchors.insert(anchor, Value::Null);
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((v, _)) = self.stack.pop() {
                    self.push(v, mark);
                }
            }
            _ => {}
        }
    }
}

/// A parse failure in text that was never held whole: where it is, by line and column
/// (both 1-based, columns in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Parses one YAML document into JSON (YAML 1.2 core schema for plain scalars) as
/// its text arrives (from a renderer, perhaps on another thread), so the whole text need
/// never exist at once. With `stream = (key, on_item)`, each item of the top-level list
/// under `key` is handed to `on_item` when complete and left out of the result.
pub fn parse_json_chars<'a>(
    chars: impl Iterator<Item = char>,
    stream: Option<Stream<'a>>,
) -> Result<Value, LineError> {
    let mut builder = JsonBuilder {
        stream,
        ..JsonBuilder::default()
    };
    let at = |message: String, mark: Marker| LineError {
        message,
        line: mark.line(),
        column: mark.col() + 1,
    };
    drive(Parser::new(chars), &mut builder).map_err(|f| at(f.message, f.mark))?;
    if let Some((message, mark)) = builder.error {
        return Err(at(message, mark));
    }
    Ok(builder
        .root
        .unwrap_or(Value::Object(serde_json::Map::new())))
}

/// 1-based line and column of a byte offset, columns counted in characters.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..offset].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values_in_bytes() {
        let src = "name: Zoë\nusers:\n  - {email: \"a@x.org\", name: Ånne}\n  - email: b@x.org\n";
        let root = parse(src).expect("parses");
        let name = root.at_path("users.0.name").expect("name");
        assert_eq!(
            &src[name.span.start..name.span.start + name.span.len],
            "Ånne"
        );
        let email = root.at_path("users.0.email").expect("email");
        assert_eq!(
            &src[email.span.start..email.span.start + email.span.len],
            "\"a@x.org\""
        );
        let b = root.at_path("users.1.email").expect("b");
        assert_eq!(line_col(src, b.span.start), (4, 12));
        assert_eq!(root.get("name").and_then(Node::as_str), Some("Zoë"));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_positions() {
        let err = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert_eq!(line_col("a: 1\nb: 2\na: 3\n", err.span.start).0, 3);
        let src = "a:\n  - x\n  y: [\n";
        let err = parse(src).expect_err("syntax");
        assert!(line_col(src, err.span.start).0 >= 3, "{err:?}");
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_1_2() {
        let root = parse("a: true\nb: '1'\nc: 7\nd: ~\ne: yes\n").expect("parses");
        let v = root.to_json();
        assert_eq!(v["a"], Value::Bool(true));
        assert_eq!(v["b"], Value::String("1".into()));
        assert_eq!(v["c"], Value::from(7));
        assert_eq!(v["d"], Value::Null);
        assert_eq!(v["e"], Value::String("yes".into()));
    }
}

//! Diagnostics about user files: every problem knows its file, span, code and hint,
//! and many are collected before any is shown so `validate` reports them all at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use crate::yaml::Span;

/// A user-edited file held in memory so diagnostics can quote it.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The text, once: diagnostics quote it from here too.
    named: NamedSource<String>,
    /// Byte offset where each line starts, for line numbers without rescanning.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: &Path, text: String) -> Arc<Self> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let named = NamedSource::new(path.display().to_string(), text).with_language("yaml");
        Arc::new(SourceFile {
            path: path.to_path_buf(),
            named,
            line_starts,
        })
    }

    pub fn text(&self) -> &str {
        self.named.inner()
    }

    /// 1-based line and column (in characters) of a span's start.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        let text = self.text();
        let offset = span.start.min(text.len());
        let line = self.line_starts.partition_point(|s| *s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = text.get(start..offset).map_or(1, |t| t.chars().count() + 1);
        (line, col)
    }
}

/// One problem, pointing at a place in a file when it has one.
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
    pub file: Option<Arc<SourceFile>>,
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            code,
            message: message.into(),
            file: None,
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn at(
        code: &'static str,
        file: &Arc<SourceFile>,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Problem {
            code,
            message: message.into(),
            file: Some(file.clone()),
            labels: vec![(span, label.into())],
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, span: Span, label: impl Into<String>) -> Self {
        self.labels.push((span, label.into()));
        self
    }

    /// `path:line:column` of the first label, for logs and JSON.
    pub fn location(&self) -> Option<(String, usize, usize)> {
        let file = self.file.as_ref()?;
        let (span, _) = self.labels.first()?;
        let (line, col) = file.line_col(*span);
        Some((file.path.display().to_string(), line, col))
    }

    pub fn to_json(&self) -> serde_json::Value {
        let loc = self.location();
        serde_json::json!({
            "code": self.code,
            "message": self.message,
            "file": loc.as_ref().map(|l| l.0.clone()),
            "line": loc.as_ref().map(|l| l.1),
            "column": loc.as_ref().map(|l| l.2),
            "help": self.help,
        })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("steward::{}", self.code)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.file.as_ref().map(|f| &f.named as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.file.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().enumerate().map(
            |(i, (span, text))| {
                let label = if text.is_empty() {
                    None
                } else {
                    Some(text.clone())
                };
                if i == 0 {
                    LabeledSpan::new_primary_with_span(label, *span)
                } else {
                    LabeledSpan::new_with_span(label, *span)
                }
            },
        )))
    }
}

/// Problems gathered while checking many files; empty means all is well.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, p: Problem) {
        self.0.push(p);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }
}

/// Edit distance, for "did you mean" hints on unknown keys.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // The distance is quadratic in the words' lengths: a hostile file's 10 KB value
    // gets no suggestion rather than seconds of work, and a candidate whose length alone
    // puts it out of reach is not measured.
    const LONGEST: usize = 256;
    let n = word.chars().count();
    if n > LONGEST {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| {
            let m = c.chars().count();
            m <= LONGEST && n.abs_diff(m) <= 2.max(c.len() / 3)
        })
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_suggestion_is_measured_for_a_hostile_length() {
        // A fuzzed 12 KB org-unit path spent 3 s in the edit distance (debug build).
        let long = "/Staff/Coa".repeat(1200);
        assert_eq!(super::suggest(&long, [long.as_str()]), None);
        assert_eq!(
            super::suggest("staff", [long.as_str(), "staf"]),
            Some("staf")
        );
    }

    #[test]
    fn suggestions_are_close_words_only() {
        assert_eq!(
            super::suggest("org_unit", ["org_units", "users"]),
            Some("org_units")
        );
        assert_eq!(super::suggest("xyz", ["org_units", "users"]), None);
    }
}

//! The plan: a value describing what apply would do, citing where each change comes
//! from. It is shown as text, saved or printed as JSON (format documented in
//! `docs/plan-format.md`), and applied later.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::live::{LiveObject, LiveState};
use crate::org::Org;
use crate::resource::{Address, Kind};

/// Bumped on any incompatible change to the JSON shape.
pub const FORMAT_VERSION: u32 = 1;
/// What secret values are shown as, everywhere.
pub const REDACTED: &str = "(secret)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    /// Take on an object that exists but Steward does not manage yet (a Google user
    /// without its marker): sets the fields shown, keeps everything else.
    Adopt,
    Update,
    Delete,
}

impl Action {
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Adopt => '>',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The value is secret: `before`/`after` hold the redaction marker, never the value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// For file content: a unified diff instead of `before`/`after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl FieldChange {
    /// What a change does to this field: the new value, the old one, or `old -> new`.
    pub fn shown(&self, action: Action) -> String {
        match action {
            Action::Create => show(&self.after),
            Action::Delete => show(&self.before),
            Action::Update | Action::Adopt => {
                format!("{} -> {}", show(&self.before), show(&self.after))
            }
        }
    }
}

/// Where in the org file a change comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub path: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub module: String,
    pub action: Action,
    pub fields: Vec<FieldChange>,
    /// Why, when not simply "the file says so" (e.g. "leaver: suspend").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Changes in this plan that must succeed first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// An update that takes something away (a leaver suspended). Removals are
    /// destructive whether or not this is set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destructive: bool,
    /// Changes in this plan that make a service restart (a file it reads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggered_by: Vec<Address>,
}

/// Something a resource's facts say is wrong that no change fixes: a stale backup, a
/// leftover lock. Drift reports these as "unhealthy".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unhealthy {
    pub address: Address,
    pub module: String,
    /// Stable across runs: `stale`, `no_backup`, `leftover_lock`, `unreadable`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub remove: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub adopt: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn of(changes: &[Change]) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Adopt => s.adopt += 1,
                Action::Update => s.change += 1,
                Action::Delete => s.remove += 1,
            }
        }
        s
    }

    pub fn total(&self) -> usize {
        self.add + self.adopt + self.change + self.remove
    }

    /// "N to add, [N to adopt, ]N to change, N to remove": adoptions only when there
    /// are some.
    pub fn counts(&self) -> String {
        let adopt = if self.adopt > 0 {
            format!("{} to adopt, ", self.adopt)
        } else {
            String::new()
        };
        format!(
            "{} to add, {adopt}{} to change, {} to remove",
            self.add, self.change, self.remove
        )
    }

    /// Adds another summary's counts to this one.
    pub fn absorb(&mut self, o: &Summary) {
        self.add += o.add;
        self.change += o.change;
        self.remove += o.remove;
        self.adopt += o.adopt;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgPlan {
    pub org: String,
    pub file: String,
    /// Digest of the org file the plan was made from.
    pub file_sha256: String,
    /// Digest of the live state the plan was made against.
    pub live_sha256: String,
    pub changes: Vec<Change>,
    /// Live objects no org file declares, which Steward leaves alone.
    pub unmanaged: Vec<Address>,
    pub summary: Summary,
    /// Hosts that could not be reached or read. Their resources are not planned; the
    /// rest of the org is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_errors: Vec<HostError>,
    /// What facts say is wrong beyond differences (stale backups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unhealthy: Vec<Unhealthy>,
    /// Declared objects Steward will not create or change because something else holds
    /// them (an address that is another account's alias). The plan fails on these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Unhealthy>,
    /// Set when the org could not be refreshed; it then has no changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The pool's standard's measures of the org, by item: for the compliance view,
    /// not part of a plan's format.
    #[serde(skip)]
    pub measured: BTreeMap<String, crate::providers::Measured>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostError {
    pub host: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub steward_version: String,
    pub created_at: String,
    pub orgs: Vec<OrgPlan>,
    pub summary: Summary,
    /// Org files deleted in the git changes the plan was selected by. Steward does
    /// not remove an org's live objects when its file goes; the plan says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_orgs: Vec<DeletedOrg>,
}

/// An org file that a `--changed-since` selection found deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedOrg {
    pub org: String,
    pub file: String,
}

/// What a plan says about a deleted org file, in every format.
pub const DELETED_NOTE: &str = "its org file was deleted; Steward leaves its live accounts \
     and settings as they are. Retire the org by hand, or restore the file to manage it again.";

impl Plan {
    pub fn new(mut orgs: Vec<OrgPlan>) -> Plan {
        orgs.sort_by(|a, b| a.org.cmp(&b.org));
        let mut summary = Summary::default();
        for o in &orgs {
            summary.absorb(&o.summary);
        }
        Plan {
            format_version: FORMAT_VERSION,
            steward_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: crate::util::now_rfc3339(),
            orgs,
            summary,
            deleted_orgs: Vec::new(),
        }
    }

    pub fn has_errors(&self) -> bool {
        self.orgs
            .iter()
            .any(|o| o.error.is_some() || !o.host_errors.is_empty() || !o.conflicts.is_empty())
    }
}

/// Create and update changes for what the org file declares.
pub fn diff(
    org: &Org,
    live: &LiveState,
    desired_attrs: impl Fn(&crate::resource::Resource) -> crate::resource::Attrs,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for r in org
        .resources
        .iter()
        .filter(|r| !r.address.kind.observed_only())
    {
        let want = desired_attrs(r);
        let live_obj = live.objects.get(&r.address);
        let kind = r.address.kind;
        if live_obj.is_some_and(|obj| {
            want.iter()
                .all(|(k, v)| kind.same_value(k, v, obj.attrs.get(k)))
        }) {
            continue;
        }
        let source = Some(source_of(org, &r.source));
        let depends_on: Vec<Address> = r
            .address
            .kind
            .references(&r.attrs)
            .iter()
            .flat_map(crate::resource::Reference::addresses)
            .filter(|a| org.resource(a).is_some())
            .collect();
        match live_obj {
            None => {
                let mut fields: Vec<FieldChange> = want
                    .iter()
                    .map(|(k, v)| FieldChange {
                        name: k.to_string(),
                        before: None,
                        after: Some(v.clone()),
                        secret: false,
                        diff: None,
                    })
                    .collect();
                // What the provider generates on create (an initial password): shown,
                // never with its value.
                for name in r.address.kind.spec().generated_on_create {
                    fields.push(FieldChange {
                        name: name.to_string(),
                        before: None,
                        after: Some(Value::String(REDACTED.into())),
                        secret: true,
                        diff: None,
                    });
                }
                changes.push(Change {
                    address: r.address.clone(),
                    module: r.module.clone(),
                    action: Action::Create,
                    fields,
                    reason: None,
                    source,
                    depends_on,
                    destructive: false,
                    triggered_by: Vec::new(),
                });
            }
            Some(obj) => {
                let fields: Vec<FieldChange> = want
                    .iter()
                    .filter(|(k, v)| !kind.same_value(k, v, obj.attrs.get(k)))
                    .map(|(k, v)| FieldChange {
                        name: k.to_string(),
                        before: obj.attrs.get(k).cloned(),
                        after: Some(v.clone()),
                        secret: false,
                        diff: None,
                    })
                    .collect();
                if !fields.is_empty() {
                    // Point at the first changed field when the file has it.
                    let field_path = format!("{}.{}", r.source, fields[0].name);
                    let source = if org.root.at_path(&field_path).is_some() {
                        Some(source_of(org, &field_path))
                    } else {
                        source
                    };
                    changes.push(Change {
                        address: r.address.clone(),
                        module: r.module.clone(),
                        action: Action::Update,
                        fields,
                        reason: None,
                        source,
                        depends_on,
                        destructive: false,
                        triggered_by: Vec::new(),
                    });
                }
            }
        }
    }
    changes
}

/// What differs between the changes a plan holds and the ones computed anew, in a few
/// words; `None` when they are the same.
pub fn difference(held: &[Change], computed: &[Change]) -> Option<String> {
    if held == computed {
        return None;
    }
    let describe = |c: &Change| format!("{} {}", c.action.symbol(), c.address);
    let mut parts = Vec::new();
    let extra: Vec<String> = held
        .iter()
        .filter(|c| !computed.contains(c))
        .map(describe)
        .collect();
    let missing: Vec<String> = computed
        .iter()
        .filter(|c| !held.contains(c))
        .map(describe)
        .collect();
    if !extra.is_empty() {
        parts.push(format!("only in the plan: {}", extra.join(", ")));
    }
    if !missing.is_empty() {
        parts.push(format!("missing from the plan: {}", missing.join(", ")));
    }
    if parts.is_empty() {
        parts.push("the same changes in another order".into());
    }
    Some(parts.join("; "))
}

pub fn source_of(org: &Org, path: &str) -> Source {
    let (file, line, column) = org.locate(path);
    Source {
        path: path.to_string(),
        file,
        line,
        column,
    }
}

/// Says on each planned change that steward.yaml's `modules:` gave (and the standard
/// did not) where it comes from; its source already points at the line there.
pub fn cite_pool(org: &Org, changes: &mut [Change]) {
    if org.pool_given.is_empty() {
        return;
    }
    for c in changes {
        let Some(path) = c.source.as_ref().map(|s| s.path.as_str()) else {
            continue;
        };
        if org.standard.origin(path).is_some() || org.pool_origin(path).is_none() {
            continue;
        }
        c.add_reason("the pool's inputs for the module, in steward.yaml");
    }
}

/// Deterministic order: by module order of the org, then kind, then id.
pub fn sort_changes(org: &Org, changes: &mut [Change]) {
    let module_rank: BTreeMap<&str, usize> = org
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    changes.sort_by(|a, b| {
        let ra = module_rank
            .get(a.module.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        let rb = module_rank
            .get(b.module.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        (ra, a.address.kind, a.action, &a.address.id).cmp(&(
            rb,
            b.address.kind,
            b.action,
            &b.address.id,
        ))
    });
}

// ---------------------------------------------------------------------------------------
// Text rendering

pub mod live;
mod markdown;
pub use markdown::{code as markdown_code, render_markdown};

impl Change {
    /// Whether applying it loses something: a removal, or a user suspended or deleted
    /// as a leaver. Reviews show these first.
    pub fn is_destructive(&self) -> bool {
        self.action == Action::Delete || self.destructive
    }

    /// Adds to why it is planned (where a value came from), after what is said already.
    pub fn add_reason(&mut self, note: &str) {
        self.reason = Some(match self.reason.take() {
            Some(r) => format!("{r}; {note}"),
            None => note.to_string(),
        });
    }
}

/// A field's value as plans and reports show it: JSON, `(none)`, or the secret marker.
pub fn show(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".into(),
        // The marker, or what a provider says of a secret it compared (`(secret, not
        // the file's)`): never a value.
        Some(Value::String(s))
            if s == REDACTED || (s.starts_with("(secret") && s.ends_with(')')) =>
        {
            s.clone()
        }
        Some(v) => v.to_string(),
    }
}

/// The plan as people read it in a terminal.
pub fn render_text(plan: &Plan, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for o in &plan.orgs {
        out.push_str(&paint("1", &format!("{} ({})", o.org, o.file)));
        out.push('\n');
        if let Some(e) = &o.error {
            out.push_str(&format!("  {} {e}\n", paint("31", "error:")));
            out.push('\n');
            continue;
        }
        for h in &o.host_errors {
            out.push_str(&format!(
                "  {} host {}: {}\n    (nothing planned for this host; the rest of the org is planned)\n",
                paint("31", "error:"),
                h.host,
                h.error.replace('\n', "\n    ")
            ));
        }
        for c in &o.conflicts {
            let at = c
                .source
                .as_ref()
                .map(|s| paint("2", &format!("  # {}:{}", s.file, s.line)))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {} {}: {}{at}\n    (nothing planned for it; the rest of the org is planned)\n",
                paint("31", "conflict:"),
                c.address,
                c.message
            ));
        }
        for u in &o.unhealthy {
            out.push_str(&format!(
                "  {} {}: {}\n",
                paint("35", "unhealthy:"),
                u.address,
                u.message
            ));
        }
        if o.changes.is_empty() {
            out.push_str("  no changes\n");
        }
        let mut module = "";
        for c in &o.changes {
            if c.module != module {
                module = &c.module;
                out.push_str(&format!("  module {module}\n"));
            }
            let code = match c.action {
                Action::Create => "32",
                Action::Adopt => "36",
                Action::Update => "33",
                Action::Delete => "31",
            };
            let head = format!("{} {}", c.action.symbol(), c.address);
            let mut line = format!("    {}", paint(code, &head));
            if let Some(r) = &c.reason {
                line.push_str(&format!(" ({r})"));
            }
            if let Some(s) = &c.source {
                line.push_str(&paint("2", &format!("  # {}:{}", s.file, s.line)));
            }
            out.push_str(&line);
            out.push('\n');
            let width = c.fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
            for f in &c.fields {
                if let Some(diff) = &f.diff {
                    out.push_str(&format!("        {:width$}:\n", f.name));
                    for l in diff.lines() {
                        let code = match l.chars().next() {
                            Some('+') => "32",
                            Some('-') => "31",
                            Some('@') => "36",
                            _ => "2",
                        };
                        out.push_str(&format!("          {}\n", paint(code, l)));
                    }
                    continue;
                }
                let text = f.shown(c.action);
                out.push_str(&format!("        {:width$} = {text}\n", f.name));
            }
        }
        if !o.unmanaged.is_empty() {
            let mut by_kind: BTreeMap<Kind, Vec<&str>> = BTreeMap::new();
            for a in &o.unmanaged {
                by_kind.entry(a.kind).or_default().push(&a.id);
            }
            out.push_str(&format!(
                "  {} (live, in no org file; left alone)\n",
                paint("36", "unmanaged")
            ));
            for (kind, ids) in by_kind {
                out.push_str(&format!("    {kind}: {}\n", ids.join(", ")));
            }
        }
        out.push('\n');
    }
    for d in &plan.deleted_orgs {
        out.push_str(&format!(
            "{} {} ({}): {DELETED_NOTE}\n\n",
            paint("33", "deleted:"),
            d.org,
            d.file
        ));
    }
    let s = &plan.summary;
    if plan.has_errors() {
        let failed = plan.orgs.iter().filter(|o| o.error.is_some()).count();
        if failed > 0 {
            out.push_str(&format!("{failed} org(s) could not be planned.\n"));
        }
        let conflicts: usize = plan.orgs.iter().map(|o| o.conflicts.len()).sum();
        if conflicts > 0 {
            out.push_str(&format!(
                "{conflicts} conflict(s): declared objects held by something Steward does not manage.\n"
            ));
        }
        let hosts: usize = plan.orgs.iter().map(|o| o.host_errors.len()).sum();
        if hosts > 0 {
            out.push_str(&format!("{hosts} host(s) could not be reached or read.\n"));
        }
    }
    out.push_str(&format!("Plan: {}.\n", s.counts()));
    out
}

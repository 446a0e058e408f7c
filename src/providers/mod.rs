//! Providers read live state and carry out changes. Each sits behind the [`Provider`]
//! trait and declares its resource kinds ([`crate::resource::KindSpec`]); the engine,
//! the plan, drift and the CLI know providers only through [`REGISTRY`]. How to write
//! one: `docs/providers.md`.

pub mod google;
pub mod ssh;
pub mod unifi;

// What providers read lives beside the plan that compares it: plans never reach back
// into providers.
pub use crate::plan::live::{LiveObject, LiveState};

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use crate::diag::{Problems, SourceFile};
use crate::org::Org;
use crate::plan::{Change, Unhealthy};
use crate::pool::Pool;
use crate::resource::{Address, Attrs, Kind, KindSpec, Resource};
use crate::secrets::Secrets;
use crate::yaml::Node;

/// Every provider, one line each: its name, its kinds, how it checks an org file and
/// how it starts for a run.
pub static REGISTRY: [&Entry; 3] = [&google::ENTRY, &ssh::ENTRY, &unifi::ENTRY];

/// A provider as the registry lists it.
pub struct Entry {
    pub name: &'static str,
    /// Its kinds, in the order plans list them.
    pub kinds: &'static [&'static KindSpec],
    /// Its part of `steward.yaml` (under its name), from the whole file's text so
    /// errors keep their line; kept in [`crate::pool::Pool::settings`].
    pub settings: fn(&str) -> Result<Part, serde_yaml::Error>,
    /// The JSON Schema of that part, for editors (`steward schema --pool-file`).
    pub settings_schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// Its section of an org file, if it has one.
    pub section: Option<&'static OrgSection>,
    /// What only it can check in a loaded org file (no network).
    pub check: fn(&Org, &Secrets) -> Problems,
    /// Starts it for a run from the pool's settings.
    pub start: fn(&Pool, &Secrets) -> Started,
    /// What it can measure of an org's live state for the pool's standard
    /// (baseline.yaml `measure:`), from what its refresh reads anyway.
    pub measures: &'static [MeasureSpec],
}

/// A measure of an org's live state a standard's item may name.
#[derive(Debug)]
pub struct MeasureSpec {
    pub name: &'static str,
    /// What it checks, in plain words ("every active account uses 2-step verification").
    pub what: &'static str,
    /// The item's parameters it reads (`at_most`, `days`), and whether each is required.
    pub params: &'static [(&'static str, bool)],
}

/// Every measure: the providers', then the engine's own (`healthy`).
pub fn measures() -> Vec<&'static MeasureSpec> {
    static HEALTHY: MeasureSpec = MeasureSpec {
        name: crate::baseline::HEALTHY,
        what: "the module's health checks pass (a backup's latest snapshot is recent, an access point is online)",
        params: &[],
    };
    REGISTRY
        .iter()
        .flat_map(|p| p.measures)
        .chain(std::iter::once(&HEALTHY))
        .collect()
}

/// What a measure found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measured {
    pub meets: bool,
    /// In plain words: "2 of 14 active accounts without 2-step verification: ...".
    pub detail: String,
}

/// Every kind of every provider, by name.
static KINDS: LazyLock<BTreeMap<&'static str, Kind>> = LazyLock::new(|| {
    REGISTRY
        .iter()
        .flat_map(|p| p.kinds)
        .map(|spec| (spec.name, Kind::of(spec)))
        .collect()
});

pub fn kind_named(name: &str) -> Option<Kind> {
    KINDS.get(name).copied()
}

/// Every problem the providers find in a loaded org file.
pub fn check(org: &Org, secrets: &Secrets) -> Problems {
    let mut all = Problems::default();
    for p in REGISTRY {
        all.extend((p.check)(org, secrets));
    }
    all
}

/// Starts every provider for a run, in registry order.
pub fn start(pool: &Pool, secrets: &Secrets) -> Result<Vec<Arc<dyn Provider>>, ProviderError> {
    REGISTRY.iter().map(|p| (p.start)(pool, secrets)).collect()
}

/// A provider started for a run, or why it could not start.
pub type Started = Result<Arc<dyn Provider>, ProviderError>;

/// A provider's own settings or org section, as it parsed them: only it looks inside.
pub type Part = Arc<dyn Any + Send + Sync>;

/// Parts by provider name, for the pool (settings) and each org (sections).
#[derive(Clone, Default)]
pub struct Parts(BTreeMap<&'static str, Part>);

impl Parts {
    pub fn insert(&mut self, provider: &'static str, part: Part) {
        self.0.insert(provider, part);
    }

    /// The part `provider` keeps, as the type it keeps it in.
    pub fn get<T: Any>(&self, provider: &str) -> Option<&T> {
        self.0.get(provider)?.downcast_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A provider's section of an org file (`google:`, `hosts:`): its schema, and what
/// the provider keeps of it.
pub struct OrgSection {
    /// Its key in an org file.
    pub key: &'static str,
    /// Its schema, in the language of module inputs (YAML).
    pub schema: &'static str,
    /// What it tells the rest of the file before the file is checked: the domains
    /// addresses must be in, the host names module inputs may name.
    pub context: fn(&Node, &mut OrgContext),
    /// The checked section as the provider keeps it ([`Org::section`]).
    pub build: fn(&SectionInput<'_>, &mut Problems) -> Part,
    /// Values no two org files may share, each with what it is and where: a domain, a
    /// host's address. Read from the YAML, so unselected files count too.
    pub claims: fn(&Node) -> Vec<Claim>,
}

/// (what, the value as shown, dotted path in the org file).
pub type Claim = (&'static str, String, String);

/// What providers' sections tell the checks of the rest of an org file.
#[derive(Debug, Default)]
pub struct OrgContext {
    pub domains: Vec<String>,
    pub hosts: Vec<String>,
}

/// A section as the org file has it, checked against its schema.
pub struct SectionInput<'a> {
    pub node: &'a Node,
    pub value: &'a serde_json::Value,
    pub file: &'a Arc<SourceFile>,
    pub context: &'a OrgContext,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A provider's connection for one org (a token, a host's logins), made by its refresh
/// and kept from plan to apply; only the provider that made it looks inside.
pub type Session = Arc<dyn Any + Send + Sync>;

/// One provider, started for a run: Terraform's read / plan / apply.
pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;

    /// Whether the org has anything for this provider to read.
    fn used_by(&self, org: &Org) -> bool;

    /// Reads the org's live state in as few round trips as it can, reusing the session
    /// of an earlier refresh (plan, then apply) when given one. An error fails the
    /// whole org; places that could not be read are in [`Refresh::unreadable`].
    fn refresh<'a>(
        &'a self,
        org: &'a Arc<Org>,
        session: Option<Session>,
    ) -> BoxFuture<'a, Result<Refresh, ProviderError>>;

    /// The attributes it manages on a resource, with what the file leaves implicit.
    fn desired(&self, org: &Org, r: &Resource) -> Attrs;

    /// Adds to the org's plan what only it knows: leavers, unmanaged objects, file
    /// diffs, restarts, conflicts and health.
    fn review(
        &self,
        org: &Org,
        refresh: &Refresh,
        live: &LiveState,
        changes: &mut Vec<Change>,
    ) -> Review;

    /// Carries out one change with the session its refresh made.
    fn apply<'a>(
        &'a self,
        session: &'a Session,
        ctx: &'a ApplyCtx,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Changes it carries out together: changes of one org that are ready at the same
    /// moment and have the same key (one host's) go to [`Provider::apply_batch`] at once.
    /// `None`, the default: one at a time.
    fn batch_key(&self, _org: &Org, _change: &Change) -> Option<String> {
        None
    }

    /// Carries out changes that share a [`Provider::batch_key`], returning a result for
    /// each in their order. By default one after another with [`Provider::apply`].
    fn apply_batch<'a>(
        &'a self,
        session: &'a Session,
        ctx: &'a ApplyCtx,
        changes: &'a [Change],
    ) -> BoxFuture<'a, Vec<Result<(), ProviderError>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(changes.len());
            for c in changes {
                out.push(self.apply(session, ctx, c).await);
            }
            out
        })
    }

    /// Its request counts, for `--stats`; `None` when it did nothing worth a line.
    fn stats(&self) -> Option<String>;

    /// What it found about the pool as a whole rather than one org (a controller's
    /// sites no org file is named after), for people after a plan or drift report.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// What the org's file says will happen in the `days` after the org's day (people
    /// starting and leaving), for its contact to read in the weekly report: "wait, not
    /// yet".
    fn upcoming(&self, _org: &Org, _days: i64) -> Vec<Upcoming> {
        Vec::new()
    }

    /// Takes one of its [`Entry::measures`] of the org from what `refresh` read, with
    /// the item's parameters; `None` when the measure is not its own.
    fn measure(
        &self,
        _org: &Org,
        _refresh: &Refresh,
        _measure: &str,
        _params: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Measured> {
        None
    }
}

/// What apply needs besides the change itself.
pub struct ApplyCtx {
    pub org: Arc<Org>,
    pub secrets: Secrets,
    /// The pool's local state (locks, generated passwords).
    pub state_dir: PathBuf,
}

/// What one provider's refresh read for one org.
pub struct Refresh {
    pub live: LiveState,
    /// Live objects no org file declares, shown and left alone.
    pub unmanaged: Vec<Address>,
    /// Places (hosts) that could not be read, with why: nothing is planned there.
    pub unreadable: BTreeMap<String, String>,
    pub session: Session,
    /// What the refresh saw beyond the live state, for measures only (who uses 2-step
    /// verification, last sign-ins): kept out of the live state a saved plan rests on,
    /// since a sign-in must not make a plan stale. Only the provider looks inside.
    pub observed: Option<Part>,
}

/// Something an org file says will happen on a day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Upcoming {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub text: String,
}

/// What a provider adds to an org's plan besides changes.
#[derive(Debug, Default)]
pub struct Review {
    pub unmanaged: Vec<Address>,
    pub unhealthy: Vec<Unhealthy>,
    pub conflicts: Vec<Unhealthy>,
}

/// Who must act on a provider's error: the message says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The pool team: credentials, keys, known hosts, the service's own set-up.
    Config,
    /// A person deciding: Steward refused to touch what it does not own.
    Decision,
    /// Nobody yet: the service or host failed or could not be reached; try again.
    Remote,
    /// Steward's developers: a bug.
    Internal,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Remote(String),
    #[error("internal error: {0} (a bug in Steward: please report it)")]
    Internal(String),
}

impl ProviderError {
    pub fn who(&self) -> Who {
        match self {
            ProviderError::Config(_) => Who::Config,
            ProviderError::Refused(_) => Who::Decision,
            ProviderError::Remote(_) => Who::Remote,
            ProviderError::Internal(_) => Who::Internal,
        }
    }
}

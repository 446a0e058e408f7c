//! Org files: loading, checking every value against its schema, rendering modules into
//! resources, and checking the references and graph those resources form.

mod link;
mod load;
mod overlaps;
mod render;
mod sections;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::diag::{Problem, Problems, SourceFile};
use crate::graph::DepGraph;
use crate::modules::Catalogue;
use crate::pool::Pool;
use crate::resource::{Address, Resource};
use crate::secrets::Secrets;
use crate::yaml::{Node, Span};

pub use load::{load, load_text};
pub use sections::json_schema;

#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub reports: bool,
}

/// A known difference the org file acknowledges until a date (`accepted_drift:`).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub address: Address,
    /// Only these fields; empty means any difference of the resource.
    pub fields: Vec<String>,
    pub reason: String,
    /// Last day accepted, as written and as days since 1970-01-01.
    pub until: String,
    pub until_day: i64,
    /// Where in the org file, for the report.
    pub line: usize,
}

/// A checked org: everything later stages need, with positions for messages.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub file: Arc<SourceFile>,
    pub root: Node,
    pub contacts: Vec<Contact>,
    pub accepted: Vec<Accepted>,
    /// Each provider's section of the file (`google:`, `hosts:`), as it keeps it.
    pub sections: crate::providers::Parts,
    /// Enabled modules in dependency order.
    pub modules: Vec<String>,
    /// Settings rendered by each module, by module name.
    pub settings: BTreeMap<String, Map<String, Value>>,
    pub resources: Vec<Resource>,
    /// Index of `resources` by address.
    pub index: HashMap<Address, usize>,
    /// Edges between resources (indices into `resources`), dependency first.
    pub graph: DepGraph<usize>,
    pub sha256: String,
    /// The secrets this org may use; file content is filled only with these.
    pub secret_scope: crate::secrets::SecretScope,
    /// The day it was rendered for (`YYYY-MM-DD`): today in the pool's time zone, or
    /// `--as-of`. Templates see it as `org.today`.
    pub today: String,
    /// The pool's standard for this org: its tier, exceptions, and which of its values
    /// the standard gave.
    pub standard: crate::baseline::layer::OrgStandard,
    /// Values the pool's `modules:` in steward.yaml gave the org, which its own file
    /// does not give.
    pub pool_given: Vec<PoolGiven>,
}

/// A value of the org's inputs from steward.yaml's `modules:`.
#[derive(Debug, Clone)]
pub struct PoolGiven {
    /// Dotted, from the org file's top (`modules.backups.stale_after`).
    pub path: String,
    /// Where in steward.yaml.
    pub at: crate::baseline::At,
}

impl Org {
    /// File, line and column a dotted path comes from (the nearest existing parent).
    /// A value the pool's standard gave is located in the standard, one steward.yaml's
    /// `modules:` gave in steward.yaml.
    pub fn locate(&self, path: &str) -> (String, usize, usize) {
        let given = self.standard.origin(path).map(|o| &o.at);
        if let Some(at) = given.or_else(|| self.pool_origin(path).map(|g| &g.at)) {
            let (line, col) = at.file.line_col(at.span);
            return (at.file.path.display().to_string(), line, col);
        }
        let span = self.span_of(path);
        let (line, col) = self.file.line_col(span);
        (self.file.path.display().to_string(), line, col)
    }

    /// Where steward.yaml gave a dotted path of the org's inputs, if it did.
    pub fn pool_origin(&self, path: &str) -> Option<&PoolGiven> {
        self.pool_given
            .iter()
            .find(|g| crate::baseline::layer::under(path, &g.path))
    }

    pub fn span_of(&self, path: &str) -> Span {
        let mut p = path.to_string();
        loop {
            if let Some(node) = self.root.at_path(&p) {
                return node.span;
            }
            match p.rsplit_once('.') {
                Some((parent, _)) => p = parent.to_string(),
                None => return Span::new(0, 0),
            }
        }
    }

    /// The section `provider` keeps for this org, if the file has one.
    pub fn section<T: std::any::Any>(&self, provider: &str) -> Option<&T> {
        self.sections.get(provider)
    }

    pub fn resource(&self, address: &Address) -> Option<&Resource> {
        self.index.get(address).map(|i| &self.resources[*i])
    }

    pub fn setting(&self, module: &str, name: &str) -> Option<&Value> {
        self.settings.get(module)?.get(name)
    }
}

/// The org id a file must declare: its name without `.yaml`.
pub fn id_from_path(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every org file in `orgs/`, sorted by name.
pub fn discover(pool: &Pool) -> std::io::Result<Vec<PathBuf>> {
    crate::util::yaml_files(&pool.orgs_dir())
}

/// Loads many org files on all cores; each org's problems are kept apart so one bad
/// file does not hide another's. Results keep the order of `paths`.
pub fn load_all(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    paths: &[PathBuf],
) -> (Vec<Org>, Problems) {
    let (orgs, problems) = load_all_shared(pool, catalogue, secrets, paths, &|_| {});
    let orgs = orgs
        .into_iter()
        .map(|o| Arc::try_unwrap(o).unwrap_or_else(|shared| (*shared).clone()))
        .collect();
    (orgs, problems)
}

/// As [`load_all`], calling `on_loaded` with each org as soon as it is checked, so
/// refreshing can start while other files are still loading.
pub fn load_all_shared(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    paths: &[PathBuf],
    on_loaded: &(dyn Fn(&Arc<Org>) + Sync),
) -> (Vec<Arc<Org>>, Problems) {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(paths.len().max(1));
    // Interleaved, so early orgs from every thread reach `on_loaded` first.
    let results: Vec<(usize, Result<Arc<Org>, Problems>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..paths.len())
                        .step_by(threads)
                        .map(|i| {
                            let r = load(pool, catalogue, secrets, &paths[i]).map(Arc::new);
                            if let Ok(org) = &r {
                                on_loaded(org);
                            }
                            (i, r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    let mut p = Problems::default();
                    p.push(Problem::new(
                        "internal",
                        "an org file could not be loaded (a bug: please report it)",
                    ));
                    vec![(usize::MAX, Err(p))]
                })
            })
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);
    let mut orgs = Vec::new();
    let mut problems = Problems::default();
    // A problem in a file every org shares (a value of steward.yaml or the standard,
    // checked with each org's) is told once.
    let mut shared: std::collections::HashSet<(String, usize, String)> = Default::default();
    let orgs_dir = pool.display_path(&pool.orgs_dir());
    for (_, r) in results {
        match r {
            Ok(org) => orgs.push(org),
            Err(p) => {
                for p in p.0 {
                    let elsewhere = p.file.as_ref().filter(|f| !f.path.starts_with(&orgs_dir));
                    if let Some(f) = elsewhere {
                        let key = (
                            f.path.display().to_string(),
                            p.labels.first().map_or(0, |l| l.0.start),
                            p.message.clone(),
                        );
                        if !shared.insert(key) {
                            continue;
                        }
                    }
                    problems.push(p);
                }
            }
        }
    }
    problems.extend(overlaps::overlaps(pool, &orgs));
    (orgs, problems)
}

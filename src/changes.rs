//! Which orgs a git change touches: `--changed-since REV`.
//!
//! An org is selected when its own file changed, when a module it uses (directly or
//! through `requires`) changed under `modules/`, or when `steward.yaml` changed (every
//! org). Deleted org files are returned separately so that commands can report them:
//! Steward never treats a deleted file as "nothing to do" without saying so.
//!
//! Git is run as a program rather than linked: CI machines have it, and its own
//! handling of shallow clones, worktrees and configuration is what users expect.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::modules::Catalogue;
use crate::pool::{POOL_FILE, Pool};

#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error("`{0}` is not a revision Steward accepts (it must not start with `-`)")]
    BadRev(String),
    #[error("cannot run git: {0}")]
    NoGit(std::io::Error),
    #[error("{} is not inside a git repository", .0.display())]
    NotARepository(PathBuf),
    #[error("revision `{rev}` is not in this shallow checkout")]
    Shallow { rev: String },
    #[error("revision `{rev}` is not known to this repository")]
    UnknownRev { rev: String },
    #[error("`git {args}` failed: {stderr}")]
    Git { args: String, stderr: String },
}

impl ChangesError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            ChangesError::Shallow { .. } => Some(
                "fetch more history: `git fetch --deepen=100` (or `--unshallow`); in GitHub \
                 Actions set `fetch-depth: 0` on actions/checkout, in GitLab CI set \
                 `GIT_DEPTH: 0`"
                    .into(),
            ),
            ChangesError::UnknownRev { .. } => Some(
                "name a commit, branch or tag this checkout has (`git log --oneline` lists \
                 them); a remote branch may need `git fetch origin BRANCH` first"
                    .into(),
            ),
            ChangesError::NotARepository(_) => {
                Some("--changed-since needs the pool to be a git repository".into())
            }
            _ => None,
        }
    }
}

/// Why an org was selected.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// Its org file was added or changed.
    File,
    /// It uses this module, which changed.
    Module(String),
    /// `steward.yaml` changed.
    PoolFile,
    /// These items of the pool's standard that reach it changed.
    Standard(Vec<String>),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::File => f.write_str("org file changed"),
            Reason::Module(m) => write!(f, "uses module {m}, which changed"),
            Reason::PoolFile => write!(f, "{POOL_FILE} changed"),
            Reason::Standard(items) => write!(
                f,
                "the pool's standard changed: {}",
                items
                    .iter()
                    .map(|i| format!("item `{i}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The orgs a change since a revision touches.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    /// The revision as given.
    pub rev: String,
    /// The commit it resolved to.
    pub commit: String,
    /// Selected org files (absolute), each with why.
    pub selected: BTreeMap<PathBuf, BTreeSet<Reason>>,
    /// Org files (relative to the pool root) that existed at the revision and are gone.
    pub deleted: Vec<PathBuf>,
    /// Modules whose folder changed.
    pub modules: BTreeSet<String>,
}

/// Runs git in `dir` and returns its stdout.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, ChangesError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(ChangesError::NoGit)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(ChangesError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Resolves `rev` to a commit, telling a shallow checkout apart from a wrong name.
fn resolve(root: &Path, rev: &str) -> Result<String, ChangesError> {
    if rev.is_empty() || rev.starts_with('-') {
        return Err(ChangesError::BadRev(rev.to_string()));
    }
    if git(root, &["rev-parse", "--git-dir"]).is_err() {
        return Err(ChangesError::NotARepository(root.to_path_buf()));
    }
    let spec = format!("{rev}^{{commit}}");
    match git(root, &["rev-parse", "--verify", "--quiet", &spec]) {
        Ok(out) => Ok(String::from_utf8_lossy(&out).trim().to_string()),
        Err(_) => {
            let shallow = git(root, &["rev-parse", "--is-shallow-repository"])
                .map(|o| String::from_utf8_lossy(&o).trim() == "true")
                .unwrap_or(false);
            if shallow {
                Err(ChangesError::Shallow {
                    rev: rev.to_string(),
                })
            } else {
                Err(ChangesError::UnknownRev {
                    rev: rev.to_string(),
                })
            }
        }
    }
}

/// A path changed since the revision, relative to the pool root.
struct Changed {
    path: PathBuf,
    deleted: bool,
}

/// Paths under the pool root changed between `commit` and the working tree (so
/// uncommitted edits count locally; CI checkouts are clean), plus untracked files.
fn changed_paths(root: &Path, commit: &str) -> Result<Vec<Changed>, ChangesError> {
    let diff = git(
        root,
        &[
            "diff",
            "--name-status",
            "-z",
            "--no-renames",
            "--relative",
            commit,
            "--",
        ],
    )?;
    let mut out = Vec::new();
    let mut fields = diff.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
        out.push(Changed {
            path: PathBuf::from(String::from_utf8_lossy(path).into_owned()),
            deleted: status.first() == Some(&b'D'),
        });
    }
    let untracked = git(root, &["ls-files", "-z", "--others", "--exclude-standard"])?;
    for path in untracked.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        out.push(Changed {
            path: PathBuf::from(String::from_utf8_lossy(path).into_owned()),
            deleted: false,
        });
    }
    Ok(out)
}

/// An org file directly in `orgs/`, as `discover` finds them.
fn is_org_file(rel: &Path, orgs_rel: &Path) -> bool {
    rel.parent() == Some(orgs_rel)
        && rel.extension().is_some_and(|e| e == "yaml" || e == "yml")
        && rel
            .file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
}

/// The modules an org file names, read without checking the file. `None` when it
/// cannot be read or parsed: the caller then selects it, and loading reports why.
fn modules_named(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let root = crate::yaml::parse(&text).ok()?;
    let names = match root.get("modules") {
        Some(m) => m
            .entries()
            .map(|e| e.iter().map(|(k, _)| k.text.clone()).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Some(names)
}

/// Every module `names` needs, through `requires`, including themselves.
fn closure(catalogue: &Catalogue, names: &[String]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(m) = catalogue.get(&name) {
            todo.extend(m.spec.requires.iter().cloned());
        }
    }
    seen
}

/// The orgs among `org_files` (absolute paths of the pool's current org files) that
/// the changes since `rev` touch.
pub fn since(
    pool: &Pool,
    catalogue: &Catalogue,
    org_files: &[PathBuf],
    rev: &str,
) -> Result<ChangeSet, ChangesError> {
    let root = &pool.root;
    let commit = resolve(root, rev)?;
    let orgs_rel = pool.display_path(&pool.orgs_dir());
    let modules_rel = pool.display_path(&pool.modules_dir());
    let mut set = ChangeSet {
        rev: rev.to_string(),
        commit: commit.clone(),
        ..ChangeSet::default()
    };
    let mut pool_file = false;
    let mut standard = false;
    let baseline_dir = Path::new(crate::baseline::DIR);
    for c in changed_paths(root, &commit)? {
        if c.path == Path::new(crate::baseline::FILE) || c.path.parent() == Some(baseline_dir) {
            standard = true;
        }
        if c.path == Path::new(POOL_FILE) {
            pool_file = true;
        } else if is_org_file(&c.path, &orgs_rel) {
            if c.deleted {
                set.deleted.push(c.path);
            } else {
                set.selected
                    .entry(root.join(&c.path))
                    .or_default()
                    .insert(Reason::File);
            }
        } else if let Ok(rest) = c.path.strip_prefix(&modules_rel) {
            // A file directly in modules/ belongs to no module.
            if rest.components().count() > 1
                && let Some(name) = rest.components().next()
            {
                set.modules
                    .insert(name.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
    set.deleted.sort();
    set.deleted.dedup();
    // Only orgs that exist now can be planned; an added-then-removed file is no change.
    set.selected.retain(|f, _| f.is_file());
    // The standard then and now: an org is selected when an item that reaches it changed.
    let outlines = if standard {
        Some((standard_at(root, &commit)?, standard_now(root)))
    } else {
        None
    };
    for file in org_files {
        if let Some((then, now)) = &outlines {
            let own = std::fs::read_to_string(file)
                .ok()
                .and_then(|t| crate::yaml::parse(&t).ok())
                .and_then(|r| {
                    r.get("tier")
                        .and_then(crate::yaml::Node::as_str)
                        .map(str::to_string)
                });
            let items = now.changed_for(then, own.as_deref());
            if !items.is_empty() {
                set.selected
                    .entry(file.clone())
                    .or_default()
                    .insert(Reason::Standard(items));
            }
        }
        if pool_file {
            set.selected
                .entry(file.clone())
                .or_default()
                .insert(Reason::PoolFile);
        }
        if set.modules.is_empty() {
            continue;
        }
        match modules_named(file) {
            Some(names) => {
                for m in closure(catalogue, &names).intersection(&set.modules) {
                    set.selected
                        .entry(file.clone())
                        .or_default()
                        .insert(Reason::Module(m.clone()));
                }
            }
            None => {
                set.selected
                    .entry(file.clone())
                    .or_default()
                    .insert(Reason::File);
            }
        }
    }
    Ok(set)
}

/// The standard's files as they were at `commit`.
fn standard_at(root: &Path, commit: &str) -> Result<crate::baseline::Outline, ChangesError> {
    let listed = git(
        root,
        &[
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            commit,
            "--",
            crate::baseline::FILE,
            crate::baseline::DIR,
        ],
    )?;
    let mut texts = Vec::new();
    for path in listed.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        let is_yaml = path.ends_with(".yaml") || path.ends_with(".yml");
        if !is_yaml {
            continue;
        }
        // `./`: relative to the pool, which may be a folder of the repository.
        let text = git(root, &["show", &format!("{commit}:./{path}")])?;
        texts.push(String::from_utf8_lossy(&text).into_owned());
    }
    Ok(crate::baseline::Outline::parse(
        texts.iter().map(String::as_str),
    ))
}

/// The standard's files as they are.
fn standard_now(root: &Path) -> crate::baseline::Outline {
    let texts: Vec<String> = crate::baseline::files(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    crate::baseline::Outline::parse(texts.iter().map(String::as_str))
}

/// `I/N`: this job's share of the orgs when N jobs split them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}` is not a shard: write I/N with 1 <= I <= N, e.g. 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Keeps this shard's files. Files are dealt out round-robin in sorted order of
    /// `universe` (every org file the pool has), so shards differ in size by at most
    /// one and the split does not depend on which orgs another option selected.
    pub fn filter(&self, universe: &[PathBuf], files: Vec<PathBuf>) -> Vec<PathBuf> {
        let mut all: Vec<&PathBuf> = universe.iter().chain(files.iter()).collect();
        all.sort();
        all.dedup();
        let mine: BTreeSet<&PathBuf> = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, f)| f)
            .collect();
        files.iter().filter(|f| mine.contains(f)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_cover_every_file_once() {
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("1-3".parse::<Shard>().is_err());
        assert!("x/3".parse::<Shard>().is_err());
        let files: Vec<PathBuf> = (0..10).map(|i| PathBuf::from(format!("o{i}"))).collect();
        let mut seen = Vec::new();
        for i in 1..=3 {
            let s: Shard = format!("{i}/3").parse().expect("shard");
            let part = s.filter(&files, files.clone());
            assert!((3..=4).contains(&part.len()), "{part:?}");
            seen.extend(part);
        }
        seen.sort();
        assert_eq!(seen, files);
    }
}

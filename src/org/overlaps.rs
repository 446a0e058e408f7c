//! What no two org files may share: a domain, a tenant, a host.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Org, discover};
use crate::diag::{Problem, Problems};
use crate::pool::Pool;
use crate::yaml::{self, Node};

/// What an org file claims for itself alone, read from its YAML: (what, the value as
/// shown, where in the file). Works for loaded and unselected org files alike.
fn claims_in(root: &Node) -> Vec<crate::providers::Claim> {
    crate::providers::REGISTRY
        .iter()
        .filter_map(|p| p.section)
        .filter_map(|section| Some((section.claims)(root.get(section.key)?)))
        .flatten()
        .collect()
}

/// A Google domain, customer id or host address that more than one org file claims:
/// each belongs to exactly one org, or one org's plan could reach another's tenant or
/// machines. Org files that were not selected are read for those sections only.
pub(super) fn overlaps(pool: &Pool, orgs: &[Arc<Org>]) -> Problems {
    let mut problems = Problems::default();
    if orgs.iter().all(|o| o.sections.is_empty()) {
        return problems;
    }
    // (what, value) -> the org files claiming it
    let mut claims: BTreeMap<(&'static str, String), Vec<String>> = BTreeMap::new();
    let mut claim = |file: &str, found: &[(&'static str, String, String)]| {
        for (kind, value, _) in found {
            if value.is_empty() {
                continue;
            }
            let files = claims
                .entry((kind, value.to_ascii_lowercase()))
                .or_default();
            if !files.iter().any(|f| f == file) {
                files.push(file.to_string());
            }
        }
    };
    let loaded: Vec<(String, Vec<_>)> = orgs
        .iter()
        .map(|o| (o.file.path.display().to_string(), claims_in(&o.root)))
        .collect();
    for (file, found) in &loaded {
        claim(file, found);
    }
    let loaded_paths: Vec<PathBuf> = orgs.iter().map(|o| pool.root.join(&o.file.path)).collect();
    for path in discover(pool).unwrap_or_default() {
        if loaded_paths.contains(&path) {
            continue;
        }
        let shown = pool.display_path(&path);
        let Ok(text) = crate::util::read_inside(&path, &pool.orgs_dir(), &shown) else {
            continue;
        };
        if let Ok(root) = yaml::parse(&text) {
            claim(&shown.display().to_string(), &claims_in(&root));
        }
    }
    for (o, (here, found)) in orgs.iter().zip(&loaded) {
        for (kind, value, path) in found {
            let Some(files) = claims.get(&(*kind, value.to_ascii_lowercase())) else {
                continue;
            };
            let others: Vec<&str> = files
                .iter()
                .map(String::as_str)
                .filter(|f| f != here)
                .collect();
            if others.is_empty() {
                continue;
            }
            problems.push(
                Problem::at(
                    "org_overlap",
                    &o.file,
                    o.span_of(path),
                    format!("{kind} `{value}` is claimed by {here} and {}", others.join(", ")),
                    "claimed by another org file too",
                )
                .with_help("each Google domain, customer id and on-site host belongs to exactly one org file: remove it from all but one"),
            );
        }
    }
    problems
}

//! Loading one org file: read it safely, parse it, check its top level and modules,
//! render the modules, and link the resources.

use std::collections::HashMap;
use std::path::Path;

use super::{Org, link, render, sections};
use crate::diag::{Problem, Problems, SourceFile};
use crate::graph::DepGraph;
use crate::modules::Catalogue;
use crate::pool::Pool;
use crate::secrets::Secrets;
use crate::yaml::{self, Span};

/// Loads and checks one org file. All problems in it are returned together.
pub fn load(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    path: &Path,
) -> Result<Org, Problems> {
    let mut problems = Problems::default();
    let shown = pool.display_path(path);
    let text = match crate::util::read_inside(path, &pool.orgs_dir(), &shown) {
        Ok(t) => t,
        Err(e) => {
            let message = e.to_string();
            problems.push(match e {
                // Bad bytes are shown where they are: before them the lossy text is the
                // file's own, byte for byte.
                crate::util::ReadError::NotUtf8 { lossy, offset, .. } => Problem::at(
                    "encoding",
                    &SourceFile::new(&shown, lossy),
                    Span::new(offset, 1),
                    message,
                    "here",
                )
                .with_help("save the file as UTF-8"),
                _ => Problem::new("org_file", message),
            });
            return Err(problems);
        }
    };
    load_text(pool, catalogue, secrets, path, text)
}

/// Checks an org file's text as if it were at `path` (inside the orgs folder), before
/// it is written there (`steward import`).
pub fn load_text(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    path: &Path,
    text: String,
) -> Result<Org, Problems> {
    let mut problems = Problems::default();
    let shown = pool.display_path(path);
    let sha256 = crate::util::sha256_hex(text.as_bytes());
    let file = SourceFile::new(&shown, text);
    let root = match yaml::parse(file.text()) {
        Ok(r) => r,
        Err(e) => {
            problems.push(e.problem(&file));
            return Err(problems);
        }
    };
    if root.entries().is_none() {
        problems.push(Problem::at(
            "wrong_type",
            &file,
            root.span_head(),
            "an org file is a mapping of keys (org, name, google, modules, ...)",
            "expected a mapping",
        ));
        return Err(problems);
    }

    let top = sections::check(pool, secrets, path, &file, &root, &mut problems);
    let mut standard = crate::baseline::for_org(
        pool.baseline.as_ref(),
        &file,
        &root,
        &top.value,
        &mut problems,
    );
    let mut pool_given = Vec::new();
    let Some((mut enabled, modules)) = render::check(
        pool,
        catalogue,
        secrets,
        &file,
        &root,
        &top,
        &mut standard,
        &mut pool_given,
        &mut problems,
    ) else {
        return Err(problems);
    };
    // Rendering and linking go ahead even after value problems, so reference errors are
    // reported in the same run; a template failing on an invalid value is then expected.
    let had_problems = !problems.is_empty();

    let (settings, resources) = render::render(
        catalogue,
        &file,
        &top,
        &pool.today,
        &mut enabled,
        &modules,
        had_problems,
        &mut problems,
    );
    // Requirements of the standard read the org's inputs as they end up: kept (not
    // copied) for the modules they are about; the rest are done with.
    if let Some(baseline) = pool.baseline.as_deref() {
        for (name, _, inputs) in enabled {
            if baseline.requires(standard.tier.as_deref(), &name) {
                standard.inputs.insert(name, inputs);
            }
        }
    }
    let sections::Top {
        id,
        value,
        scope,
        sections,
        contacts,
        accepted,
        ..
    } = top;
    let org = Org {
        id,
        name: value["name"].as_str().unwrap_or_default().to_string(),
        file: file.clone(),
        root,
        contacts,
        accepted,
        sections,
        modules,
        settings,
        resources,
        index: HashMap::new(),
        graph: DepGraph::new(),
        sha256,
        secret_scope: scope,
        today: pool.today.clone(),
        standard,
        pool_given,
    };
    match link::link(org, catalogue) {
        Ok(org) if problems.is_empty() => {
            // What a service would refuse at apply time, at the line that says it.
            let refused = crate::providers::check(&org, secrets);
            if refused.is_empty() {
                Ok(org)
            } else {
                Err(refused)
            }
        }
        Ok(_) => Err(problems),
        Err(more) => {
            // A duplicate the input schema already reported (its `unique`) is not
            // reported again for the resource it renders into.
            let seen: Vec<Span> = problems
                .0
                .iter()
                .filter(|p| p.code == "duplicate")
                .filter_map(|p| p.labels.first().map(|l| l.0))
                .collect();
            for p in more.0 {
                let repeated = p.code == "duplicate"
                    && p.labels.first().is_some_and(|(outer, _)| {
                        seen.iter().any(|inner| {
                            inner.start >= outer.start && inner.start < outer.start + outer.len
                        })
                    });
                if !repeated {
                    problems.push(p);
                }
            }
            Err(problems)
        }
    }
}

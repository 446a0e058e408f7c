//! `steward init`: a new pool repository, ready for the lab and for git. The standard
//! modules and CI definitions are built into the binary, so an installed `steward`
//! needs no checkout of this repository.

use std::path::{Path, PathBuf};

/// Which CI service the new pool runs Steward in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    Github,
    Gitlab,
    None,
}

/// The standard modules, as this repository ships them.
pub const MODULES: &[(&str, &str)] = &[
    (
        "modules/accounts/module.yaml",
        include_str!("../modules/accounts/module.yaml"),
    ),
    (
        "modules/accounts/resources.yaml.hbs",
        include_str!("../modules/accounts/resources.yaml.hbs"),
    ),
    (
        "modules/backups/module.yaml",
        include_str!("../modules/backups/module.yaml"),
    ),
    (
        "modules/backups/resources.yaml.hbs",
        include_str!("../modules/backups/resources.yaml.hbs"),
    ),
    (
        "modules/base/module.yaml",
        include_str!("../modules/base/module.yaml"),
    ),
    (
        "modules/base/resources.yaml.hbs",
        include_str!("../modules/base/resources.yaml.hbs"),
    ),
    (
        "modules/printers/module.yaml",
        include_str!("../modules/printers/module.yaml"),
    ),
    (
        "modules/printers/resources.yaml.hbs",
        include_str!("../modules/printers/resources.yaml.hbs"),
    ),
    (
        "modules/wifi/module.yaml",
        include_str!("../modules/wifi/module.yaml"),
    ),
    (
        "modules/wifi/resources.yaml.hbs",
        include_str!("../modules/wifi/resources.yaml.hbs"),
    ),
];

/// The CI definitions: (where this repository keeps one, where it goes in a pool, text).
const GITHUB: &[(&str, &str, &str)] = &[
    (
        "ci/github/steward.yml",
        ".github/workflows/steward.yml",
        include_str!("../ci/github/steward.yml"),
    ),
    (
        "ci/github/steward-drift.yml",
        ".github/workflows/steward-drift.yml",
        include_str!("../ci/github/steward-drift.yml"),
    ),
];
const GITLAB: &[(&str, &str, &str)] = &[(
    "ci/gitlab/.gitlab-ci.yml",
    ".gitlab-ci.yml",
    include_str!("../ci/gitlab/.gitlab-ci.yml"),
)];

const GITIGNORE: &str = "# Secrets and Steward's local state (locks, generated passwords, drift history)\n\
# never go into git.\n/secrets/\n/.steward/\n";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("`{0}` is not a pool id: lower-case letters, digits and `-`, starting with a letter")]
    BadId(String),
    #[error("{} already exists; steward init writes only into a new or empty folder", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// Every file of a new pool named `pool`, relative to its folder.
pub fn files(pool: &str, ci: Ci) -> Result<Vec<(PathBuf, String)>, InitError> {
    let valid = pool.starts_with(|c: char| c.is_ascii_lowercase())
        && pool
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(InitError::BadId(pool.to_string()));
    }
    let mut out: Vec<(PathBuf, String)> = vec![
        ("steward.yaml".into(), pool_file(pool)),
        ("orgs/example-org.yaml".into(), EXAMPLE_ORG.to_string()),
        // The pool's standard, as this repository has it: measures and requirements a
        // pool starts from (README: The pool's standard).
        (
            "baseline.yaml".into(),
            include_str!("../baseline.yaml").to_string(),
        ),
        (".gitignore".into(), GITIGNORE.to_string()),
        ("README.md".into(), readme(pool, ci)),
    ];
    let ci_files = match ci {
        Ci::Github => GITHUB,
        Ci::Gitlab => GITLAB,
        Ci::None => &[],
    };
    for (path, text) in MODULES {
        out.push((PathBuf::from(path), (*text).to_string()));
    }
    for (_, path, text) in ci_files {
        out.push((PathBuf::from(path), (*text).to_string()));
    }
    Ok(out)
}

/// Creates a pool in `dir` (new or empty: nothing is overwritten), named `pool` or
/// after the folder. Returns the pool's id and how many files were written.
pub fn init(dir: &Path, pool: Option<&str>, ci: Ci) -> Result<(String, usize), InitError> {
    let occupied = dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true);
    if occupied {
        return Err(InitError::Exists(dir.to_path_buf()));
    }
    let id = match pool {
        Some(p) => p.to_string(),
        None => id_from_folder(dir),
    };
    let mut files = files(&id, ci)?;
    write(dir, &files)?;
    // The schema editors check org files with, from the modules just written.
    let (catalogue, _) = crate::modules::Catalogue::load(&dir.join("modules"));
    let pretty = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
    let schemas = [
        (
            PathBuf::from(SCHEMA_FILE),
            pretty(crate::org::json_schema(&catalogue)),
        ),
        (
            PathBuf::from(POOL_SCHEMA_FILE),
            pretty(crate::pool::json_schema()),
        ),
        (
            PathBuf::from(BASELINE_SCHEMA_FILE),
            pretty(crate::baseline::json_schema()),
        ),
    ];
    write(dir, &schemas)?;
    files.extend(schemas);
    Ok((id, files.len()))
}

/// Where a pool keeps its org files' JSON Schema (`steward schema --out`)...
pub const SCHEMA_FILE: &str = "schema/org.schema.json";
/// ...that of `steward.yaml` (`steward schema --pool-file --out`)...
pub const POOL_SCHEMA_FILE: &str = "schema/steward.schema.json";
/// ...and that of `baseline.yaml` (`steward schema --baseline --out`).
pub const BASELINE_SCHEMA_FILE: &str = "schema/baseline.schema.json";

/// A pool id from a folder name: `My Pool` is `my-pool`.
fn id_from_folder(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir)
        .ok()
        .or_else(|| std::path::absolute(dir).ok())
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let id: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    id.trim_matches(|c: char| !c.is_ascii_lowercase())
        .to_string()
}

/// Writes `files` into `dir`, never over an existing file.
fn write(dir: &Path, files: &[(PathBuf, String)]) -> Result<(), InitError> {
    for (rel, text) in files {
        let path = dir.join(rel);
        let failed = |e: std::io::Error| InitError::Write {
            path: path.clone(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        // `create_new`: never over a file, even one that appeared meanwhile.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(failed)?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(failed)?;
    }
    Ok(())
}

fn pool_file(pool: &str) -> String {
    format!(
        "# yaml-language-server: $schema=schema/steward.schema.json\n\
# Pool-wide settings. Org files live in orgs/, modules in modules/ (README.md).\n\
pool: {pool}\n\
\n\
secrets:\n\
\x20 # `secret:NAME` resolves from $STEWARD_SECRET_<NAME> (upper-cased, other characters\n\
\x20 # `_`) or from the file secrets/NAME. The folder is git-ignored. An org file may use\n\
\x20 # only its own secrets (secret:<org-id>/...) and those listed under `shared`.\n\
\x20 dir: secrets\n\
\x20 shared: []\n\
\n\
# Locks, generated initial passwords (0600) and the drift history; git-ignored.\n\
state_dir: .steward\n\
\n\
# Dates in org files (a person's first and last day) are days in this time zone.\n\
timezone: UTC\n\
\n\
# What every org that enables a module gets unless its own file says otherwise, e.g.\n\
# the people's roles:\n\
# modules:\n\
#   accounts:\n\
#     roles:\n\
#       staff: {{org_unit: /Staff, groups: [staff]}}\n\
\n\
google:\n\
\x20 # The real endpoints; against the lab, STEWARD_GOOGLE_URL replaces both.\n\
\x20 token_url: https://oauth2.googleapis.com/token\n\
\x20 api_url: https://admin.googleapis.com\n"
    )
}

const EXAMPLE_ORG: &str = "# yaml-language-server: $schema=../schema/org.schema.json\n\
# One member organisation: its Google Workspace tenant and what Steward manages there.\n\
# `steward modules` lists what modules there are and what each takes.\n\
org: example-org\n\
name: Example Organisation\n\
contacts:\n\
\x20 - {name: Alex Example, email: alex@example.org, reports: true}\n\
google:\n\
\x20 domain: example.org\n\
\x20 customer_id: C0example\n\
\x20 admin: steward-admin@example.org\n\
\x20 credentials: secret:example-org/google-service-account\n\
modules:\n\
\x20 accounts:\n\
\x20   org_units: [/Staff]\n\
\x20   groups:\n\
\x20     - {email: staff@example.org, name: All staff}\n\
\x20   users:\n\
\x20     - {email: alex@example.org, name: Alex Example, org_unit: /Staff, groups: [staff]}\n\
\x20   leavers: suspend\n";

fn readme(pool: &str, ci: Ci) -> String {
    let ci_line = match ci {
        Ci::Github => {
            "CI: `.github/workflows/steward.yml` plans every pull request and applies `main`; `steward-drift.yml` mails the weekly drift report. Add each `secret:NAME` as a repository secret `STEWARD_SECRET_<NAME>`."
        }
        Ci::Gitlab => {
            "CI: `.gitlab-ci.yml` plans every merge request and applies `main`. Add each `secret:NAME` as a masked CI/CD variable `STEWARD_SECRET_<NAME>`."
        }
        Ci::None => "CI: none set up (`steward init --ci github|gitlab` writes one).",
    };
    format!(
        "# {pool}\n\
\n\
The pool's IT, as code: one file per member organisation in `orgs/`, the standard\n\
solutions in `modules/`, pool-wide settings in `steward.yaml`. Steward plans the\n\
difference between these files and the live systems, and applies it.\n\
\n\
## Try it against the lab (no accounts needed)\n\
\n\
```sh\n\
steward lab init                     # a lab key for each org\n\
steward lab serve &                  # prints the URL to export\n\
export STEWARD_GOOGLE_URL=http://127.0.0.1:8089\n\
steward validate && steward plan && steward apply && steward plan\n\
```\n\
\n\
## Day to day\n\
\n\
- A new member: copy `orgs/example-org.yaml` to `orgs/<id>.yaml` (the id is the file\n\
\x20 name), fill it in, `steward validate`, open a pull request; the plan is its review.\n\
- The pool's standard is `baseline.yaml`: items every org of a tier gets or is held\n\
\x20 to, with dated exceptions in org files. `steward baseline` shows each org against\n\
\x20 it (`--format html --out standard.html` for a page to publish).\n\
- Secrets never go into git: `secrets/` and `.steward/` are ignored.\n\
- Editors check org files with `schema/org.schema.json` and `steward.yaml` with\n\
\x20 `schema/steward.schema.json` (each file's first line names its schema); after\n\
\x20 changing `modules/`, `steward schema --out schema/org.schema.json`.\n\
- {ci_line}\n"
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every module and CI file of this repository is built in: a new one added to
    /// `modules/` or `ci/` but not here fails this test.
    #[test]
    fn every_shipped_module_and_ci_file_is_built_in() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = Vec::new();
        for top in ["modules", "ci"] {
            let mut stack = vec![root.join(top)];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        let rel = path.strip_prefix(root).expect("inside");
                        on_disk.push(rel.to_string_lossy().into_owned());
                    }
                }
            }
        }
        on_disk.sort();
        let mut built_in: Vec<String> = super::MODULES
            .iter()
            .map(|(p, _)| p.to_string())
            .chain(
                super::GITHUB
                    .iter()
                    .chain(super::GITLAB)
                    .map(|(source, _, _)| source.to_string()),
            )
            .collect();
        built_in.sort();
        assert_eq!(on_disk, built_in);
    }
}

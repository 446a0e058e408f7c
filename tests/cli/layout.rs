//! The shape of the code that the provider interface depends on: the engine, plans,
//! drift reports and the CLI know providers only through the registry, and kinds are
//! declared only by their providers. A provider named outside `src/providers/` is how
//! adding one turns back into a tour of the codebase.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines of `path` (tests at the end of a file excepted) that contain any of `words`.
fn offending(path: &Path, words: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| words.iter().any(|w| line.contains(w)))
        .map(|(i, line)| format!("{}:{}: {}", path.display(), i + 1, line.trim()))
        .collect()
}

#[test]
fn the_engine_plans_drift_and_the_cli_name_no_provider() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("engine.rs")];
    for dir in ["cli", "plan", "drift"] {
        rust_files(&src.join(dir), &mut files);
    }
    assert!(files.len() > 10, "{files:?}");
    // Provider names and their modules, and any kind by name.
    let words = [
        "google",
        "Google",
        "ssh",
        "Ssh",
        "SSH",
        "unifi",
        "UniFi",
        "_user",
        "_group",
        "_member",
        "_org_unit",
        "cups",
        "restic",
        "hostapd",
        "systemd",
        "apt_",
    ];
    let found: Vec<String> = files.iter().flat_map(|f| offending(f, &words)).collect();
    assert!(
        found.is_empty(),
        "provider named outside src/providers/:\n{}",
        found.join("\n")
    );
}

#[test]
fn kinds_are_declared_only_by_their_providers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let found: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(src.join("providers")) && !f.ends_with("resource.rs"))
        .flat_map(|f| offending(f, &["KindSpec {", "KindSpec::new("]))
        .collect();
    assert!(
        found.is_empty(),
        "a kind declared outside src/providers/:\n{}",
        found.join("\n")
    );
}

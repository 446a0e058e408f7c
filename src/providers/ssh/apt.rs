//! Debian packages: read with `dpkg-query`, installed with `apt-get`.

use serde_json::json;

use super::shell::quote;
use super::{
    Conn, HostFacts, HostRead, MARK, NAME, OnSite, Output, Part, SshError, Step, host_name_id,
};
use crate::resource::{Attrs, Kind, KindSpec, Reference, Resource};

pub const APT_PACKAGE: Kind = Kind::of(&SPEC);

pub(super) static SPEC: KindSpec = KindSpec {
    // Several modules may need one package on one host: it is one resource.
    merges_identical: true,
    on_host: true,
    ..KindSpec::new(
        "apt_package",
        "package",
        NAME,
        1,
        &[("host", true), ("name", true)],
        host_name_id,
    )
};

/// The Debian package a kind needs on its host.
pub fn package(attrs: &Attrs, name: &str) -> Reference {
    Reference {
        attribute: "host",
        kinds: &[APT_PACKAGE],
        id: format!("{}:{name}", attrs.str("host")),
    }
}

pub struct Apt;

impl OnSite for Apt {
    fn kinds(&self) -> &'static [Kind] {
        &[APT_PACKAGE]
    }

    fn ask(&self, mine: &[&Resource], script: &mut String) {
        let packages: Vec<String> = mine.iter().map(|r| quote(r.attrs.str("name"))).collect();
        script.push_str(&format!(
            "echo '{MARK}apt'\ndpkg-query -W -f '${{Package}}\\t${{db:Status-Status}}\\n' {} 2>/dev/null\n",
            packages.join(" ")
        ));
    }

    fn read(
        &self,
        at: &HostRead<'_>,
        _: &[&Resource],
        facts: &mut HostFacts,
    ) -> Result<(), SshError> {
        let host = at.host;
        for line in at.section("apt").unwrap_or_default().lines() {
            if let Some((name, "installed")) = line.split_once('\t') {
                let mut a = Attrs::default();
                a.insert("host", json!(host));
                a.insert("name", json!(name));
                facts.put(APT_PACKAGE, format!("{host}:{name}"), a);
            }
        }
        Ok(())
    }

    /// Every package of the batch in one apt transaction, one outcome for all.
    fn parts<'a>(&self, steps: &[Step<'a>]) -> Vec<Result<Part<'a>, (usize, SshError)>> {
        let names: Vec<String> = steps
            .iter()
            .map(|s| s.want.str("name").to_string())
            .collect();
        let lines = install_script(&names);
        let n = steps.len();
        vec![Ok(Part {
            steps: (0..n).collect(),
            lines,
            read: Box::new(move |conn: &Conn, said: Output| {
                vec![installed(&conn.host.name, &names, said); n]
            }),
        })]
    }
}

/// Exit statuses of the install script for what apt alone would say less clearly.
const HELD: i32 = 90;
const INTERRUPTED: i32 = 91;
const UNREACHABLE: i32 = 92;
const UNKNOWN: i32 = 93;

/// Times the package lists are read before a repository counts as unreachable (a
/// network that drops a moment is not a repository that is down).
const UPDATE_TRIES: u32 = 3;

/// How long apt waits for another apt or dpkg (an unattended upgrade) to let go of
/// its lock before giving up.
const LOCK_WAIT_SECS: u32 = 300;

/// The script that installs `packages` in one apt transaction, without a question:
/// a held package or a dpkg interrupted by someone else is refused before anything
/// changes; package lists are read when a package has none, and again once when the
/// ones read are out of date.
pub fn install_script(packages: &[impl AsRef<str>]) -> String {
    let names: Vec<String> = packages.iter().map(|p| quote(p.as_ref())).collect();
    let names = names.join(" ");
    format!(
        "export LC_ALL=C DEBIAN_FRONTEND=noninteractive\n\
         held=$(apt-mark showhold {names} 2>/dev/null | tr '\\n' ' ')\n\
         if [ -n \"$held\" ]; then echo \"$held\"; exit {HELD}; fi\n\
         audit=$(dpkg --audit 2>/dev/null | sed -n 's/^ \\([^ ]*\\) .*/\\1/p' | sort -u | tr '\\n' ' ')\n\
         if [ -n \"$audit\" ]; then echo \"$audit\"; exit {INTERRUPTED}; fi\n\
         update() {{\n\
         \x20 i=0\n\
         \x20 until out=$(apt-get update -q --error-on=any 2>&1); do\n\
         \x20   i=$((i + 1))\n\
         \x20   case $out in *'Could not get lock'*) [ $i -lt {LOCK_WAIT_SECS} ] && sleep 1 && continue ;; esac\n\
         \x20   [ $i -lt {UPDATE_TRIES} ] && sleep 2 && continue\n\
         \x20   echo \"$out\" | grep -E '^(E|W|Err):' | head -5; exit {UNREACHABLE}\n\
         \x20 done\n\
         }}\n\
         for p in {names}; do\n\
         \x20 apt-cache show \"$p\" >/dev/null 2>&1 || {{ update; break; }}\n\
         done\n\
         for p in {names}; do\n\
         \x20 apt-cache show \"$p\" >/dev/null 2>&1 || {{ echo \"$p\"; exit {UNKNOWN}; }}\n\
         done\n\
         install() {{\n\
         \x20 apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout={LOCK_WAIT_SECS} \\\n\
         \x20   -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold {names} 2>&1\n\
         }}\n\
         out=$(install) && exit 0\n\
         case $out in\n\
         \x20 *'Unable to fetch'*|*'404  Not Found'*|*'Failed to fetch'*)\n\
         \x20   update\n\
         \x20   out=$(install) && exit 0\n\
         \x20   case $out in *'Failed to fetch'*|*'Unable to fetch'*) echo \"$out\" | grep -E '^(E|W|Err):' | head -5; exit {UNREACHABLE} ;; esac ;;\n\
         esac\n\
         echo \"$out\"\n\
         exit 1\n"
    )
}

/// Reads what the install script said into its outcome, for all its packages.
fn installed(host: &str, packages: &[String], out: Output) -> Result<(), SshError> {
    let said = out.text.trim();
    let message = match out.status {
        0 => return Ok(()),
        HELD => format!(
            "{said} held on {host} (apt-mark hold): Steward does not install over a hold, and installed nothing. If it should be installed, `apt-mark unhold {said}` on {host}, then apply again"
        ),
        INTERRUPTED => format!(
            "an earlier install on {host} was interrupted and left {said} half-configured; Steward does not finish another run's install, and installed nothing. Run `dpkg --configure -a` on {host} (or see `dpkg --audit`), then apply again"
        ),
        UNREACHABLE => format!(
            "{host} could not read its package repository, so nothing was installed: {}. Check the host's apt sources and that the repository answers, then apply again",
            said.lines().collect::<Vec<_>>().join("; ")
        ),
        UNKNOWN => format!(
            "no package {said} in {host}'s package sources (apt-cache show {said}); nothing was installed. Check the name, or add the source that has it"
        ),
        _ => return Err(out.failed(host, &format!("apt-get install {}", packages.join(" ")))),
    };
    Err(SshError::Failed {
        host: host.to_string(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_script_is_one_valid_shell_script_quoting_every_name() {
        let script = install_script(&["cups", "odd name'"]);
        assert!(
            script.contains("apt-mark showhold cups 'odd name'\\'''"),
            "{script}"
        );
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", &script])
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

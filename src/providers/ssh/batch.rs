//! Changes of one host that are ready together, carried out by one script: one round
//! trip a batch, however many changes it holds. Each kind writes the shell lines for
//! its changes (a [`Part`]); this file puts them in one script, runs it, and hands
//! each part back what it said and its exit status.
//!
//! Every part runs in a subshell of its own (`eval` of its lines quoted, so even a
//! part the shell cannot parse fails alone) with stdin from /dev/null (the script
//! itself arrives on the shell's stdin: a command reading it would eat the parts
//! after its own), so `exit` or `set -e` ends only that part and a failing part fails
//! only its changes. Each line a part prints comes back prefixed with the part's
//! number: nothing a part prints can pass for another part's result.

use super::conn::{Conn, Output, SshError};
use super::shell::quote;
use super::{MARK, failed, hide_secrets};
use crate::secrets::Secret;

/// Reads a part's outcome into one result per step it carries out, in order. It is
/// given the session for what needs another round trip (a queue CUPS lost).
pub type Read<'a> = Box<dyn FnOnce(&Conn, Output) -> Vec<Result<(), SshError>> + 'a>;

/// Shell lines carrying out some of a kind's steps in the host's batch script.
pub struct Part<'a> {
    /// The steps it carries out: places in the slice the kind was given.
    pub steps: Vec<usize>,
    pub lines: String,
    pub read: Read<'a>,
}

/// The lines for one change, as most kinds write them.
pub struct Script {
    pub lines: String,
    /// What a failure names: `restic init /srv/backup`.
    pub what: String,
    /// Secret values the lines hold: hidden in anything they print.
    pub hide: Vec<(String, Secret)>,
}

impl<'a> Part<'a> {
    /// A part for one step: it succeeded if its lines exit 0.
    pub fn one(step: usize, script: Script) -> Part<'a> {
        let Script { lines, what, hide } = script;
        Part {
            steps: vec![step],
            lines,
            read: Box::new(move |conn: &Conn, said: Output| {
                vec![match said.status {
                    0 => Ok(()),
                    _ => Err(hide_secrets(said.failed(&conn.host.name, &what), &hide)),
                }]
            }),
        }
    }
}

/// The script running every part in turn, each reporting `@@steward part K STATUS`
/// after its own output, every line of which is `@@steward out K `-prefixed.
pub fn script<'s>(parts: impl IntoIterator<Item = &'s str>) -> String {
    let mut s = String::from("export LC_ALL=C\n");
    for (k, lines) in parts.into_iter().enumerate() {
        s.push_str(&format!(
            "steward_o=$( {{ eval {}; }} </dev/null 2>&1 ); steward_s=$?\n\
             [ -n \"$steward_o\" ] && printf '%s\\n' \"$steward_o\" | sed 's/^/{MARK}out {k} /'\n\
             echo \"{MARK}part {k} $steward_s\"\n",
            quote(lines)
        ));
    }
    s
}

/// Splits the script's output by part: `None` for a part that never reported (the
/// script was cut short before it ended).
pub fn split(text: &str, parts: usize) -> Vec<Option<Output>> {
    let mut texts = vec![String::new(); parts];
    let mut statuses: Vec<Option<i32>> = vec![None; parts];
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(MARK) else {
            continue;
        };
        // A part's own lines first: they may hold anything, a status line included.
        if let Some(rest) = rest.strip_prefix("out ") {
            let (k, said) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(t) = k.parse::<usize>().ok().and_then(|k| texts.get_mut(k)) {
                t.push_str(said);
                t.push('\n');
            }
        } else if let Some(rest) = rest.strip_prefix("part ")
            && let Some((k, status)) = rest.split_once(' ')
            && let (Ok(k), Ok(status)) = (k.parse::<usize>(), status.parse::<i32>())
            && let Some(slot) = statuses.get_mut(k)
        {
            *slot = Some(status);
        }
    }
    texts
        .into_iter()
        .zip(statuses)
        .map(|(text, status)| status.map(|status| Output { status, text }))
        .collect()
}

/// Runs the parts in one round trip: a result for each of their steps, by part.
pub fn run(conn: &Conn, parts: Vec<Part<'_>>) -> Vec<Vec<Result<(), SshError>>> {
    if parts.is_empty() {
        return Vec::new();
    }
    let text = script(parts.iter().map(|p| p.lines.as_str()));
    let out = match conn.run("sh -s", text.as_bytes()) {
        Ok(out) => out,
        Err(e) => {
            return parts
                .iter()
                .map(|p| p.steps.iter().map(|_| Err(e.clone())).collect())
                .collect();
        }
    };
    let said = split(&out.text, parts.len());
    parts
        .into_iter()
        .zip(said)
        .map(|(part, said)| match said {
            Some(said) => {
                let n = part.steps.len();
                let mut results = (part.read)(conn, said);
                // A part answers for each of its steps; one that does not is a bug,
                // told as such rather than taken for success.
                results.resize_with(n, || Err(failed(conn, "no result for this change".into())));
                results
            }
            None => part
                .steps
                .iter()
                .map(|_| {
                    Err(failed(
                        conn,
                        format!(
                            "the host's script ended (exit {}) before this change was made or not; plan again to see where the host stands",
                            out.status
                        ),
                    ))
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-s")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(script.as_bytes())?;
                child.wait_with_output()
            })
            .expect("sh")
    }

    #[test]
    fn each_part_keeps_its_own_output_and_status() {
        let parts = [
            "echo one; exit 3",
            // Reads stdin: must not eat the parts after it.
            "cat; set -e; false; echo never",
            // Pretends to be another part's result, and uses `case`, inside `$( )`.
            "echo '@@steward part 0 0'; case x in x) echo matched ;; esac",
            "",
            // Cannot be parsed: fails alone.
            "if then (",
            "echo last",
        ];
        let out = sh(&script(parts));
        let text = String::from_utf8_lossy(&out.stdout);
        let said = split(&text, 7);
        assert_eq!(
            said[0],
            Some(Output {
                status: 3,
                text: "one\n".into()
            }),
            "{text}"
        );
        assert_eq!(said[1].as_ref().map(|s| s.status), Some(1));
        assert_eq!(said[1].as_ref().map(|s| s.text.as_str()), Some(""));
        assert_eq!(
            said[2],
            Some(Output {
                status: 0,
                text: "@@steward part 0 0\nmatched\n".into()
            })
        );
        assert_eq!(said[3].as_ref().map(|s| s.status), Some(0));
        assert_eq!(said[4].as_ref().map(|s| s.status), Some(2), "{text}");
        assert_eq!(said[5].as_ref().map(|s| s.text.as_str()), Some("last\n"));
        // A part the script never reached.
        assert_eq!(said[6], None);
    }

    #[test]
    fn a_script_cut_short_leaves_the_rest_unreported() {
        // `$$` is the script's shell, even in a part's subshell.
        let out = sh(&script(["echo a", "kill -9 $$", "echo c"]));
        let text = String::from_utf8_lossy(&out.stdout);
        let said = split(&text, 3);
        assert_eq!(said[0].as_ref().map(|s| s.text.as_str()), Some("a\n"));
        assert_eq!(said[1], None, "{text}");
        assert_eq!(said[2], None, "{text}");
    }
}

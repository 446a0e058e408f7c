//! Hostile and broken input: what a pull request author (or a shell pipeline) can throw
//! at Steward. Nothing may crash it, leak a secret, or cross from one org to another.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use crate::support::{Env, org_file, users};

/// Runs steward with its standard output already closed by the reader.
fn with_closed_stdout(env: &Env, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_read_only_commands_quietly_and_never_cuts_an_apply_short() {
    let mut env = Env::examples();
    for args in [&["modules"][..], &["orgs"][..], &["validate"][..]] {
        env.run(&["lab", "init"]);
        let (status, stderr) = with_closed_stdout(&env, args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(status.code(), Some(101), "{args:?}: {stderr}");
        assert!(
            status.signal() == Some(13) || status.success(),
            "{args:?}: ended by SIGPIPE or done: {status:?} {stderr}"
        );
    }
    env.write(
        "orgs/o.yaml",
        &org_file(
            "o",
            "o.org",
            "C0o",
            "users:\n  - {email: dana@o.org, name: Dana Whitfield}\n",
        ),
    );
    env.start_lab(&[]);
    let (status, stderr) = with_closed_stdout(&env, &["apply", "--yes", "orgs/o.yaml"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?} {stderr}");
    assert!(users(&env.tenant("C0o")).contains(&"dana@o.org".to_string()));
}

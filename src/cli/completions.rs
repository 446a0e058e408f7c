//! `steward completions SHELL`: the shell's completion script, generated from the same
//! command definitions the parser uses, so it never goes stale.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CmdResult, Status};

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

/// Writes the script to standard output. Install it the shell's way, e.g. bash:
/// `steward completions bash > ~/.local/share/bash-completion/completions/steward`.
pub fn run(args: CompletionsArgs) -> CmdResult {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "steward", &mut std::io::stdout());
    Ok(Status::Ok)
}

//! The command line: argument types, and one file per command. Commands return an exit
//! status; errors are rendered here, at the edge, with miette.

mod apply;
mod baseline;
mod completions;
mod drift;
mod graph;
mod import;
mod init;
mod lab;
mod modules;
mod orgs;
mod plan;
mod schema;
mod show;
mod validate;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::changes::{self, ChangeSet, ChangesError, Shard};
use crate::diag::{Problem, Problems};
use crate::modules::Catalogue;
use crate::org::{self, Org};
use crate::pool::Pool;
use crate::secrets::Secrets;

#[derive(Parser, Debug)]
#[command(
    name = "steward",
    version,
    about = "Pooled nonprofit IT as code: plan and apply org files against live systems"
)]
pub struct Cli {
    /// The pool repository (holding steward.yaml); found upwards from the current folder by default.
    #[arg(long, global = true, env = "STEWARD_ROOT")]
    pub root: Option<PathBuf>,
    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// More on standard error: -v what Steward does, -vv each org's refresh, every retry
    /// and every host round trip (as STEWARD_LOG=debug), -vvv everything.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors and results: no progress bars, no notes.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Work as of this day (YYYY-MM-DD) instead of today in the pool's time zone: who has
    /// started and who has left by then ("what happens on Monday?").
    #[arg(long, global = true, value_name = "DATE", env = "STEWARD_AS_OF")]
    pub as_of: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check org files without touching the network; reports every problem at once.
    Validate(validate::ValidateArgs),
    /// Refresh live state and show what apply would change.
    Plan(plan::PlanArgs),
    /// Apply changes: plan and ask, or carry out a saved plan.
    Apply(apply::ApplyArgs),
    /// Report what no longer matches the org files (read-only), compared with earlier runs.
    Drift(drift::DriftArgs),
    /// Every org against the pool's standard (baseline.yaml): meets, exception, does not
    /// meet; as text, JSON, Markdown or an HTML page.
    Baseline(baseline::BaselineArgs),
    /// Show an org's dependency graph of modules and resources.
    Graph(graph::GraphArgs),
    /// List the module catalogue.
    Modules(modules::ModulesArgs),
    /// List the org files a selection picks (e.g. `--changed-since`, `--shard`).
    Orgs(orgs::OrgsArgs),
    /// Local lab: emulators of the services that cannot be reached from here (Google, UniFi).
    Lab(lab::LabArgs),
    /// Take an existing org into the pool: write orgs/ORG.yaml from what its live systems hold.
    Import(crate::import::ImportArgs),
    /// Create a new pool repository: standard modules, an example org, CI, README.
    Init(init::InitArgs),
    /// Show a saved plan (`steward plan --out FILE`) as text, JSON or Markdown.
    Show(show::ShowArgs),
    /// Print the JSON Schema of this pool's org files, for editors.
    Schema(schema::SchemaArgs),
    /// Print the completion script for a shell (bash, zsh, fish, ...).
    Completions(completions::CompletionsArgs),
}

/// Which org files a command works on.
#[derive(Args, Debug, Clone, Default)]
pub struct Selection {
    /// Org files (default: every file in orgs/); `apply` also takes one saved plan file.
    pub files: Vec<PathBuf>,
    /// Every org in orgs/ (the default when no file is named).
    #[arg(long)]
    pub all: bool,
    /// Only orgs touched by git changes since REV: their file changed, a module they
    /// use changed, or steward.yaml changed. Deleted org files are reported.
    #[arg(long, value_name = "REV", conflicts_with_all = ["files", "all"])]
    pub changed_since: Option<String>,
    /// This job's share when N CI jobs split the orgs: I/N, 1 <= I <= N.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Only orgs of this tier of the pool's standard, or of a tier extending it: roll a
    /// change of the standard out to a pilot tier first.
    #[arg(long, value_name = "NAME")]
    pub tier: Option<String>,
}

/// How the network commands run: operations at once, and counting requests.
#[derive(Args, Debug, Clone, Default)]
pub struct EngineArgs {
    /// Operations at once within an org (default from steward.yaml, else 10).
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Print how many API requests were made (to stderr).
    #[arg(long)]
    pub stats: bool,
}

/// The org files a selection resolved to, and the git changes behind it if any.
#[derive(Debug, Default)]
pub struct Selected {
    pub files: Vec<PathBuf>,
    pub changes: Option<ChangeSet>,
}

impl Selected {
    /// Deleted org files, as the plan records them.
    pub fn deleted(&self) -> Vec<crate::plan::DeletedOrg> {
        self.changes
            .iter()
            .flat_map(|c| &c.deleted)
            .map(|f| crate::plan::DeletedOrg {
                org: org::id_from_path(f),
                file: f.display().to_string(),
            })
            .collect()
    }
}

/// The exit statuses, in one place (Terraform's convention for plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    Failed = 1,
    Changes = 2,
}

/// A provider's error as the diagnostic people see: the code and the help say who
/// must act on it (the one place that decides).
pub fn provider_problem(e: &crate::providers::ProviderError) -> Problem {
    use crate::providers::Who;
    let (code, help) = match e.who() {
        Who::Config => (
            "provider_config",
            "the pool's set-up: check steward.yaml, the secrets and the service's own settings",
        ),
        Who::Decision => (
            "provider_refused",
            "Steward will not decide this alone: settle it in the service or the org file, then run again",
        ),
        Who::Remote => (
            "provider_remote",
            "the service or host did not do what was asked: try again, and check it is reachable",
        ),
        Who::Internal => (
            "internal",
            "this is a bug in Steward: please report it with the command you ran",
        ),
    };
    Problem::new(code, e.to_string()).with_help(help)
}

/// `print!` that ignores a closed or failing standard output (used by apply, whose work
/// must not stop because its reader went away).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `println!` that ignores a closed or failing standard output.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use {out, outln};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let wants = |terminal: bool| match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let color = wants(std::io::stderr().is_terminal());
    let color_out = wants(std::io::stdout().is_terminal());
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(color)
                .terminal_links(false)
                .width(110)
                .build(),
        )
    }));
    // STEWARD_LOG (a tracing filter) wins over -v/-q.
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        // Steward's own events; other crates' (HTTP connections) only with -vvv.
        (false, 1) => "warn,steward=info",
        (false, 2) => "warn,steward=debug",
        (false, _) => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STEWARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .init();
    let ui = Ui {
        color,
        color_out,
        quiet: cli.quiet,
    };
    // `steward plan | head`: a reader that goes away ends a read-only command quietly,
    // with the usual status for a closed pipe. An apply is never cut short by it: its
    // output ignores a closed pipe (see `out!`) and the work goes on.
    if !matches!(
        cli.command,
        Command::Apply(_) | Command::Lab(_) | Command::Init(_)
    ) {
        // SAFETY: restoring a signal's default disposition, before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Some(date) = &cli.as_of
        && let Err(why) = crate::util::set_as_of(date)
    {
        eprintln!(
            "{:?}",
            miette::Report::new(Problem::new("as_of", format!("--as-of: {why}")))
        );
        return ExitCode::from(Status::Failed as u8);
    }
    let status = match cli.command {
        Command::Validate(a) => validate::run(&cli.root, &ui, a),
        Command::Plan(a) => plan::run(&cli.root, &ui, a),
        Command::Apply(a) => apply::run(&cli.root, &ui, a),
        Command::Drift(a) => drift::run(&cli.root, &ui, a),
        Command::Baseline(a) => baseline::run(&cli.root, &ui, a),
        Command::Graph(a) => graph::run(&cli.root, &ui, a),
        Command::Modules(a) => modules::run(&cli.root, &ui, a),
        Command::Orgs(a) => orgs::run(&cli.root, &ui, a),
        Command::Lab(a) => lab::run(&cli.root, &ui, a),
        Command::Import(a) => import::run(&cli.root, &ui, a),
        Command::Show(a) => show::run(&ui, a),
        Command::Init(a) => init::run(&ui, a),
        Command::Schema(a) => schema::run(&cli.root, &ui, a),
        Command::Completions(a) => completions::run(a),
    };
    match status {
        Ok(s) => ExitCode::from(s as u8),
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(*e));
            ExitCode::from(Status::Failed as u8)
        }
    }
}

pub type CmdResult = Result<Status, Box<Problem>>;

/// How output should look.
pub struct Ui {
    /// Colour on standard error (diagnostics, progress).
    pub color: bool,
    /// Colour on standard output (plans): decided for that stream, so `steward plan >
    /// plan.txt` from a terminal writes no escape codes into the file.
    pub color_out: bool,
    /// `-q`: no progress bars, no notes; errors and results only.
    pub quiet: bool,
}

impl Ui {
    /// A note for people on standard error (what was saved, how many files were valid),
    /// left out with `-q`.
    pub fn note(&self, text: std::fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    pub fn report(&self, problems: &Problems) {
        for p in &problems.0 {
            eprintln!("{:?}", miette::Report::new(p.clone()));
        }
    }
}

/// The pool, its modules and secrets: what every command that reads org files needs.
pub struct Workspace {
    pub pool: Pool,
    pub catalogue: Catalogue,
    pub secrets: Secrets,
}

impl Workspace {
    pub fn open(root: &Option<PathBuf>, ui: &Ui) -> Result<Workspace, Box<Problem>> {
        let root = match root {
            Some(r) => r.clone(),
            None => {
                let cwd = std::env::current_dir()
                    .map_err(|e| Problem::new("cwd", format!("no current folder: {e}")))?;
                Pool::discover(&cwd).ok_or_else(|| {
                    Problem::new("pool_file", "no steward.yaml here or in any parent folder")
                        .with_help("run steward inside the pool repository, or pass --root DIR")
                })?
            }
        };
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        let pool = Pool::load(&root)?;
        let (catalogue, problems) = Catalogue::load(&pool.modules_dir());
        if !problems.is_empty() {
            ui.report(&Problems(problems));
            return Err(Box::new(Problem::new(
                "modules",
                "the module catalogue has problems (above); fix them first",
            )));
        }
        let mut pool = pool;
        match crate::baseline::load(&pool.root, &catalogue, &crate::providers::measures()) {
            Ok(b) => pool.baseline = b.map(std::sync::Arc::new),
            Err(problems) => {
                ui.report(&problems);
                return Err(Box::new(
                    Problem::new(
                        "baseline",
                        "the pool's standard (baseline.yaml) has problems (above); fix them first",
                    )
                    .with_help("nothing is planned or applied while the standard does not check"),
                ));
            }
        }
        let secrets = Secrets::new(&pool.secrets_dir(), &pool.config.secrets.env_prefix);
        Ok(Workspace {
            pool,
            catalogue,
            secrets,
        })
    }

    /// The drift history in the pool's state folder (drift runs and compliance views).
    pub fn history(&self) -> Result<crate::drift::history::SqliteHistory, Box<Problem>> {
        let path = self.pool.state_dir().join(drift::HISTORY_FILE);
        crate::drift::history::SqliteHistory::open(&path)
            .map_err(|e| Box::new(Problem::new("history", e.to_string())))
    }

    /// The engine that refreshes, plans and applies, bounded as `args` asks.
    pub fn engine(
        &self,
        args: &EngineArgs,
    ) -> Result<std::sync::Arc<crate::engine::Engine>, Box<Problem>> {
        crate::engine::Engine::new(self.pool.clone(), args.parallelism)
            .map(std::sync::Arc::new)
            .map_err(|e| match e {
                crate::engine::EngineError::Provider(e) => Box::new(provider_problem(&e)),
                e => Box::new(Problem::new("engine", e.to_string())),
            })
    }

    /// An org file named by its path or by its org id (`riverside-food-bank`). A name
    /// that is neither says so, with the nearest org ids.
    pub fn org_file(&self, name: &Path) -> Result<PathBuf, Box<Problem>> {
        if name.exists() {
            return Ok(absolute(name));
        }
        let text = name.to_string_lossy();
        let is_id = !text.contains('/') && name.extension().is_none();
        if is_id {
            let file = self.pool.orgs_dir().join(format!("{text}.yaml"));
            if file.is_file() {
                return Ok(file);
            }
        }
        let ids: Vec<String> = org::discover(&self.pool)
            .unwrap_or_default()
            .iter()
            .map(|f| org::id_from_path(f))
            .collect();
        let mut near: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| id.contains(text.as_ref()))
            .take(3)
            .collect();
        if near.is_empty() {
            near.extend(crate::diag::suggest(&text, ids.iter().map(String::as_str)));
        }
        let help = if near.is_empty() {
            format!(
                "org files are in {} (`steward orgs` lists them)",
                self.pool.display_path(&self.pool.orgs_dir()).display()
            )
        } else {
            format!(
                "did you mean {}?",
                near.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        };
        Err(Box::new(
            Problem::new(
                "org_file",
                if is_id {
                    format!("no org file for `{text}` (looked for orgs/{text}.yaml)")
                } else {
                    format!("no org file {text}")
                },
            )
            .with_help(help),
        ))
    }

    /// Resolves a selection to org files. With `--changed-since`, says on stderr which
    /// orgs were selected and why, and which org files were deleted.
    pub fn select(&self, sel: &Selection) -> Result<Selected, Box<Problem>> {
        let discovered = || {
            org::discover(&self.pool).map_err(|e| {
                Problem::new(
                    "orgs_dir",
                    format!("cannot read {}: {e}", self.pool.orgs_dir().display()),
                )
            })
        };
        let mut selected = Selected::default();
        let mut universe = Vec::new();
        if let Some(rev) = &sel.changed_since {
            universe = discovered()?;
            let set = changes::since(&self.pool, &self.catalogue, &universe, rev)
                .map_err(|e| changes_problem(&e))?;
            selected.files = set.selected.keys().cloned().collect();
            self.describe(&set, universe.len());
            selected.changes = Some(set);
        } else if sel.files.is_empty() || sel.all {
            universe = discovered()?;
            selected.files = universe.clone();
            for f in &sel.files {
                let f = self.org_file(f)?;
                if !selected.files.contains(&f) {
                    selected.files.push(f);
                }
            }
        } else {
            selected.files = sel
                .files
                .iter()
                .map(|f| self.org_file(f))
                .collect::<Result<_, _>>()?;
        }
        if let Some(tier) = &sel.tier {
            let before = selected.files.len();
            selected.files = self.of_tier(tier, std::mem::take(&mut selected.files))?;
            eprintln!(
                "Tier {tier}: {} of {before} selected org(s).",
                selected.files.len()
            );
        }
        if let Some(shard) = sel.shard {
            if universe.is_empty() {
                universe = discovered()?;
            }
            let before = selected.files.len();
            selected.files = shard.filter(&universe, std::mem::take(&mut selected.files));
            eprintln!(
                "Shard {shard}: {} of {before} selected org(s).",
                selected.files.len()
            );
        }
        Ok(selected)
    }

    /// The files among `files` whose org is of `tier` or a tier extending it, read from
    /// their `tier:` (or the standard's default) without loading them; a file that
    /// cannot be read is kept, so that loading says why.
    fn of_tier(&self, tier: &str, files: Vec<PathBuf>) -> Result<Vec<PathBuf>, Box<Problem>> {
        let Some(baseline) = &self.pool.baseline else {
            return Err(Box::new(
                Problem::new(
                    "no_baseline",
                    "--tier names a tier of the pool's standard, and this pool has none",
                )
                .with_help("write baseline.yaml at the pool's root (README: The pool's standard)"),
            ));
        };
        if !baseline.tiers.contains_key(tier) {
            let mut p = Problem::new("tier", format!("unknown tier `{tier}`"));
            p = match crate::diag::suggest(tier, baseline.tiers.keys().map(String::as_str)) {
                Some(s) => p.with_help(format!("did you mean `{s}`?")),
                None => p.with_help(format!(
                    "tiers: {}",
                    baseline
                        .tiers
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            return Err(Box::new(p));
        }
        Ok(files
            .into_iter()
            .filter(|f| {
                let Some(root) = std::fs::read_to_string(f)
                    .ok()
                    .and_then(|t| crate::yaml::parse(&t).ok())
                else {
                    return true;
                };
                let own = root.get("tier").and_then(crate::yaml::Node::as_str);
                own.or(baseline.default_tier.as_deref())
                    .is_some_and(|t| baseline.extends(t, tier))
            })
            .collect())
    }

    fn describe(&self, set: &ChangeSet, total: usize) {
        let short = &set.commit[..set.commit.len().min(12)];
        eprintln!(
            "Changes since {} ({short}): {} of {total} org(s) selected.",
            set.rev,
            set.selected.len()
        );
        for (file, reasons) in &set.selected {
            let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            eprintln!(
                "  {}: {}",
                self.pool.display_path(file).display(),
                why.join("; ")
            );
        }
        for file in &set.deleted {
            eprintln!(
                "  {}: deleted; its live objects are left as they are (see README: retiring an org)",
                file.display()
            );
        }
    }

    /// Loads the org files. Any problem in any of them stops the command: nothing
    /// is planned or applied from a pool whose files do not check.
    pub fn load_orgs(&self, files: &[PathBuf], ui: &Ui) -> Result<Vec<Org>, Box<Problem>> {
        let (orgs, problems) = org::load_all(&self.pool, &self.catalogue, &self.secrets, files);
        if !problems.is_empty() {
            return Err(invalid(&problems, ui));
        }
        Ok(orgs)
    }

    /// As `load_orgs`, shared across the async tasks of apply.
    pub fn load_shared(
        &self,
        files: &[PathBuf],
        ui: &Ui,
    ) -> Result<Vec<std::sync::Arc<Org>>, Box<Problem>> {
        let (orgs, problems) =
            org::load_all_shared(&self.pool, &self.catalogue, &self.secrets, files, &|_| {});
        if !problems.is_empty() {
            return Err(invalid(&problems, ui));
        }
        Ok(orgs)
    }

    /// Loads the org files and plans them, refreshing each as soon as it is loaded.
    pub fn load_and_plan(
        &self,
        engine: &std::sync::Arc<crate::engine::Engine>,
        rt: &tokio::runtime::Runtime,
        selected: &Selected,
        ui: &Ui,
    ) -> Result<crate::engine::PlanResult, Box<Problem>> {
        let (orgs, mut plan, sessions) = engine
            .load_and_plan(rt, &self.catalogue, &selected.files)
            .map_err(|problems| invalid(&problems, ui))?;
        plan.deleted_orgs = selected.deleted();
        Ok((orgs, plan, sessions))
    }
}

fn changes_problem(e: &ChangesError) -> Box<Problem> {
    let mut p = Problem::new("changed_since", e.to_string());
    if let Some(h) = e.help() {
        p = p.with_help(h);
    }
    Box::new(p)
}

/// Reports problems and turns them into the one error the command ends with.
fn invalid(problems: &Problems, ui: &Ui) -> Box<Problem> {
    ui.report(problems);
    Box::new(
        Problem::new(
            "invalid",
            format!(
                "{} problem(s) in the org files; nothing was planned or applied",
                problems.len()
            ),
        )
        .with_help("run `steward validate` to see them all"),
    )
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A tokio runtime for commands that talk to the network.
pub fn runtime() -> Result<tokio::runtime::Runtime, Box<Problem>> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Box::new(Problem::new(
                "runtime",
                format!("cannot start the async runtime: {e}"),
            ))
        })
}

//! Plan and apply over many orgs: refresh (batched, concurrent), diff, and a bounded
//! parallel walk of each org's change graph. Orgs are independent: one failing never
//! stops or spoils another.

use std::collections::HashMap;
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use petgraph::graph::NodeIndex;

use crate::graph::{DepGraph, Outcome, walk};
use crate::org::Org;
use crate::plan::{self, Action, Change, OrgPlan, Plan, Summary};
use crate::pool::Pool;
use crate::providers::LiveState;
use crate::providers::google::{self, ApplyCtx, client::Http, client::Session};
use crate::providers::ssh;
use crate::resource::{Address, Kind, ProviderKind};
use crate::secrets::Secrets;

pub struct Engine {
    pub pool: Pool,
    pub secrets: Secrets,
    pub http: Arc<Http>,
    pub ssh: Arc<ssh::Settings>,
    pub parallelism: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Google(#[from] google::client::GoogleError),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error("cannot read the known_hosts file {path}: {message}")]
    KnownHosts { path: String, message: String },
    #[error("saved plan is stale for org `{org}`: {why}")]
    Stale { org: String, why: String },
}

/// Loaded orgs, their plan, and the sessions apply can reuse.
pub type PlanResult = (Vec<Arc<Org>>, Plan, Sessions);

/// Each planned org's sessions, by org id: apply reuses the Google token and the
/// hosts' SSH logins.
pub type Sessions = HashMap<String, OrgSessions>;

#[derive(Default)]
pub struct OrgSessions {
    pub google: Option<Arc<Session>>,
    pub ssh: ssh::Conns,
}

#[derive(Debug, Clone)]
pub struct ChangeResult {
    pub address: Address,
    pub action: Action,
    pub outcome: Outcome<String>,
    /// For skipped changes: what they waited on.
    pub blocked_by: Option<Address>,
}

#[derive(Debug, Clone)]
pub struct OrgApply {
    pub org: String,
    pub results: Vec<ChangeResult>,
    /// The org could not be applied at all (lock held, stale plan, refresh failed).
    pub error: Option<String>,
}

impl OrgApply {
    pub fn count(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for r in &self.results {
            match r.outcome {
                Outcome::Done => c.0 += 1,
                Outcome::Failed(_) => c.1 += 1,
                Outcome::Skipped(_) => c.2 += 1,
            }
        }
        c
    }
}

impl Engine {
    pub fn new(pool: Pool, parallelism: Option<usize>) -> Result<Engine, EngineError> {
        let secrets = Secrets::new(&pool.secrets_dir(), &pool.config.secrets.env_prefix);
        let http = Http::new(&pool.config.google)?;
        let ssh = ssh::Settings::from_pool(&pool).map_err(|e| EngineError::KnownHosts {
            path: pool
                .display_path(&pool.path(&pool.config.ssh.known_hosts))
                .display()
                .to_string(),
            message: e.to_string(),
        })?;
        let parallelism = parallelism.unwrap_or(pool.config.parallelism).max(1);
        Ok(Engine {
            pool,
            secrets,
            http,
            ssh: Arc::new(ssh),
            parallelism,
        })
    }

    /// Refreshes and plans orgs as they arrive, each in its own task so response
    /// parsing and diffing use every core (requests are bounded in the client).
    pub async fn plan_stream(
        &self,
        mut orgs: tokio::sync::mpsc::UnboundedReceiver<Arc<Org>>,
    ) -> (Plan, Sessions) {
        let mut tasks = tokio::task::JoinSet::new();
        while let Some(org) = orgs.recv().await {
            let (http, secrets, ssh) = (self.http.clone(), self.secrets.clone(), self.ssh.clone());
            tasks.spawn(async move {
                // The live state is done with once planned; the sessions are kept.
                match refresh_org(&http, &ssh, &secrets, &org, OrgSessions::default()).await {
                    Ok(r) => (plan_org(&org, &r), Some(r.sessions)),
                    Err(e) => (failed_plan(&org, e.to_string()), None),
                }
            });
        }
        let mut plans = Vec::new();
        let mut sessions = Sessions::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((plan, session)) => {
                    if let Some(session) = session {
                        sessions.insert(plan.org.clone(), session);
                    }
                    plans.push(plan);
                }
                Err(e) => tracing::error!("an org's planning task failed: {e}"),
            }
        }
        (Plan::new(plans), sessions)
    }

    /// Loads the selected orgs and plans them, refreshing each org as soon as it is
    /// loaded. If any file has problems nothing is returned but the problems: refresh
    /// only reads, so the work done meanwhile is simply dropped.
    pub fn load_and_plan(
        self: &Arc<Self>,
        rt: &tokio::runtime::Runtime,
        catalogue: &crate::modules::Catalogue,
        paths: &[std::path::PathBuf],
    ) -> Result<PlanResult, crate::diag::Problems> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let engine = self.clone();
        let planning = rt.spawn(async move { engine.plan_stream(rx).await });
        let send = move |org: &Arc<Org>| {
            let _ = tx.send(org.clone());
        };
        let (orgs, problems) =
            crate::org::load_all_shared(&self.pool, catalogue, &self.secrets, paths, &send);
        drop(send);
        let result = rt.block_on(planning);
        if !problems.is_empty() {
            return Err(problems);
        }
        match result {
            Ok((plan, sessions)) => Ok((orgs, plan, sessions)),
            Err(e) => {
                let mut p = crate::diag::Problems::default();
                p.push(crate::diag::Problem::new(
                    "internal",
                    format!("planning failed: {e}"),
                ));
                Err(p)
            }
        }
    }

    /// Applies each org's planned changes; orgs run one after another so their progress
    /// reads clearly, and changes within an org in parallel along the graph.
    pub async fn apply(
        &self,
        orgs: &[Arc<Org>],
        plan: &Plan,
        mut sessions: Sessions,
        progress: bool,
    ) -> Vec<OrgApply> {
        let multi = MultiProgress::with_draw_target(if progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let mut reports = Vec::new();
        for op in &plan.orgs {
            if op.error.is_some() || op.changes.is_empty() {
                continue;
            }
            let Some(org) = orgs.iter().find(|o| o.id == op.org) else {
                reports.push(OrgApply {
                    org: op.org.clone(),
                    results: vec![],
                    error: Some("org file not found".into()),
                });
                continue;
            };
            let bar = multi.add(ProgressBar::new(op.changes.len() as u64));
            bar.set_style(style.clone());
            bar.set_prefix(op.org.clone());
            let report = self
                .apply_org(org, op, sessions.remove(&op.org), &bar)
                .await;
            let (done, failed, skipped) = report.count();
            bar.finish_with_message(match &report.error {
                Some(e) => format!("not applied: {e}"),
                None => format!("{done} done, {failed} failed, {skipped} skipped"),
            });
            reports.push(report);
        }
        reports
    }

    async fn apply_org(
        &self,
        org: &Arc<Org>,
        op: &OrgPlan,
        session: Option<OrgSessions>,
        bar: &ProgressBar,
    ) -> OrgApply {
        let fail = |e: String| OrgApply {
            org: org.id.clone(),
            results: vec![],
            error: Some(e),
        };
        let _lock = match crate::lock::acquire(&self.pool.state_dir(), &org.id) {
            Ok(l) => l,
            Err(e) => return fail(e.to_string()),
        };
        // Under the lock, the plan must still describe this file and this live state:
        // another apply may have run between planning (or confirming) and now.
        let stale = |why: String| {
            fail(
                EngineError::Stale {
                    org: org.id.clone(),
                    why,
                }
                .to_string(),
            )
        };
        if op.file_sha256 != org.sha256 {
            return stale(format!("{} changed since the plan was made", op.file));
        }
        // Reuse the planning sessions (the token, the SSH logins) when there are some.
        let refreshed = match refresh_org(
            &self.http,
            &self.ssh,
            &self.secrets,
            org,
            session.unwrap_or_default(),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return fail(e.to_string()),
        };
        if refreshed.live.fingerprint() != op.live_sha256 {
            return stale("live state changed since the plan was made; plan again".into());
        }
        // The plan shown (or saved, and perhaps edited since) must be the plan the files
        // and the live state give now, change for change: only that is run.
        let recomputed = plan_org(org, &refreshed);
        if let Some(why) = plan::difference(&op.changes, &recomputed.changes) {
            return fail(format!(
                "refused: the plan's changes are not the ones the org file and the live state give ({why}); nothing was applied. Plan again"
            ));
        }
        let sessions = Arc::new(refreshed.sessions);
        let ctx = Arc::new(OwnedCtx {
            org: org.clone(),
            secrets: self.secrets.clone(),
            password_file: self
                .pool
                .state_dir()
                .join("passwords")
                .join(format!("{}.tsv", org.id)),
        });
        let graph = change_graph(&op.changes);
        let changes: Arc<Vec<Change>> = Arc::new(op.changes.clone());
        let outcomes = walk(&graph, self.parallelism, |node: NodeIndex| {
            let sessions = sessions.clone();
            let ctx = ctx.clone();
            let changes = changes.clone();
            let bar = bar.clone();
            async move {
                let change = &changes[node.index()];
                bar.set_message(format!("{} {}", change.action.symbol(), change.address));
                let r = match change.address.kind.provider() {
                    ProviderKind::Google => match &sessions.google {
                        Some(session) => {
                            let actx = ApplyCtx {
                                org: &ctx.org,
                                secrets: &ctx.secrets,
                                password_file: ctx.password_file.clone(),
                            };
                            google::apply(session, &actx, change)
                                .await
                                .map_err(|e| e.to_string())
                        }
                        None => Err("org has no Google tenant".to_string()),
                    },
                    ProviderKind::Ssh => {
                        apply_ssh(&sessions.ssh, &ctx.secrets, &ctx.org, change).await
                    }
                };
                bar.inc(1);
                r
            }
        })
        .await;
        let results = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| ChangeResult {
                address: op.changes[i].address.clone(),
                action: op.changes[i].action,
                blocked_by: match &outcome {
                    Outcome::Skipped(n) => Some(op.changes[n.index()].address.clone()),
                    _ => None,
                },
                outcome,
            })
            .collect();
        OrgApply {
            org: org.id.clone(),
            results,
            error: None,
        }
    }
}

struct OwnedCtx {
    org: Arc<Org>,
    secrets: Secrets,
    password_file: std::path::PathBuf,
}

/// Runs one on-site change on its host's session, off the async threads (ssh2 blocks).
async fn apply_ssh(
    conns: &ssh::Conns,
    secrets: &Secrets,
    org: &Arc<Org>,
    change: &Change,
) -> Result<(), String> {
    let r = org.resource(&change.address);
    let host = r
        .and_then(|r| r.address.kind.host_of(&r.attrs))
        .unwrap_or_default()
        .to_string();
    let Some(conn) = conns.get(&host).cloned() else {
        return Err(format!("host {host} is not connected"));
    };
    let (org, change, secrets) = (org.clone(), change.clone(), secrets.clone());
    tokio::task::spawn_blocking(move || {
        // One change at a time per host: they share the host's one session.
        let conn = conn
            .lock()
            .map_err(|_| "an earlier change on this host panicked".to_string())?;
        ssh::apply(&conn, &secrets, &org, &change).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("internal error: {e}"))?
}

/// What refreshing an org found, and the sessions that read it.
pub struct Refreshed {
    pub live: LiveState,
    /// On-site objects no org file declares.
    pub unmanaged: Vec<Address>,
    /// Hosts that could not be read, with why: only their resources fail.
    pub host_errors: std::collections::BTreeMap<String, String>,
    pub sessions: OrgSessions,
}

/// An org's live state from every provider it uses, Google and its hosts at once.
async fn refresh_org(
    http: &Arc<Http>,
    ssh_settings: &Arc<ssh::Settings>,
    secrets: &Secrets,
    org: &Arc<Org>,
    sessions: OrgSessions,
) -> Result<Refreshed, EngineError> {
    let OrgSessions {
        google: session,
        ssh: conns,
    } = sessions;
    let google_part = async {
        let Some(tenant) = &org.google else {
            return Ok((None, LiveState::default()));
        };
        let session = match session {
            Some(s) => s,
            None => Arc::new(google::connect(http, tenant, secrets)?),
        };
        let live = google::refresh(&session, org).await?;
        Ok::<_, EngineError>((Some(session), live))
    };
    let ssh_part = async {
        // Orgs with no on-site resources skip the trip to the blocking pool.
        if !org
            .resources
            .iter()
            .any(|r| r.address.kind.provider() == ProviderKind::Ssh)
        {
            return ssh::Refresh::default();
        }
        let (settings, org, secrets) = (ssh_settings.clone(), org.clone(), secrets.clone());
        tokio::task::spawn_blocking(move || ssh::refresh(&settings, &secrets, &org, &conns))
            .await
            .unwrap_or_default()
    };
    let (google_result, ssh_refresh) = tokio::join!(google_part, ssh_part);
    let (session, mut live) = google_result?;
    live.objects.extend(ssh_refresh.objects);
    Ok(Refreshed {
        live,
        unmanaged: ssh_refresh.unmanaged,
        host_errors: ssh_refresh.errors,
        sessions: OrgSessions {
            google: session,
            ssh: ssh_refresh.conns,
        },
    })
}

fn plan_org(org: &Org, refreshed: &Refreshed) -> OrgPlan {
    let live = &refreshed.live;
    let mut changes = plan::diff(org, live, |r| match r.address.kind.provider() {
        ProviderKind::Google => google::desired_attrs(org, r),
        ProviderKind::Ssh => ssh::desired_attrs(r),
    });
    // A host that could not be read has no known state: nothing is planned for it.
    changes.retain(|c| {
        let host = org
            .resource(&c.address)
            .and_then(|r| r.address.kind.host_of(&r.attrs));
        !host.is_some_and(|h| refreshed.host_errors.contains_key(h))
    });
    ssh::show_diffs(&mut changes);
    ssh::add_restarts(org, &mut changes);
    let (orphans, mut unmanaged) = google::orphans(org, live);
    changes.extend(orphans);
    let review = google::review(org, live, &mut changes);
    plan::sort_changes(org, &mut changes);
    unmanaged.extend(refreshed.unmanaged.iter().cloned());
    unmanaged.sort();
    OrgPlan {
        org: org.id.clone(),
        file: org.file.path.display().to_string(),
        file_sha256: org.sha256.clone(),
        live_sha256: live.fingerprint(),
        summary: Summary::of(&changes),
        changes,
        unmanaged,
        host_errors: refreshed
            .host_errors
            .iter()
            .map(|(host, error)| plan::HostError {
                host: host.clone(),
                error: error.clone(),
            })
            .collect(),
        unhealthy: {
            let mut u = ssh::health(org, live, crate::util::unix_now() as i64);
            u.extend(review.unhealthy);
            u
        },
        conflicts: review.conflicts,
        error: None,
    }
}

pub fn failed_plan(org: &Org, error: String) -> OrgPlan {
    OrgPlan {
        org: org.id.clone(),
        file: org.file.path.display().to_string(),
        file_sha256: org.sha256.clone(),
        live_sha256: String::new(),
        changes: vec![],
        unmanaged: vec![],
        host_errors: vec![],
        unhealthy: vec![],
        conflicts: vec![],
        summary: Summary::default(),
        error: Some(error),
    }
}

/// Orders changes: creates and updates after what they reference; deletes of members
/// before deletes of the users and groups they join.
pub fn change_graph(changes: &[Change]) -> DepGraph<usize> {
    let mut g = DepGraph::new();
    let mut edges = crate::graph::EdgeSet::default();
    let nodes: Vec<NodeIndex> = (0..changes.len()).map(|i| g.add_node(i)).collect();
    let index: HashMap<&Address, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    for (i, c) in changes.iter().enumerate() {
        for dep in &c.depends_on {
            if let Some(j) = index
                .get(dep)
                .filter(|j| changes[**j].action != Action::Delete)
            {
                edges.add(&mut g, nodes[*j], nodes[i]);
            }
        }
        if c.action == Action::Delete && c.address.kind == Kind::GoogleMember {
            let (group, email) = c.address.id.split_once('/').unwrap_or_default();
            for (kind, id) in [
                (Kind::GoogleGroup, group),
                (Kind::GoogleUser, email),
                (Kind::GoogleGroup, email),
            ] {
                let a = Address {
                    kind,
                    id: id.to_string(),
                };
                if let Some(j) = index
                    .get(&a)
                    .filter(|j| changes[**j].action == Action::Delete)
                {
                    edges.add(&mut g, nodes[i], nodes[*j]);
                }
            }
        }
    }
    g
}

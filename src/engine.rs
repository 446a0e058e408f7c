//! Plan and apply over many orgs: refresh (batched, concurrent), diff, and a bounded
//! parallel walk of each org's change graph. Orgs are independent: one failing never
//! stops or spoils another.

use std::collections::HashMap;
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use petgraph::graph::NodeIndex;

use crate::graph::{DepGraph, Outcome, walk_batched};
use crate::org::Org;
use crate::plan::{self, Action, Change, OrgPlan, Plan, Summary};
use crate::pool::Pool;
use crate::providers::{self, ApplyCtx, LiveState, Provider, ProviderError};
use crate::resource::Address;
use crate::secrets::Secrets;

pub struct Engine {
    pub pool: Pool,
    pub secrets: Secrets,
    /// Every provider, started for this run, in registry order.
    pub providers: Vec<Arc<dyn Provider>>,
    pub parallelism: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error("saved plan is stale for org `{org}`: {why}")]
    Stale { org: String, why: String },
}

/// Orgs applied at once by a pool-wide apply, unless `apply --orgs-at-once` says. Each org's changes run in parallel too
/// (`--parallelism`), and the Google client bounds requests across all of them.
pub const ORGS_AT_ONCE: usize = 4;

/// Loaded orgs, their plan, and the sessions apply can reuse.
pub type PlanResult = (Vec<Arc<Org>>, Plan, Sessions);

/// Each planned org's sessions, by org id: apply reuses what planning connected
/// (a token, the hosts' logins).
pub type Sessions = HashMap<String, OrgSessions>;

/// One org's sessions, by provider name.
pub type OrgSessions = HashMap<&'static str, providers::Session>;

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
        let providers = providers::start(&pool, &secrets)?;
        let parallelism = parallelism.unwrap_or(pool.config.parallelism).max(1);
        Ok(Engine {
            pool,
            secrets,
            providers,
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
            let providers = self.providers.clone();
            tasks.spawn(async move {
                // The live state is done with once planned; the sessions are kept.
                match refresh_org(&providers, &org, OrgSessions::default()).await {
                    Ok(r) => (plan_org(&providers, &org, &r), Some(r.sessions)),
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

    /// Applies each org's planned changes: up to `orgs_at_once` orgs at a time, each
    /// with its own progress bar while it runs, and changes within an org in parallel
    /// along its graph. Reports come back in the plan's order.
    pub async fn apply(
        &self,
        orgs: &[Arc<Org>],
        plan: &Plan,
        mut sessions: Sessions,
        progress: bool,
        orgs_at_once: usize,
    ) -> Vec<OrgApply> {
        use futures_util::stream::StreamExt as _;
        let multi = MultiProgress::with_draw_target(if progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        // 80 columns: 20 for the org, 30 for the bar, the rest for counts and the change.
        let style =
            ProgressStyle::with_template("{prefix:>20.bold} [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        let mut work = Vec::new();
        let mut reports: Vec<(usize, OrgApply)> = Vec::new();
        for (i, op) in plan.orgs.iter().enumerate() {
            if op.error.is_some() || op.changes.is_empty() {
                continue;
            }
            match orgs.iter().find(|o| o.id == op.org) {
                Some(org) => work.push((i, org, op, sessions.remove(&op.org))),
                None => reports.push((
                    i,
                    OrgApply {
                        org: op.org.clone(),
                        results: vec![],
                        error: Some("org file not found".into()),
                    },
                )),
            }
        }
        let (multi, style) = (&multi, &style);
        let mut running = futures_util::stream::iter(work)
            .map(|(i, org, op, session)| async move {
                let bar = multi.add(ProgressBar::new(op.changes.len() as u64));
                bar.set_style(style.clone());
                bar.set_prefix(op.org.clone());
                let report = self.apply_org(org, op, session, &bar).await;
                let (done, failed, skipped) = report.count();
                bar.finish_with_message(match &report.error {
                    Some(e) => format!("not applied: {e}"),
                    None => format!("{done} done, {failed} failed, {skipped} skipped"),
                });
                (i, report)
            })
            .buffer_unordered(orgs_at_once.max(1));
        while let Some(done) = running.next().await {
            reports.push(done);
        }
        reports.sort_by_key(|(i, _)| *i);
        reports.into_iter().map(|(_, r)| r).collect()
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
        let refreshed = match refresh_org(&self.providers, org, session.unwrap_or_default()).await {
            Ok(r) => r,
            Err(e) => return fail(e.to_string()),
        };
        if refreshed.live.fingerprint() != op.live_sha256 {
            return stale("live state changed since the plan was made; plan again".into());
        }
        // The plan shown (or saved, and perhaps edited since) must be the plan the files
        // and the live state give now, change for change: only that is run.
        let recomputed = plan_org(&self.providers, org, &refreshed);
        if let Some(why) = plan::difference(&op.changes, &recomputed.changes) {
            return fail(format!(
                "refused: the plan's changes are not the ones the org file and the live state give ({why}); nothing was applied. Plan again"
            ));
        }
        let sessions = Arc::new(refreshed.sessions);
        let ctx = Arc::new(ApplyCtx {
            org: org.clone(),
            secrets: self.secrets.clone(),
            state_dir: self.pool.state_dir(),
        });
        let graph = change_graph(&op.changes);
        let changes: Arc<Vec<Change>> = Arc::new(op.changes.clone());
        let providers = Arc::new(self.providers.clone());
        // Changes one provider can carry out together (one host's, ready at once) go
        // as one batch: a round trip for them all instead of one each.
        let batch_key = |node: NodeIndex| {
            let change = &changes[node.index()];
            let name = change.address.kind.provider();
            let p = providers.iter().find(|p| p.name() == name)?;
            p.batch_key(org, change).map(|k| (name, k))
        };
        let outcomes = walk_batched(
            &graph,
            self.parallelism,
            batch_key,
            |nodes: Vec<NodeIndex>| {
                let sessions = sessions.clone();
                let ctx = ctx.clone();
                let changes = changes.clone();
                let bar = bar.clone();
                let providers = providers.clone();
                async move {
                    let batch: Vec<Change> =
                        nodes.iter().map(|n| changes[n.index()].clone()).collect();
                    let first = &batch[0];
                    bar.set_message(match batch.len() {
                        1 => format!("{} {}", first.action.symbol(), first.address),
                        n => format!(
                            "{} {} and {} more",
                            first.action.symbol(),
                            first.address,
                            n - 1
                        ),
                    });
                    let name = first.address.kind.provider();
                    let results: Vec<Result<(), String>> = match (
                        providers.iter().find(|p| p.name() == name),
                        sessions.get(name),
                    ) {
                        (Some(p), Some(session)) => p
                            .apply_batch(session, &ctx, &batch)
                            .await
                            .into_iter()
                            .map(|r| r.map_err(|e| e.to_string()))
                            .collect(),
                        _ => batch
                            .iter()
                            .map(|_| Err(format!("the org has nothing connected for {name}")))
                            .collect(),
                    };
                    bar.inc(batch.len() as u64);
                    results
                }
            },
        )
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

/// What refreshing an org found, and the sessions that read it.
pub struct Refreshed {
    pub live: LiveState,
    /// Each provider's refresh, by provider name (live objects moved to `live`).
    pub parts: Vec<(&'static str, providers::Refresh)>,
    pub sessions: OrgSessions,
}

/// An org's live state from every provider it uses, all at once. One provider's error
/// fails the org; places a provider could not read fail only their own resources.
async fn refresh_org(
    providers: &[Arc<dyn Provider>],
    org: &Arc<Org>,
    mut sessions: OrgSessions,
) -> Result<Refreshed, EngineError> {
    let reads = providers.iter().filter(|p| p.used_by(org)).map(|p| {
        let session = sessions.remove(p.name());
        async move {
            let started = std::time::Instant::now();
            let read = p.refresh(org, session).await;
            tracing::debug!(
                org = %org.id,
                provider = p.name(),
                ms = started.elapsed().as_millis() as u64,
                objects = read.as_ref().map_or(0, |r| r.live.objects.len()),
                ok = read.is_ok(),
                "refreshed"
            );
            (p.name(), read)
        }
    });
    let mut live = LiveState::default();
    let mut parts = Vec::new();
    let mut sessions = OrgSessions::new();
    for (name, read) in futures_util::future::join_all(reads).await {
        let mut read = read?;
        live.objects.append(&mut read.live.objects);
        sessions.insert(name, read.session.clone());
        parts.push((name, read));
    }
    Ok(Refreshed {
        live,
        parts,
        sessions,
    })
}

fn plan_org(providers: &[Arc<dyn Provider>], org: &Org, refreshed: &Refreshed) -> OrgPlan {
    let live = &refreshed.live;
    let provider = |name: &str| providers.iter().find(|p| p.name() == name);
    let mut changes = plan::diff(org, live, |r| match provider(r.address.kind.provider()) {
        Some(p) => p.desired(org, r),
        None => r.attrs.clone(),
    });
    // A place (host) that could not be read has no known state: nothing is planned there.
    let unreadable = |host: &str| {
        refreshed
            .parts
            .iter()
            .any(|(_, part)| part.unreadable.contains_key(host))
    };
    changes.retain(|c| {
        let host = org
            .resource(&c.address)
            .and_then(|r| r.address.kind.host_of(&r.attrs));
        !host.is_some_and(unreadable)
    });
    let mut unmanaged = Vec::new();
    let mut unhealthy = Vec::new();
    let mut conflicts = Vec::new();
    for (name, part) in &refreshed.parts {
        if let Some(p) = provider(name) {
            let review = p.review(org, part, live, &mut changes);
            unmanaged.extend(review.unmanaged);
            unhealthy.extend(review.unhealthy);
            conflicts.extend(review.conflicts);
        }
    }
    crate::baseline::compliance::cite(org, &mut changes);
    plan::cite_pool(org, &mut changes);
    plan::sort_changes(org, &mut changes);
    unmanaged.sort();
    let mut op = OrgPlan {
        org: org.id.clone(),
        file: org.file.path.display().to_string(),
        file_sha256: org.sha256.clone(),
        live_sha256: live.fingerprint(),
        summary: Summary::of(&changes),
        changes,
        unmanaged,
        host_errors: refreshed
            .parts
            .iter()
            .flat_map(|(_, part)| &part.unreadable)
            .map(|(host, error)| plan::HostError {
                host: host.clone(),
                error: error.clone(),
            })
            .collect(),
        unhealthy,
        conflicts,
        error: None,
        measured: Default::default(),
    };
    // The standard's measures, from what this refresh read.
    if let Some(baseline) = org.standard.baseline.as_deref() {
        let take = |name: &str, params: &serde_json::Map<String, serde_json::Value>| {
            refreshed
                .parts
                .iter()
                .find_map(|(p, part)| provider(p).and_then(|p| p.measure(org, part, name, params)))
        };
        op.measured = crate::baseline::compliance::measure(baseline, org, &op, &take);
    }
    op
}

/// Plans an org against nothing live, as if every provider had read an empty world
/// (the fuzzer's check that whatever loads also plans).
pub fn plan_offline(providers: &[Arc<dyn Provider>], org: &Org) -> OrgPlan {
    let parts = providers
        .iter()
        .filter(|p| p.used_by(org))
        .map(|p| {
            let empty = providers::Refresh {
                live: LiveState::default(),
                unmanaged: Vec::new(),
                unreadable: Default::default(),
                session: Arc::new(()),
                observed: None,
            };
            (p.name(), empty)
        })
        .collect();
    let refreshed = Refreshed {
        live: LiveState::default(),
        parts,
        sessions: OrgSessions::new(),
    };
    plan_org(providers, org, &refreshed)
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
        measured: Default::default(),
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
        // What must go after this delete (a membership before its group and member).
        if c.action == Action::Delete
            && let Some(after) = c.address.kind.spec().deleted_before
        {
            for a in after(&c.address.id) {
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

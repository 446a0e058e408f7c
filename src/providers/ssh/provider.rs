//! The on-site provider behind the engine's [`Provider`] trait.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Conns, KINDS, NAME, Settings, SshError, config, section};
use crate::diag::Problems;
use crate::org::Org;
use crate::plan::Change;
use crate::pool::Pool;
use crate::providers::{
    self, ApplyCtx, BoxFuture, Entry, LiveState, Provider, ProviderError, Refresh, Review, Started,
};
use crate::resource::{Attrs, Resource};
use crate::secrets::Secrets;

pub static ENTRY: Entry = Entry {
    name: NAME,
    kinds: &KINDS,
    settings: |text| Ok(Arc::new(config::parse(text)?)),
    settings_schema: |generator| generator.subschema_for::<config::SshConfig>(),
    section: Some(&section::SECTION),
    check: |_, _| Problems::default(),
    start,
    measures: &[],
};

fn start(pool: &Pool, secrets: &Secrets) -> Started {
    let config: config::SshConfig = pool.provider_settings(NAME);
    let settings = Settings::from_config(pool, &config).map_err(|e| {
        ProviderError::Config(format!(
            "cannot read the known_hosts file {}: {e}",
            pool.display_path(&pool.path(&config.known_hosts)).display()
        ))
    })?;
    Ok(Arc::new(Ssh {
        settings: Arc::new(settings),
        secrets: secrets.clone(),
    }))
}

pub struct Ssh {
    settings: Arc<Settings>,
    secrets: Secrets,
}

impl From<SshError> for ProviderError {
    fn from(e: SshError) -> ProviderError {
        let message = e.to_string();
        match e {
            SshError::HostKey(_) | SshError::Auth { .. } | SshError::Sudo { .. } => {
                ProviderError::Config(message)
            }
            SshError::Connect { .. } | SshError::Command { .. } | SshError::Failed { .. } => {
                ProviderError::Remote(message)
            }
        }
    }
}

impl Provider for Ssh {
    fn name(&self) -> &'static str {
        NAME
    }

    fn used_by(&self, org: &Org) -> bool {
        org.resources
            .iter()
            .any(|r| r.address.kind.provider() == NAME)
    }

    fn refresh<'a>(
        &'a self,
        org: &'a Arc<Org>,
        session: Option<providers::Session>,
    ) -> BoxFuture<'a, Result<Refresh, ProviderError>> {
        Box::pin(async move {
            let conns = session
                .and_then(|s| s.downcast::<Conns>().ok())
                .map(|c| (*c).clone())
                .unwrap_or_default();
            let (settings, org, secrets) =
                (self.settings.clone(), org.clone(), self.secrets.clone());
            // ssh2 blocks: hosts are read on threads of their own.
            let read = tokio::task::spawn_blocking(move || {
                super::refresh(&settings, &secrets, &org, &conns)
            })
            .await
            .unwrap_or_default();
            Ok(Refresh {
                live: LiveState {
                    objects: read.objects,
                },
                unmanaged: read.unmanaged,
                unreadable: read.errors,
                session: Arc::new(read.conns),
                observed: None,
            })
        })
    }

    fn desired(&self, _: &Org, r: &Resource) -> Attrs {
        super::desired_attrs(r)
    }

    fn review(
        &self,
        org: &Org,
        refresh: &Refresh,
        live: &LiveState,
        changes: &mut Vec<Change>,
    ) -> Review {
        super::show_diffs(changes);
        super::systemd::add_restarts(org, changes);
        Review {
            unmanaged: refresh.unmanaged.clone(),
            unhealthy: super::health(org, live, crate::util::unix_now() as i64),
            conflicts: Vec::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        session: &'a providers::Session,
        ctx: &'a ApplyCtx,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        // One change is a batch of one: the same session handling.
        Box::pin(async move {
            self.apply_batch(session, ctx, std::slice::from_ref(change))
                .await
                .pop()
                .unwrap_or_else(|| Err(ProviderError::Internal("no result for the change".into())))
        })
    }

    fn batch_key(&self, org: &Org, change: &Change) -> Option<String> {
        let r = org.resource(&change.address)?;
        r.address.kind.host_of(&r.attrs).map(str::to_string)
    }

    fn apply_batch<'a>(
        &'a self,
        session: &'a providers::Session,
        ctx: &'a ApplyCtx,
        changes: &'a [Change],
    ) -> BoxFuture<'a, Vec<Result<(), ProviderError>>> {
        Box::pin(async move {
            let all = |e: ProviderError| changes.iter().map(|_| Err(e.clone())).collect();
            let Some(conns) = session.downcast_ref::<Conns>() else {
                return all(ProviderError::Internal("not an SSH session".into()));
            };
            let host = changes
                .first()
                .and_then(|c| ctx.org.resource(&c.address))
                .and_then(|r| r.address.kind.host_of(&r.attrs))
                .unwrap_or_default()
                .to_string();
            let Some(conn) = conns.get(&host).cloned() else {
                return all(ProviderError::Remote(format!(
                    "host {host} is not connected"
                )));
            };
            let (org, batch, secrets) = (ctx.org.clone(), changes.to_vec(), ctx.secrets.clone());
            let done = tokio::task::spawn_blocking(move || {
                // The batch holds the host's one session from start to end.
                let conn = conn.lock().map_err(|_| {
                    ProviderError::Internal("an earlier change on this host panicked".into())
                })?;
                Ok::<_, ProviderError>(
                    super::apply_batch(&conn, &secrets, &org, &batch)
                        .into_iter()
                        .map(|r| r.map_err(ProviderError::from))
                        .collect::<Vec<_>>(),
                )
            })
            .await;
            match done {
                Ok(Ok(results)) => results,
                Ok(Err(e)) => all(e),
                Err(e) => all(ProviderError::Internal(e.to_string())),
            }
        })
    }

    fn stats(&self) -> Option<String> {
        let stats = &self.settings.stats;
        let (hosts, trips, most) = stats.summary();
        (hosts > 0).then(|| {
            format!(
                "SSH: {} login(s), {hosts} host(s), {trips} round trip(s), at most {most} for one host",
                stats.logins.load(Ordering::Relaxed),
            )
        })
    }
}

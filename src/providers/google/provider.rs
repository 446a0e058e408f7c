//! The Google Workspace provider behind the engine's [`Provider`] trait.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::client::{GoogleError, Http, Session};
use super::{NAME, config, kinds, section, validate};
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
    kinds: &kinds::KINDS,
    settings: |text| Ok(Arc::new(config::parse(text)?)),
    settings_schema: |generator| generator.subschema_for::<config::GoogleConfig>(),
    section: Some(&section::SECTION),
    check: validate::check,
    start,
    measures: &super::measure::MEASURES,
};

fn start(pool: &Pool, secrets: &Secrets) -> Started {
    let config: config::GoogleConfig = pool.provider_settings(NAME);
    Ok(Arc::new(Google {
        http: Http::new(&config)?,
        secrets: secrets.clone(),
        pool_file: pool.file.clone(),
    }))
}

pub struct Google {
    http: Arc<Http>,
    secrets: Secrets,
    /// steward.yaml, to cite where a pool role is defined.
    pool_file: Option<Arc<(Arc<crate::diag::SourceFile>, crate::yaml::Node)>>,
}

impl From<GoogleError> for ProviderError {
    fn from(e: GoogleError) -> ProviderError {
        let message = e.to_string();
        match e {
            GoogleError::Auth(_) | GoogleError::Key(_) => ProviderError::Config(message),
            GoogleError::Refused(_) => ProviderError::Refused(message),
            GoogleError::Http { .. }
            | GoogleError::Transport { .. }
            | GoogleError::GaveUp { .. }
            | GoogleError::Unreachable { .. }
            | GoogleError::Shape { .. } => ProviderError::Remote(message),
        }
    }
}

impl Provider for Google {
    fn name(&self) -> &'static str {
        NAME
    }

    fn used_by(&self, org: &Org) -> bool {
        section::tenant(org).is_some()
    }

    fn refresh<'a>(
        &'a self,
        org: &'a Arc<Org>,
        session: Option<providers::Session>,
    ) -> BoxFuture<'a, Result<Refresh, ProviderError>> {
        Box::pin(async move {
            let Some(tenant) = section::tenant(org) else {
                return Err(ProviderError::Internal(format!(
                    "org `{}` has no Google tenant to refresh",
                    org.id
                )));
            };
            // The planning session (its token) when there is one.
            let session = match session.and_then(|s| s.downcast::<Session>().ok()) {
                Some(s) => s,
                None => Arc::new(super::connect(&self.http, tenant, &self.secrets)?),
            };
            let before = session.counts();
            let live = super::refresh(&session, org).await;
            let (sent, retried) = session.counts();
            tracing::debug!(
                org = %org.id,
                requests = sent - before.0,
                retries = retried - before.1,
                "google refresh"
            );
            let (live, people) = live?;
            Ok(Refresh {
                live,
                unmanaged: Vec::new(),
                unreadable: BTreeMap::new(),
                session,
                observed: Some(Arc::new(people)),
            })
        })
    }

    fn desired(&self, org: &Org, r: &Resource) -> Attrs {
        super::desired_attrs(org, r)
    }

    fn review(
        &self,
        org: &Org,
        _: &Refresh,
        live: &LiveState,
        changes: &mut Vec<Change>,
    ) -> Review {
        let (orphans, unmanaged) = super::orphans(org, live);
        changes.extend(orphans);
        let found = super::review(org, live, changes);
        let pool_line = |module: &str, role: &str| {
            let (file, root) = self.pool_file.as_deref()?;
            let node = root.get("modules")?.get(module)?.get("roles")?.get(role)?;
            Some(crate::yaml::line_col(file.text(), node.span.start).0)
        };
        super::people::cite_roles(org, changes, &pool_line);
        Review {
            unmanaged,
            unhealthy: found.unhealthy,
            conflicts: found.conflicts,
        }
    }

    fn apply<'a>(
        &'a self,
        session: &'a providers::Session,
        ctx: &'a ApplyCtx,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let Some(session) = session.downcast_ref::<Session>() else {
                return Err(ProviderError::Internal("not a Google session".into()));
            };
            let actx = super::ApplyCtx {
                org: &ctx.org,
                secrets: &ctx.secrets,
                password_file: ctx
                    .state_dir
                    .join("passwords")
                    .join(format!("{}.tsv", ctx.org.id)),
            };
            Ok(super::apply(session, &actx, change).await?)
        })
    }

    fn measure(
        &self,
        org: &Org,
        refresh: &Refresh,
        measure: &str,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<providers::Measured> {
        let people = refresh
            .observed
            .as_ref()?
            .downcast_ref::<super::measure::People>()?;
        super::measure::take(people, org, measure, params)
    }

    fn upcoming(&self, org: &Org, days: i64) -> Vec<providers::Upcoming> {
        super::people::upcoming(org, days)
    }

    fn stats(&self) -> Option<String> {
        let s = &self.http.stats;
        if s.total() == 0 {
            return None;
        }
        Some(format!(
            "API requests: {} (token {}, list {}, write {}, other {}; retries {})",
            s.total(),
            s.token.load(Ordering::Relaxed),
            s.list.load(Ordering::Relaxed),
            s.write.load(Ordering::Relaxed),
            s.other.load(Ordering::Relaxed),
            s.retries.load(Ordering::Relaxed),
        ))
    }
}

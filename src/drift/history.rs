//! Drift history: every run's findings, so a report can say what is new since the last
//! one, what is ongoing (and since when), and what was resolved.
//!
//! Behind a small trait so that a pool can later keep history in a shared database; the
//! one implementation here is an embedded SQLite file in the pool's state folder.
//! Concurrent runs are safe: each run reads the previous state and writes its own in one
//! `BEGIN IMMEDIATE` transaction, which SQLite serialises (others wait, up to a timeout).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Category, OrgReport, Resolved, Seen};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("drift history {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Where drift runs are remembered.
pub trait HistoryStore {
    /// Marks each finding new or ongoing and fills each org's resolved list, comparing
    /// with that org's last recorded check; then records this run, unless `record` is
    /// false. Orgs that could not be checked are neither compared nor recorded, so their
    /// earlier findings are not reported resolved.
    fn compare_and_record(
        &mut self,
        at: &str,
        orgs: &mut [OrgReport],
        record: bool,
    ) -> Result<(), HistoryError>;
}

pub struct SqliteHistory {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL
);
-- The orgs a run checked successfully.
CREATE TABLE IF NOT EXISTS checked (
    run INTEGER NOT NULL REFERENCES runs(id),
    org TEXT NOT NULL,
    PRIMARY KEY (org, run)
);
CREATE TABLE IF NOT EXISTS findings (
    run INTEGER NOT NULL REFERENCES runs(id),
    org TEXT NOT NULL,
    key TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run, org, key)
);
-- The pool's standard, as each compliance view (`steward baseline`, the weekly drift
-- report) found it: one row per org and item that applies.
CREATE TABLE IF NOT EXISTS compliance (
    view INTEGER NOT NULL,
    at TEXT NOT NULL,
    org TEXT NOT NULL,
    item TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (view, org, item)
);
";

impl SqliteHistory {
    pub fn open(path: &Path) -> Result<SqliteHistory, HistoryError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let sql = |source| HistoryError::Sqlite {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(sql)?;
        // WAL lets readers go on while one run writes.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(SqliteHistory { conn, path: shown })
    }
}

impl SqliteHistory {
    /// A transaction that reads the last state and writes this run's as one: SQLite
    /// makes other runs wait.
    fn immediate(&mut self) -> Result<rusqlite::Transaction<'_>, HistoryError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| HistoryError::Sqlite {
                path: self.path.clone(),
                source,
            })
    }

    /// Marks each cell with its status at the org's last recorded view when it was
    /// another, and returns the totals of those last views (the trend); then records
    /// this view unless `record` is false. Orgs that could not be checked are not
    /// recorded.
    pub fn compare_compliance(
        &mut self,
        at: &str,
        rows: &mut [crate::baseline::compliance::OrgRow],
        record: bool,
    ) -> Result<Option<crate::baseline::report::Trend>, HistoryError> {
        use crate::baseline::compliance::Status;
        let path = self.path.clone();
        let sql = |source| HistoryError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.immediate()?;
        // Views are numbered: two in the same second are still told apart.
        let view: i64 = tx
            .query_row(
                "SELECT coalesce(max(view), 0) + 1 FROM compliance",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let mut before: Vec<crate::baseline::compliance::OrgRow> = Vec::new();
        let mut since: Option<String> = None;
        for row in rows.iter_mut() {
            let last: Option<(i64, String)> = tx
                .query_row(
                    "SELECT view, at FROM compliance WHERE org = ?1 ORDER BY view DESC LIMIT 1",
                    params![row.org],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql)?;
            if let Some((last, last_at)) = last {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT item, status FROM compliance WHERE view = ?1 AND org = ?2",
                    )
                    .map_err(sql)?;
                let then: BTreeMap<String, Status> = stmt
                    .query_map(params![last, row.org], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(sql)?
                    .filter_map(Result::ok)
                    .filter_map(|(item, s)| Status::from_key(&s).map(|s| (item, s)))
                    .collect();
                let mut old = row.clone();
                for (cell, old_cell) in row.cells.iter_mut().zip(old.cells.iter_mut()) {
                    let was = then
                        .get(&cell.item)
                        .copied()
                        .unwrap_or(Status::NotApplicable);
                    old_cell.status = was;
                    if was != cell.status {
                        cell.was = Some(was);
                    }
                }
                before.push(old);
                if since.as_ref().is_none_or(|s| *s < last_at) {
                    since = Some(last_at);
                }
            }
            if row.error.is_some() {
                continue;
            }
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO compliance (view, at, org, item, status) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sql)?;
            for cell in row
                .cells
                .iter()
                .filter(|c| c.status != Status::NotApplicable)
            {
                insert
                    .execute(params![view, at, row.org, cell.item, cell.status.key()])
                    .map_err(sql)?;
            }
        }
        if record {
            tx.commit().map_err(sql)?;
        } else {
            tx.rollback().map_err(sql)?;
        }
        Ok(since.map(|since| crate::baseline::report::Trend {
            since,
            before: crate::baseline::report::Totals::of(&before),
        }))
    }
}

/// A finding as the last run recorded it.
struct Earlier {
    category: String,
    title: String,
    first_seen: String,
}

impl HistoryStore for SqliteHistory {
    fn compare_and_record(
        &mut self,
        at: &str,
        orgs: &mut [OrgReport],
        record: bool,
    ) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let sql = |source| HistoryError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.immediate()?;
        tx.execute("INSERT INTO runs (at) VALUES (?1)", params![at])
            .map_err(sql)?;
        let run = tx.last_insert_rowid();
        for org in orgs.iter_mut().filter(|o| o.error.is_none()) {
            let previous: Option<i64> = tx
                .query_row(
                    "SELECT max(run) FROM checked WHERE org = ?1 AND run < ?2",
                    params![org.org, run],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)?
                .flatten();
            let mut earlier: BTreeMap<String, Earlier> = BTreeMap::new();
            if let Some(prev) = previous {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT key, category, title, first_seen FROM findings \
                         WHERE run = ?1 AND org = ?2",
                    )
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![prev, org.org], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            Earlier {
                                category: r.get(1)?,
                                title: r.get(2)?,
                                first_seen: r.get(3)?,
                            },
                        ))
                    })
                    .map_err(sql)?;
                for row in rows {
                    let (key, e) = row.map_err(sql)?;
                    earlier.insert(key, e);
                }
            }
            tx.execute(
                "INSERT INTO checked (run, org) VALUES (?1, ?2)",
                params![run, org.org],
            )
            .map_err(sql)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO findings \
                     (run, org, key, category, title, first_seen, accepted) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql)?;
            // Accepted findings are recorded too, so that accepting one does not make
            // it "resolved" and it keeps its first-seen date.
            let findings = org.findings.iter_mut().map(|f| (f, false));
            let accepted = org.accepted.iter_mut().map(|a| (&mut a.finding, true));
            for (f, is_accepted) in findings.chain(accepted) {
                let first = match earlier.remove(&f.key) {
                    Some(e) => {
                        f.seen = Seen::Ongoing {
                            first_seen: e.first_seen.clone(),
                        };
                        e.first_seen
                    }
                    None => {
                        f.seen = Seen::New;
                        at.to_string()
                    }
                };
                insert
                    .execute(params![
                        run,
                        org.org,
                        f.key,
                        f.category.key(),
                        f.title,
                        first,
                        is_accepted
                    ])
                    .map_err(sql)?;
            }
            // What the last run had and this one has not: resolved.
            org.resolved = earlier
                .into_iter()
                .map(|(key, e)| Resolved {
                    key,
                    category: Category::from_key(&e.category).unwrap_or(Category::Changed),
                    title: e.title,
                    first_seen: e.first_seen,
                })
                .collect();
        }
        if record {
            tx.commit().map_err(sql)?;
        } else {
            tx.rollback().map_err(sql)?;
        }
        Ok(())
    }
}

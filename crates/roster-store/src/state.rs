//! The sync engine's state: [`Store`] implements [`StateStore`], and answers the CLI's and UI's questions about
//! runs and held runs.
//!
//! # The single-flight lock
//!
//! One organisation is never synced by two workers at once. The lock is a row of `org_locks` (organisation, owner,
//! expiry), taken by one atomic statement on both backends:
//!
//! ```sql
//! INSERT INTO org_locks (organisation, owner, expires_at_ms, acquired_at) VALUES (…)
//! ON CONFLICT (organisation) DO UPDATE SET owner = excluded.owner, …
//! WHERE org_locks.owner = excluded.owner OR org_locks.expires_at_ms <= <now>
//! RETURNING owner
//! ```
//!
//! A row comes back only if the lock was free, expired, or already ours (a renewal). PostgreSQL makes concurrent
//! upserts of one key wait for each other and re-check the condition; SQLite runs every statement under its single
//! writer lock. So it is correct across processes and machines.
//!
//! It is a row with an expiry rather than `pg_try_advisory_lock` because:
//!
//! * a session-level advisory lock belongs to one database connection, so it would pin a pooled connection for the
//!   whole run, and it breaks behind a transaction-pooling proxy (PgBouncer);
//! * a worker that hangs (rather than crashes) with its connection open would hold an advisory lock for ever; a
//!   row expires at the time the engine chose (`until`), and another worker takes over;
//! * a crashed worker's row also expires, so no manual clean-up is needed; and the owner and expiry are visible to
//!   operators with a plain `SELECT`;
//! * SQLite has no advisory locks, and one mechanism on both backends is one thing to test.
//!
//! Expiry is judged with the store's [`Clock`](sync_engine::Clock) (see
//! [`StoreOptions::clock`](crate::StoreOptions::clock)); the workers' clocks should agree to well within the lock's
//! time to live.

use crate::Store;
use crate::db::{WritePool, on_db, to_i64, to_usize};
use crate::error::{StoreError, corrupt, db};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use std::collections::BTreeMap;
use sync_engine::model::{ConnectionId, OrganisationId};
use sync_engine::plan::Plan;
use sync_engine::source::SourceCursor;
use sync_engine::{
    Allowance, HeldRun, HoldReason, OpCounts, PlannedCounts, RecordError, RunReport, RunStatus, StateError, StateStore,
};

/// Rows per multi-row `INSERT`.
const CHUNK: usize = 500;

/// A run as listings show it: its report without the per-record errors, and how many there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Its id.
    pub id: String,
    /// The organisation.
    pub organisation: OrganisationId,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// What was planned.
    pub planned: PlannedCounts,
    /// What was applied.
    pub applied: OpCounts,
    /// How many records failed.
    pub error_count: usize,
    /// The held run to approve, if it was held.
    pub held_run: Option<String>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

pub(crate) fn builder<'a, P: WritePool>(_pool: &P, sql: &str) -> QueryBuilder<'a, P::Database> {
    QueryBuilder::new(sql.to_owned())
}

fn status_text(status: RunStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn status_of(run: &str, text: &str) -> Result<RunStatus, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| corrupt(format!("runs/{run} status"), e))
}

type RunRow = (
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Json<PlannedCounts>,
    Json<OpCounts>,
    Json<Vec<HoldReason>>,
    Option<String>,
    Option<String>,
    i64,
);

type ErrorRow = (String, String, String, String);

const RUN_COLUMNS: &str = "id, organisation, started_at, finished_at, status, planned, applied, hold_reasons, held_run, \
                           failure, error_count";

type HeldRow = (String, String, DateTime<Utc>, Json<Vec<HoldReason>>, Json<Plan>);

fn held_of((id, organisation, held_at, Json(reasons), Json(plan)): HeldRow) -> HeldRun {
    HeldRun { id, organisation: OrganisationId::new(organisation), held_at, reasons, plan }
}

impl Store {
    /// Recent runs, newest first, of one organisation or of all; at most `limit`.
    pub async fn runs(
        &self,
        organisation: Option<&OrganisationId>,
        limit: usize,
    ) -> Result<Vec<RunSummary>, StoreError> {
        let limit = to_i64(limit);
        let rows: Vec<RunRow> = on_db!(&self.db, pool => {
            match organisation {
                Some(org) => sqlx::query_as(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE organisation = $1 ORDER BY started_at DESC, id LIMIT $2"
                ))
                .bind(org.as_str())
                .bind(limit)
                .fetch_all(pool)
                .await,
                None => sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, id LIMIT $1"))
                    .bind(limit)
                    .fetch_all(pool)
                    .await,
            }
            .map_err(db("read runs"))?
        });
        rows.into_iter()
            .map(|row| {
                let (
                    id,
                    org,
                    started_at,
                    finished_at,
                    status,
                    Json(planned),
                    Json(applied),
                    _,
                    held_run,
                    failure,
                    errors,
                ) = row;
                Ok(RunSummary {
                    status: status_of(&id, &status)?,
                    id,
                    organisation: OrganisationId::new(org),
                    started_at,
                    finished_at,
                    planned,
                    applied,
                    error_count: to_usize(errors),
                    held_run,
                    failure,
                })
            })
            .collect()
    }

    /// One run, with every per-record error in the order they were reported.
    pub async fn run(&self, id: &str) -> Result<Option<RunReport>, StoreError> {
        let (row, errors): (Option<RunRow>, Vec<ErrorRow>) = on_db!(&self.db, pool => {
            let row = sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(db("read runs"))?;
            let errors = sqlx::query_as(
                "SELECT external_id, operation, code, message FROM run_errors WHERE run_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(pool)
            .await
            .map_err(db("read run_errors"))?;
            (row, errors)
        });
        let Some(row) = row else { return Ok(None) };
        let (
            id,
            org,
            started_at,
            finished_at,
            status,
            Json(planned),
            Json(applied),
            Json(hold_reasons),
            held_run,
            failure,
            _,
        ) = row;
        Ok(Some(RunReport {
            status: status_of(&id, &status)?,
            id,
            organisation: OrganisationId::new(org),
            started_at,
            finished_at,
            planned,
            applied,
            errors: errors
                .into_iter()
                .map(|(external_id, operation, code, message)| RecordError { external_id, operation, code, message })
                .collect(),
            hold_reasons,
            held_run,
            failure,
        }))
    }

    /// Held runs waiting for approval, oldest first.
    pub async fn held_runs(&self) -> Result<Vec<HeldRun>, StoreError> {
        let rows: Vec<HeldRow> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT id, organisation, held_at, reasons, plan FROM held_runs WHERE approved_at IS NULL \
                 ORDER BY held_at, id",
            )
            .fetch_all(pool)
            .await
            .map_err(db("read held_runs"))?
        });
        Ok(rows.into_iter().map(held_of).collect())
    }

    /// One held run, approved or not.
    pub async fn held_run(&self, id: &str) -> Result<Option<HeldRun>, StoreError> {
        let row: Option<HeldRow> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT id, organisation, held_at, reasons, plan FROM held_runs WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(db("read held_runs"))?
        });
        Ok(row.map(held_of))
    }

    /// Who holds an organisation's lock and until when, if anyone does (expired locks included).
    pub async fn lock_holder(
        &self,
        organisation: &OrganisationId,
    ) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let row: Option<(String, i64)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT owner, expires_at_ms FROM org_locks WHERE organisation = $1")
                .bind(organisation.as_str())
                .fetch_optional(pool)
                .await
                .map_err(db("read org_locks"))?
        });
        Ok(row.map(|(owner, ms)| (owner, DateTime::from_timestamp_millis(ms).unwrap_or_default())))
    }

    async fn save_scope_counts_inner(
        &self,
        organisation: &OrganisationId,
        counts: &BTreeMap<String, usize>,
    ) -> Result<(), StoreError> {
        let counts: Vec<(&String, i64)> = counts.iter().map(|(k, v)| (k, to_i64(*v))).collect();
        on_db!(&self.db, pool => {
            let mut tx = pool.begin_write().await.map_err(db("begin saving scope_counts"))?;
            sqlx::query("DELETE FROM scope_counts WHERE organisation = $1")
                .bind(organisation.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db("delete from scope_counts"))?;
            for chunk in counts.chunks(CHUNK) {
                let mut qb = builder(pool, "INSERT INTO scope_counts (organisation, scope, members) ");
                qb.push_values(chunk, |mut b, (scope, members)| {
                    b.push_bind(organisation.as_str().to_owned()).push_bind((*scope).clone()).push_bind(*members);
                });
                qb.build().execute(&mut *tx).await.map_err(db("insert into scope_counts"))?;
            }
            tx.commit().await.map_err(db("commit scope_counts"))?;
        });
        Ok(())
    }

    async fn save_run_inner(&self, report: &RunReport) -> Result<(), StoreError> {
        let sql = "INSERT INTO runs (id, organisation, started_at, finished_at, status, planned, applied, hold_reasons, \
                   held_run, failure, error_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                   ON CONFLICT (id) DO UPDATE SET organisation = excluded.organisation, \
                   started_at = excluded.started_at, finished_at = excluded.finished_at, status = excluded.status, \
                   planned = excluded.planned, applied = excluded.applied, hold_reasons = excluded.hold_reasons, \
                   held_run = excluded.held_run, failure = excluded.failure, error_count = excluded.error_count";
        let errors: Vec<(i64, &RecordError)> = report.errors.iter().enumerate().map(|(i, e)| (to_i64(i), e)).collect();
        on_db!(&self.db, pool => {
            let mut tx = pool.begin_write().await.map_err(db("begin saving a run"))?;
            sqlx::query(sql)
                .bind(&report.id)
                .bind(report.organisation.as_str())
                .bind(report.started_at)
                .bind(report.finished_at)
                .bind(status_text(report.status))
                .bind(Json(&report.planned))
                .bind(Json(&report.applied))
                .bind(Json(&report.hold_reasons))
                .bind(report.held_run.as_deref())
                .bind(report.failure.as_deref())
                .bind(to_i64(report.errors.len()))
                .execute(&mut *tx)
                .await
                .map_err(db("save into runs"))?;
            sqlx::query("DELETE FROM run_errors WHERE run_id = $1")
                .bind(&report.id)
                .execute(&mut *tx)
                .await
                .map_err(db("delete from run_errors"))?;
            for chunk in errors.chunks(CHUNK) {
                let mut qb =
                    builder(pool, "INSERT INTO run_errors (run_id, seq, external_id, operation, code, message) ");
                qb.push_values(chunk, |mut b, (seq, e)| {
                    b.push_bind(report.id.clone())
                        .push_bind(*seq)
                        .push_bind(e.external_id.clone())
                        .push_bind(e.operation.clone())
                        .push_bind(e.code.clone())
                        .push_bind(e.message.clone());
                });
                qb.build().execute(&mut *tx).await.map_err(db("insert into run_errors"))?;
            }
            tx.commit().await.map_err(db("commit a run"))?;
        });
        Ok(())
    }

    async fn save_held_inner(&self, held: &HeldRun) -> Result<(), StoreError> {
        let sql = "INSERT INTO held_runs (id, organisation, held_at, reasons, plan, approved_at) \
                   VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (id) DO UPDATE SET \
                   organisation = excluded.organisation, held_at = excluded.held_at, reasons = excluded.reasons, \
                   plan = excluded.plan, approved_at = NULL";
        on_db!(&self.db, pool => {
            sqlx::query(sql)
                .bind(&held.id)
                .bind(held.organisation.as_str())
                .bind(held.held_at)
                .bind(Json(&held.reasons))
                .bind(Json(&held.plan))
                .execute(pool)
                .await
                .map_err(db("save into held_runs"))?;
        });
        Ok(())
    }

    async fn approve_held_inner(&self, held_id: &str) -> Result<Option<HeldRun>, StoreError> {
        let now = self.now();
        on_db!(&self.db, pool => {
            let mut tx = pool.begin_write().await.map_err(db("begin approving a held run"))?;
            let row: Option<HeldRow> = sqlx::query_as(
                "SELECT id, organisation, held_at, reasons, plan FROM held_runs WHERE id = $1 AND approved_at IS NULL",
            )
            .bind(held_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("read held_runs"))?;
            let Some(row) = row else { return Ok(None) };
            let held = held_of(row);
            let approved = sqlx::query("UPDATE held_runs SET approved_at = $1 WHERE id = $2 AND approved_at IS NULL")
                .bind(now)
                .bind(held_id)
                .execute(&mut *tx)
                .await
                .map_err(db("update held_runs"))?;
            if approved.rows_affected() == 0 {
                return Ok(None);
            }
            sqlx::query(
                "INSERT INTO allowances (organisation, allowance, held_run, approved_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (organisation) DO UPDATE SET allowance = excluded.allowance, \
                 held_run = excluded.held_run, approved_at = excluded.approved_at",
            )
            .bind(held.organisation.as_str())
            .bind(Json(held.allowance()))
            .bind(held_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("save into allowances"))?;
            tx.commit().await.map_err(db("commit an approval"))?;
            tracing::info!(held_run = held_id, organisation = %held.organisation, "held run approved");
            Ok(Some(held))
        })
    }

    async fn take_allowance_inner(&self, organisation: &OrganisationId) -> Result<Option<Allowance>, StoreError> {
        let row: Option<(Json<Allowance>,)> = on_db!(&self.db, pool => {
            sqlx::query_as("DELETE FROM allowances WHERE organisation = $1 RETURNING allowance")
                .bind(organisation.as_str())
                .fetch_optional(pool)
                .await
                .map_err(db("take from allowances"))?
        });
        Ok(row.map(|(Json(a),)| a))
    }

    async fn try_lock_inner(
        &self,
        organisation: &OrganisationId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let sql = "INSERT INTO org_locks (organisation, owner, expires_at_ms, acquired_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (organisation) DO UPDATE SET owner = excluded.owner, \
                   expires_at_ms = excluded.expires_at_ms, acquired_at = excluded.acquired_at \
                   WHERE org_locks.owner = excluded.owner OR org_locks.expires_at_ms <= $5 \
                   RETURNING owner";
        let row: Option<(String,)> = on_db!(&self.db, pool => {
            sqlx::query_as(sql)
                .bind(organisation.as_str())
                .bind(owner)
                .bind(until.timestamp_millis())
                .bind(now)
                .bind(now.timestamp_millis())
                .fetch_optional(pool)
                .await
                .map_err(db("take a lock in org_locks"))?
        });
        Ok(row.is_some())
    }

    async fn unlock_inner(&self, organisation: &OrganisationId, owner: &str) -> Result<(), StoreError> {
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM org_locks WHERE organisation = $1 AND owner = $2")
                .bind(organisation.as_str())
                .bind(owner)
                .execute(pool)
                .await
                .map_err(db("release a lock in org_locks"))?;
        });
        Ok(())
    }
}

#[async_trait]
impl StateStore for Store {
    async fn scope_counts(&self, organisation: &OrganisationId) -> Result<BTreeMap<String, usize>, StateError> {
        let rows: Vec<(String, i64)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT scope, members FROM scope_counts WHERE organisation = $1")
                .bind(organisation.as_str())
                .fetch_all(pool)
                .await
                .map_err(db("read scope_counts"))?
        });
        Ok(rows.into_iter().map(|(scope, n)| (scope, to_usize(n))).collect())
    }

    async fn save_scope_counts(
        &self,
        organisation: &OrganisationId,
        counts: &BTreeMap<String, usize>,
    ) -> Result<(), StateError> {
        Ok(self.save_scope_counts_inner(organisation, counts).await?)
    }

    async fn save_run(&self, report: &RunReport) -> Result<(), StateError> {
        Ok(self.save_run_inner(report).await?)
    }

    async fn save_held(&self, held: &HeldRun) -> Result<(), StateError> {
        Ok(self.save_held_inner(held).await?)
    }

    async fn approve_held(&self, held_id: &str) -> Result<Option<HeldRun>, StateError> {
        Ok(self.approve_held_inner(held_id).await?)
    }

    async fn take_allowance(&self, organisation: &OrganisationId) -> Result<Option<Allowance>, StateError> {
        Ok(self.take_allowance_inner(organisation).await?)
    }

    async fn try_lock(
        &self,
        organisation: &OrganisationId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StateError> {
        Ok(self.try_lock_inner(organisation, owner, until).await?)
    }

    async fn unlock(&self, organisation: &OrganisationId, owner: &str) -> Result<(), StateError> {
        Ok(self.unlock_inner(organisation, owner).await?)
    }

    async fn cursor(&self, connection: &ConnectionId, key: &str) -> Result<Option<String>, StateError> {
        Ok(Store::cursor(self, connection, key).await?.map(|c| c.0))
    }

    async fn save_cursor(&self, connection: &ConnectionId, key: &str, cursor: &str) -> Result<(), StateError> {
        Ok(Store::save_cursor(self, connection, key, &SourceCursor(cursor.to_owned())).await?)
    }

    async fn delete_cursor(&self, connection: &ConnectionId, key: &str) -> Result<(), StateError> {
        Store::delete_cursor(self, connection, key).await?;
        Ok(())
    }
}

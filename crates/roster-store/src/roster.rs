//! The OneRoster feed's tables: records of every kind, import history, the roster version, and API clients.
//!
//! # How an import works
//!
//! An import is one transaction. Its first statement bumps `roster_state.version`, which also serialises imports
//! (PostgreSQL row lock; SQLite's writer lock). Then, kind by kind:
//!
//! * each record is serialised to JSON without `status` and `dateLastModified` (and without `password` unless
//!   [`ImportOptions::store_passwords`] says so), keys sorted, and hashed with SHA-256;
//! * it is compared with the stored status and hash: a new record is inserted, a changed one (status or hash) is
//!   updated, and only these two get `dateLastModified = now` and the new version; an unchanged one is not written;
//! * in bulk mode, stored records of the kind that the import does not contain become `tobedeleted` (with
//!   `dateLastModified = now`); in delta mode only the given records are touched.
//!
//! Writes go in multi-row statements of 1,000 records, and the stored hashes of a kind are read once
//! (bulk) or per chunk (delta), so a million-user import is a few thousand statements in one transaction. Then an
//! `oneroster_imports` row is written, and on PostgreSQL `NOTIFY roster_changed, '<version>'` is sent, delivered on
//! commit. Any failure rolls all of it back: the previous roster stays as it was.

use crate::Store;
use crate::db::{WritePool, is_postgres, on_db, to_i64, to_usize};
use crate::error::{StoreError, corrupt, db};
use crate::secret::hex;
use crate::state::builder;
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use oneroster_model::csv::{CsvFile, FileMode, Manifest};
use oneroster_model::{
    AcademicSession, Class, Course, Demographics, Enrollment, Entity, EntityKind, Org, Roster, Status, User,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// The PostgreSQL channel an import notifies on commit; the payload is the new roster version.
pub const ROSTER_CHANNEL: &str = "roster_changed";

/// Records per multi-row write.
pub(crate) const UPSERT_CHUNK: usize = 1000;

/// How an import treats what it does not contain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportMode {
    /// Every kind that has at least one record in the import is complete: stored records of that kind that the
    /// import lacks become `tobedeleted`. Kinds without records are left alone (to empty a kind, use
    /// [`ImportMode::PerKind`] with [`FileMode::Bulk`]).
    Bulk,
    /// Only the given records change; a record given as `tobedeleted` is stored as such.
    Delta,
    /// Per kind, as a CSV manifest says: `bulk` kinds are complete (even when empty), `delta` kinds are changes,
    /// `absent` (or unlisted) kinds are left alone.
    PerKind(BTreeMap<EntityKind, FileMode>),
}

impl ImportMode {
    /// The modes a OneRoster CSV manifest gives its files.
    pub fn from_manifest(manifest: &Manifest) -> ImportMode {
        ImportMode::PerKind(EntityKind::ALL.into_iter().map(|k| (k, manifest.mode(CsvFile::for_entity(k)))).collect())
    }

    fn for_kind(&self, kind: EntityKind, records: usize) -> Option<KindMode> {
        match self {
            ImportMode::Bulk => (records > 0).then_some(KindMode::Bulk),
            ImportMode::Delta => (records > 0).then_some(KindMode::Delta),
            ImportMode::PerKind(modes) => match modes.get(&kind).copied().unwrap_or(FileMode::Absent) {
                FileMode::Bulk => Some(KindMode::Bulk),
                FileMode::Delta => Some(KindMode::Delta),
                FileMode::Absent => None,
            },
        }
    }

    fn label(&self) -> &'static str {
        match self {
            ImportMode::Bulk => "bulk",
            ImportMode::Delta => "delta",
            ImportMode::PerKind(_) => "per_kind",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KindMode {
    Bulk,
    Delta,
}

/// How to import.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Bulk, delta, or per kind.
    pub mode: ImportMode,
    /// Where the data came from (a file name, a connection), for the import history.
    pub source: Option<String>,
    /// Keep users' `password` field. Off by default: the feed neither stores nor serves passwords unless the
    /// operator turns that on.
    pub store_passwords: bool,
}

impl ImportOptions {
    /// Options with this mode, no source, and passwords dropped.
    pub fn new(mode: ImportMode) -> ImportOptions {
        ImportOptions { mode, source: None, store_passwords: false }
    }

    /// Records where the data came from.
    pub fn source(mut self, source: impl Into<String>) -> ImportOptions {
        self.source = Some(source.into());
        self
    }

    /// Keeps (or drops) users' passwords.
    pub fn store_passwords(mut self, store: bool) -> ImportOptions {
        self.store_passwords = store;
        self
    }
}

/// What an import did to the records of one kind (or of all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    /// Records that were not stored before.
    pub created: usize,
    /// Stored records whose content or status changed (other than to `tobedeleted`).
    pub updated: usize,
    /// Records given exactly as stored: not written, `dateLastModified` kept.
    pub unchanged: usize,
    /// Records that became `tobedeleted`: missing from a bulk import, or given so in a delta.
    pub deleted: usize,
}

impl ImportCounts {
    fn add(&mut self, other: &ImportCounts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.deleted += other.deleted;
    }
}

/// The outcome of a committed import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The import's id (in `oneroster_imports`).
    pub id: String,
    /// The roster version it made.
    pub version: u64,
    /// The time given to the import, to the millisecond: the `dateLastModified` of what it changed.
    pub imported_at: DateTime<Utc>,
    /// Counts for each kind it touched.
    pub kinds: BTreeMap<EntityKind, ImportCounts>,
}

impl ImportReport {
    /// Counts over all kinds.
    pub fn totals(&self) -> ImportCounts {
        let mut total = ImportCounts::default();
        for counts in self.kinds.values() {
            total.add(counts);
        }
        total
    }
}

/// One committed import, from the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    /// Its id.
    pub id: String,
    /// The roster version it made.
    pub version: u64,
    /// `bulk`, `delta` or `per_kind`.
    pub mode: String,
    /// Where the data came from, if the importer said.
    pub source: Option<String>,
    /// Its time.
    pub imported_at: DateTime<Utc>,
    /// Counts over all kinds.
    pub totals: ImportCounts,
    /// Counts per kind.
    pub kinds: BTreeMap<EntityKind, ImportCounts>,
}

/// An OAuth client of the feed, with its secret's hash (computed by the caller, e.g. argon2).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// The client id (e.g. `WebserviceUser`).
    pub client_id: String,
    /// The hash of its secret, in the hasher's own format (e.g. a PHC string).
    pub secret_hash: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its secret was last replaced, if ever.
    pub rotated_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("client_id", &self.client_id)
            .field("secret_hash", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("rotated_at", &self.rotated_at)
            .finish()
    }
}

/// The kind as stored in `oneroster_records.kind`.
fn kind_text(kind: EntityKind) -> &'static str {
    kind.single_key()
}

fn kind_of(text: &str) -> Option<EntityKind> {
    EntityKind::ALL.into_iter().find(|k| k.single_key() == text)
}

fn status_text(status: Status) -> &'static str {
    status.as_str()
}

/// A record ready to store: its body (JSON without status and dateLastModified) and the body's hash.
struct Prepared<'r> {
    id: &'r str,
    deleted: bool,
    body: Box<RawValue>,
    hash: [u8; 32],
}

/// The records of one kind, behind a trait object so that the import loop is written once for all kinds.
trait KindRecords: Sync {
    fn len(&self) -> usize;
    fn id(&self, index: usize) -> &str;
    fn prepare(&self, index: usize, keep_password: bool) -> Result<Prepared<'_>, StoreError>;
}

impl<E: Entity> KindRecords for Vec<E> {
    fn len(&self) -> usize {
        <[E]>::len(self)
    }

    fn id(&self, index: usize) -> &str {
        self[index].sourced_id()
    }

    fn prepare(&self, index: usize, keep_password: bool) -> Result<Prepared<'_>, StoreError> {
        let record = &self[index];
        let invalid = |e: serde_json::Error| StoreError::Invalid {
            what: "OneRoster record",
            message: format!("{} `{}` cannot be serialised: {e}", E::KIND, record.sourced_id()),
        };
        let mut value = serde_json::to_value(record).map_err(invalid)?;
        if let Some(object) = value.as_object_mut() {
            object.remove("status");
            object.remove("dateLastModified");
            if !keep_password {
                object.remove("password");
            }
        }
        value.sort_all_objects();
        let body = serde_json::value::to_raw_value(&value).map_err(invalid)?;
        let hash: [u8; 32] = Sha256::digest(body.get().as_bytes()).into();
        Ok(Prepared { id: record.sourced_id(), deleted: record.base().status == Status::ToBeDeleted, body, hash })
    }
}

fn kinds_of(roster: &Roster) -> [(EntityKind, &dyn KindRecords); 7] {
    [
        (EntityKind::Org, &roster.orgs),
        (EntityKind::AcademicSession, &roster.academic_sessions),
        (EntityKind::Course, &roster.courses),
        (EntityKind::Class, &roster.classes),
        (EntityKind::User, &roster.users),
        (EntityKind::Enrollment, &roster.enrollments),
        (EntityKind::Demographics, &roster.demographics),
    ]
}

/// What is stored of a record, for comparison: whether it is `tobedeleted`, and its hash.
type Stored = (bool, [u8; 32]);

fn stored_of(status: &str, hash: &str) -> Stored {
    let mut bytes = [0u8; 32];
    let valid = hash.len() == 64
        && bytes
            .iter_mut()
            .enumerate()
            .all(|(i, b)| u8::from_str_radix(hash.get(i * 2..i * 2 + 2).unwrap_or("zz"), 16).map(|v| *b = v).is_ok());
    if !valid {
        // An unreadable hash compares unequal to every real one, so the record is simply rewritten.
        bytes = [0u8; 32];
    }
    (status == Status::ToBeDeleted.as_str(), bytes)
}

/// Decides what to do with a prepared record given what is stored; true if it must be written.
fn classify(prepared: &Prepared<'_>, stored: Option<Stored>, counts: &mut ImportCounts) -> bool {
    match stored {
        None => {
            counts.created += 1;
            true
        }
        Some((was_deleted, hash)) if was_deleted == prepared.deleted && hash == prepared.hash => {
            counts.unchanged += 1;
            false
        }
        Some((was_deleted, _)) => {
            if prepared.deleted && !was_deleted {
                counts.deleted += 1;
            } else {
                counts.updated += 1;
            }
            true
        }
    }
}

fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// One record as the store holds it, decoded, with `status` and `dateLastModified` as stored: what
/// [`Store::stream_roster`] sends.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StoredRecord {
    /// An org.
    Org(Org),
    /// An academic session.
    AcademicSession(AcademicSession),
    /// A course.
    Course(Course),
    /// A class.
    Class(Class),
    /// A user.
    User(User),
    /// An enrollment.
    Enrollment(Enrollment),
    /// Demographics.
    Demographics(Demographics),
}

impl StoredRecord {
    /// Its kind.
    pub fn kind(&self) -> EntityKind {
        match self {
            StoredRecord::Org(_) => EntityKind::Org,
            StoredRecord::AcademicSession(_) => EntityKind::AcademicSession,
            StoredRecord::Course(_) => EntityKind::Course,
            StoredRecord::Class(_) => EntityKind::Class,
            StoredRecord::User(_) => EntityKind::User,
            StoredRecord::Enrollment(_) => EntityKind::Enrollment,
            StoredRecord::Demographics(_) => EntityKind::Demographics,
        }
    }

    /// Adds it to the roster's list of its kind.
    pub fn push_into(self, roster: &mut Roster) {
        match self {
            StoredRecord::Org(r) => roster.orgs.push(r),
            StoredRecord::AcademicSession(r) => roster.academic_sessions.push(r),
            StoredRecord::Course(r) => roster.courses.push(r),
            StoredRecord::Class(r) => roster.classes.push(r),
            StoredRecord::User(r) => roster.users.push(r),
            StoredRecord::Enrollment(r) => roster.enrollments.push(r),
            StoredRecord::Demographics(r) => roster.demographics.push(r),
        }
    }
}

fn decode_entity<E: Entity>(id: &str, status: &str, modified: DateTime<Utc>, body: &str) -> Result<E, StoreError> {
    let what = || format!("oneroster_records/{}/{id}", kind_text(E::KIND));
    let mut record: E = serde_json::from_str(body).map_err(|e| corrupt(what(), e))?;
    let base = record.base_mut();
    base.status = Status::parse(status).ok_or_else(|| corrupt(what(), format!("unknown status `{status}`")))?;
    base.date_last_modified = Some(modified);
    Ok(record)
}

fn decode_record(
    kind: EntityKind,
    id: &str,
    status: &str,
    modified: DateTime<Utc>,
    body: &str,
) -> Result<StoredRecord, StoreError> {
    Ok(match kind {
        EntityKind::Org => StoredRecord::Org(decode_entity(id, status, modified, body)?),
        EntityKind::AcademicSession => StoredRecord::AcademicSession(decode_entity(id, status, modified, body)?),
        EntityKind::Course => StoredRecord::Course(decode_entity(id, status, modified, body)?),
        EntityKind::Class => StoredRecord::Class(decode_entity(id, status, modified, body)?),
        EntityKind::User => StoredRecord::User(decode_entity(id, status, modified, body)?),
        EntityKind::Enrollment => StoredRecord::Enrollment(decode_entity(id, status, modified, body)?),
        EntityKind::Demographics => StoredRecord::Demographics(decode_entity(id, status, modified, body)?),
    })
}

fn decode_into(
    roster: &mut Roster,
    kind: &str,
    id: &str,
    status: &str,
    modified: DateTime<Utc>,
    body: &str,
) -> Result<(), StoreError> {
    let kind = kind_of(kind).ok_or_else(|| corrupt(format!("oneroster_records/{kind}/{id}"), "unknown kind"))?;
    decode_record(kind, id, status, modified, body)?.push_into(roster);
    Ok(())
}

const UPSERT_HEAD: &str =
    "INSERT INTO oneroster_records (kind, sourced_id, status, date_last_modified, content_hash, body, version) ";
const UPSERT_TAIL: &str = " ON CONFLICT (kind, sourced_id) DO UPDATE SET status = excluded.status, \
     date_last_modified = excluded.date_last_modified, content_hash = excluded.content_hash, body = excluded.body, \
     version = excluded.version";

/// `sourced_id, status, date_last_modified, body` of one stored record.
type RecordRow = (String, String, DateTime<Utc>, Json<Box<RawValue>>);

type ApiClientRow = (String, String, DateTime<Utc>, Option<DateTime<Utc>>);

type ImportRow =
    (String, i64, String, Option<String>, DateTime<Utc>, i64, i64, i64, i64, Json<BTreeMap<EntityKind, ImportCounts>>);

impl Store {
    /// Imports a roster in one transaction (see the module docs): bulk or delta, `now` as the `dateLastModified`
    /// of what changes. Users' passwords are dropped.
    pub async fn import_roster(
        &self,
        roster: &Roster,
        mode: ImportMode,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError> {
        self.import_roster_with(roster, &ImportOptions::new(mode), now).await
    }

    /// Imports a roster in one transaction, with options.
    pub async fn import_roster_with(
        &self,
        roster: &Roster,
        options: &ImportOptions,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError> {
        let now = truncate_to_millis(now);
        let import_id = uuid::Uuid::new_v4().to_string();
        let keep_password = options.store_passwords;
        let mut kinds: BTreeMap<EntityKind, ImportCounts> = BTreeMap::new();
        let version: i64 = on_db!(&self.db, pool => {
            let mut tx = pool.begin_write().await.map_err(db("begin an import"))?;
            let (version,): (i64,) =
                sqlx::query_as("UPDATE roster_state SET version = version + 1 WHERE id = 1 RETURNING version")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("bump roster_state.version"))?;
            for (kind, records) in kinds_of(roster) {
                let Some(mode) = options.mode.for_kind(kind, records.len()) else { continue };
                let kind_name = kind_text(kind);
                let mut counts = ImportCounts::default();
                let mut seen: HashSet<&str> = HashSet::with_capacity(records.len());
                // Bulk: everything stored of the kind, read once; what is left at the end was not imported.
                let mut stored: HashMap<String, Stored> = HashMap::new();
                if mode == KindMode::Bulk {
                    let mut rows = sqlx::query_as::<_, (String, String, String)>(
                        "SELECT sourced_id, status, content_hash FROM oneroster_records WHERE kind = $1",
                    )
                    .bind(kind_name)
                    .fetch(&mut *tx);
                    while let Some((id, status, hash)) = rows.try_next().await.map_err(db("read oneroster_records"))? {
                        stored.insert(id, stored_of(&status, &hash));
                    }
                }
                let mut start = 0;
                while start < records.len() {
                    let end = (start + UPSERT_CHUNK).min(records.len());
                    // Delta: what is stored of this chunk's records only.
                    if mode == KindMode::Delta {
                        stored.clear();
                        let mut qb = builder(
                            pool,
                            "SELECT sourced_id, status, content_hash FROM oneroster_records WHERE kind = ",
                        );
                        qb.push_bind(kind_name).push(" AND sourced_id IN (");
                        let mut ids = qb.separated(", ");
                        for i in start..end {
                            ids.push_bind(records.id(i));
                        }
                        qb.push(")");
                        let rows: Vec<(String, String, String)> = qb
                            .build_query_as()
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(db("read oneroster_records"))?;
                        stored.extend(rows.into_iter().map(|(id, status, hash)| {
                            let s = stored_of(&status, &hash);
                            (id, s)
                        }));
                    }
                    let mut writes: Vec<Prepared<'_>> = Vec::with_capacity(end - start);
                    for i in start..end {
                        let prepared = records.prepare(i, keep_password)?;
                        if !seen.insert(prepared.id) {
                            return Err(StoreError::DuplicateRecord { kind, sourced_id: prepared.id.to_owned() });
                        }
                        let before = match mode {
                            KindMode::Bulk => stored.remove(prepared.id),
                            KindMode::Delta => stored.get(prepared.id).copied(),
                        };
                        if classify(&prepared, before, &mut counts) {
                            writes.push(prepared);
                        }
                    }
                    if !writes.is_empty() {
                        let hashes: Vec<String> = writes.iter().map(|p| hex(&p.hash)).collect();
                        let mut qb = builder(pool, UPSERT_HEAD);
                        qb.push_values(writes.iter().zip(&hashes), |mut b, (p, hash)| {
                            let status = if p.deleted { Status::ToBeDeleted } else { Status::Active };
                            b.push_bind(kind_name)
                                .push_bind(p.id)
                                .push_bind(status_text(status))
                                .push_bind(now)
                                .push_bind(hash.as_str())
                                .push_bind(Json(&*p.body))
                                .push_bind(version);
                        });
                        qb.push(UPSERT_TAIL);
                        qb.build().execute(&mut *tx).await.map_err(db("upsert into oneroster_records"))?;
                    }
                    start = end;
                }
                if mode == KindMode::Bulk {
                    let mut gone: Vec<&str> =
                        stored.iter().filter(|(_, (deleted, _))| !deleted).map(|(id, _)| id.as_str()).collect();
                    gone.sort_unstable();
                    counts.deleted += gone.len();
                    counts.unchanged += stored.len() - gone.len();
                    for chunk in gone.chunks(UPSERT_CHUNK) {
                        let mut qb = builder(pool, "UPDATE oneroster_records SET status = ");
                        qb.push_bind(status_text(Status::ToBeDeleted))
                            .push(", date_last_modified = ")
                            .push_bind(now)
                            .push(", version = ")
                            .push_bind(version)
                            .push(" WHERE kind = ")
                            .push_bind(kind_name)
                            .push(" AND sourced_id IN (");
                        let mut ids = qb.separated(", ");
                        for id in chunk {
                            ids.push_bind(*id);
                        }
                        qb.push(")");
                        qb.build().execute(&mut *tx).await.map_err(db("mark oneroster_records tobedeleted"))?;
                    }
                }
                kinds.insert(kind, counts);
            }
            let mut totals = ImportCounts::default();
            for counts in kinds.values() {
                totals.add(counts);
            }
            sqlx::query(
                "INSERT INTO oneroster_imports (id, version, mode, source, imported_at, created, updated, unchanged, \
                 deleted, kinds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&import_id)
            .bind(version)
            .bind(options.mode.label())
            .bind(options.source.as_deref())
            .bind(now)
            .bind(to_i64(totals.created))
            .bind(to_i64(totals.updated))
            .bind(to_i64(totals.unchanged))
            .bind(to_i64(totals.deleted))
            .bind(Json(&kinds))
            .execute(&mut *tx)
            .await
            .map_err(db("insert into oneroster_imports"))?;
            if is_postgres(pool) {
                // Delivered to listeners when (and only if) the transaction commits.
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(ROSTER_CHANNEL)
                    .bind(version.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("notify roster_changed"))?;
            }
            tx.commit().await.map_err(db("commit an import"))?;
            version
        });
        let report = ImportReport { id: import_id, version: to_u64(version), imported_at: now, kinds };
        let totals = report.totals();
        tracing::info!(
            version = report.version,
            created = totals.created,
            updated = totals.updated,
            unchanged = totals.unchanged,
            deleted = totals.deleted,
            "OneRoster import committed"
        );
        Ok(report)
    }

    /// Imports, as a delta, only the records of `roster` whose content or status differs from what is stored (or
    /// that are not stored). When none differs, nothing is written at all — no new roster version, no import
    /// history, so feed servers do not reload — and `None` is returned. For writers that restate what they hold on
    /// every run (the sync's roster-store sink, configured orgs and sessions). Users' passwords are dropped.
    pub async fn import_changes(
        &self,
        roster: &Roster,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ImportReport>, StoreError> {
        let mut wanted: BTreeMap<EntityKind, HashSet<usize>> = BTreeMap::new();
        for (kind, records) in kinds_of(roster) {
            let mut start = 0;
            while start < records.len() {
                let end = (start + UPSERT_CHUNK).min(records.len());
                let rows: Vec<(String, String, String)> = on_db!(&self.db, pool => {
                    let mut qb = builder(
                        pool,
                        "SELECT sourced_id, status, content_hash FROM oneroster_records WHERE kind = ",
                    );
                    qb.push_bind(kind_text(kind)).push(" AND sourced_id IN (");
                    let mut ids = qb.separated(", ");
                    for i in start..end {
                        ids.push_bind(records.id(i));
                    }
                    qb.push(")");
                    qb.build_query_as().fetch_all(pool).await.map_err(db("read oneroster_records"))?
                });
                let stored: HashMap<String, Stored> =
                    rows.into_iter().map(|(id, status, hash)| (id, stored_of(&status, &hash))).collect();
                for i in start..end {
                    let prepared = records.prepare(i, false)?;
                    let mut counts = ImportCounts::default();
                    if classify(&prepared, stored.get(prepared.id).copied(), &mut counts) {
                        wanted.entry(kind).or_default().insert(i);
                    }
                }
                start = end;
            }
        }
        if wanted.is_empty() {
            return Ok(None);
        }
        fn pick<E: Clone>(records: &[E], keep: Option<&HashSet<usize>>) -> Vec<E> {
            let Some(keep) = keep else { return Vec::new() };
            records.iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, r)| r.clone()).collect()
        }
        let changes = Roster {
            orgs: pick(&roster.orgs, wanted.get(&EntityKind::Org)),
            academic_sessions: pick(&roster.academic_sessions, wanted.get(&EntityKind::AcademicSession)),
            courses: pick(&roster.courses, wanted.get(&EntityKind::Course)),
            classes: pick(&roster.classes, wanted.get(&EntityKind::Class)),
            users: pick(&roster.users, wanted.get(&EntityKind::User)),
            enrollments: pick(&roster.enrollments, wanted.get(&EntityKind::Enrollment)),
            demographics: pick(&roster.demographics, wanted.get(&EntityKind::Demographics)),
        };
        let options = ImportOptions::new(ImportMode::Delta).source(source);
        self.import_roster_with(&changes, &options, now).await.map(Some)
    }

    /// The roster version: how many imports have been committed.
    pub async fn roster_version(&self) -> Result<u64, StoreError> {
        let (version,): (i64,) = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT version FROM roster_state WHERE id = 1")
                .fetch_one(pool)
                .await
                .map_err(db("read roster_state"))?
        });
        Ok(to_u64(version))
    }

    /// Every stored record of every kind (`tobedeleted` ones included), each kind sorted by `sourcedId`, with
    /// `status` and `dateLastModified` as stored, and the roster version they make, read from one snapshot.
    pub async fn load_roster(&self) -> Result<(u64, Roster), StoreError> {
        self.load(None).await
    }

    /// The records changed by imports after roster version `since` (for a feed server that holds version `since`
    /// and wants only what changed), and the version they bring it to.
    pub async fn load_roster_changes(&self, since: u64) -> Result<(u64, Roster), StoreError> {
        self.load(Some(i64::try_from(since).unwrap_or(i64::MAX))).await
    }

    async fn load(&self, since: Option<i64>) -> Result<(u64, Roster), StoreError> {
        let mut roster = Roster::default();
        let version: i64 = on_db!(&self.db, pool => {
            let mut tx = pool.begin_snapshot().await.map_err(db("begin reading the roster"))?;
            let (version,): (i64,) = sqlx::query_as("SELECT version FROM roster_state WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(db("read roster_state"))?;
            {
                let sql = "SELECT kind, sourced_id, status, date_last_modified, body FROM oneroster_records \
                           WHERE version > $1 ORDER BY kind, sourced_id";
                let mut rows = sqlx::query_as::<_, (String, String, String, DateTime<Utc>, Json<Box<RawValue>>)>(sql)
                    .bind(since.unwrap_or(i64::MIN))
                    .fetch(&mut *tx);
                while let Some((kind, id, status, modified, Json(body))) =
                    rows.try_next().await.map_err(db("read oneroster_records"))?
                {
                    decode_into(&mut roster, &kind, &id, &status, modified, body.get())?;
                }
            }
            tx.commit().await.map_err(db("end reading the roster"))?;
            version
        });
        Ok((to_u64(version), roster))
    }

    /// Sends every stored record (`tobedeleted` ones included) to `out`, kind after kind in dependency order
    /// ([`EntityKind::ALL`]: orgs, academic sessions, courses, classes, users, enrollments, demographics), all read
    /// from one database snapshot, and returns the roster version they make. With `since`, only the records changed
    /// by imports after that version are sent.
    ///
    /// Records are decoded one at a time and sent as they are read, so a consumer that builds something smaller
    /// than the records (a feed server's snapshot) never holds the whole roster; `out`'s capacity bounds what is in
    /// flight. Within a kind, records come in the database's `sourcedId` order, which on PostgreSQL follows the
    /// database's collation rather than byte order: sort if byte order matters. Fails if `out`'s receiver is
    /// dropped before the end.
    pub async fn stream_roster(
        &self,
        since: Option<u64>,
        out: &tokio::sync::mpsc::Sender<StoredRecord>,
    ) -> Result<u64, StoreError> {
        let since = since.map_or(i64::MIN, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let version: i64 = on_db!(&self.db, pool => {
            let mut tx = pool.begin_snapshot().await.map_err(db("begin reading the roster"))?;
            let (version,): (i64,) = sqlx::query_as("SELECT version FROM roster_state WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(db("read roster_state"))?;
            for kind in EntityKind::ALL {
                let sql = "SELECT sourced_id, status, date_last_modified, body FROM oneroster_records \
                           WHERE kind = $1 AND version > $2 ORDER BY sourced_id";
                let mut rows = sqlx::query_as::<_, (String, String, DateTime<Utc>, Json<Box<RawValue>>)>(sql)
                    .bind(kind_text(kind))
                    .bind(since)
                    .fetch(&mut *tx);
                while let Some((id, status, modified, Json(body))) =
                    rows.try_next().await.map_err(db("read oneroster_records"))?
                {
                    let record = decode_record(kind, &id, &status, modified, body.get())?;
                    if out.send(record).await.is_err() {
                        return Err(StoreError::Invalid {
                            what: "roster stream",
                            message: "the receiver stopped before the whole roster was read".into(),
                        });
                    }
                }
            }
            tx.commit().await.map_err(db("end reading the roster"))?;
            version
        });
        Ok(to_u64(version))
    }

    /// The stored records of kind `E` with these `sourcedId`s (`tobedeleted` ones included), in no particular
    /// order; ids that are not stored are left out.
    pub async fn records<E: Entity>(&self, ids: &[&str]) -> Result<Vec<E>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(UPSERT_CHUNK) {
            let rows: Vec<RecordRow> = on_db!(&self.db, pool => {
                let mut qb = builder(
                    pool,
                    "SELECT sourced_id, status, date_last_modified, body FROM oneroster_records WHERE kind = ",
                );
                qb.push_bind(kind_text(E::KIND)).push(" AND sourced_id IN (");
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(")");
                qb.build_query_as().fetch_all(pool).await.map_err(db("read oneroster_records"))?
            });
            for (id, status, modified, Json(body)) in rows {
                out.push(decode_entity(&id, &status, modified, body.get())?);
            }
        }
        Ok(out)
    }

    /// Every stored record of kind `E` (`tobedeleted` ones included), sorted by `sourcedId`.
    pub async fn records_of_kind<E: Entity>(&self) -> Result<Vec<E>, StoreError> {
        let rows: Vec<RecordRow> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT sourced_id, status, date_last_modified, body FROM oneroster_records WHERE kind = $1",
            )
            .bind(kind_text(E::KIND))
            .fetch_all(pool)
            .await
            .map_err(db("read oneroster_records"))?
        });
        let mut out = rows
            .into_iter()
            .map(|(id, status, modified, Json(body))| decode_entity::<E>(&id, &status, modified, body.get()))
            .collect::<Result<Vec<E>, _>>()?;
        out.sort_by(|a, b| a.sourced_id().cmp(b.sourced_id()));
        Ok(out)
    }

    /// The most recent committed imports, newest first.
    pub async fn imports(&self, limit: usize) -> Result<Vec<ImportRecord>, StoreError> {
        let rows: Vec<ImportRow> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT id, version, mode, source, imported_at, created, updated, unchanged, deleted, kinds \
                 FROM oneroster_imports ORDER BY version DESC LIMIT $1",
            )
            .bind(to_i64(limit))
            .fetch_all(pool)
            .await
            .map_err(db("read oneroster_imports"))?
        });
        Ok(rows
            .into_iter()
            .map(|(id, version, mode, source, imported_at, created, updated, unchanged, deleted, Json(kinds))| {
                ImportRecord {
                    id,
                    version: to_u64(version),
                    mode,
                    source,
                    imported_at,
                    totals: ImportCounts {
                        created: to_usize(created),
                        updated: to_usize(updated),
                        unchanged: to_usize(unchanged),
                        deleted: to_usize(deleted),
                    },
                    kinds,
                }
            })
            .collect())
    }

    /// Watches for new roster versions: on PostgreSQL by `LISTEN roster_changed` (checked every `poll` as well, in
    /// case a notification was lost with a connection), on SQLite by reading the version every `poll`.
    pub async fn watch_roster(&self, poll: Duration) -> Result<RosterWatcher, StoreError> {
        let last = self.roster_version().await?;
        let listener = match &self.db {
            crate::db::Db::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool)
                    .await
                    .map_err(db("connect a listener for roster_changed"))?;
                listener.listen(ROSTER_CHANNEL).await.map_err(db("listen on roster_changed"))?;
                Some(listener)
            }
            crate::db::Db::Sqlite(_) => None,
        };
        Ok(RosterWatcher { store: self.clone(), listener, poll: poll.max(Duration::from_millis(10)), last })
    }

    /// Saves an API client's secret hash: creates the client, or replaces its hash and sets `rotated_at = at`.
    pub async fn save_api_client(
        &self,
        client_id: &str,
        secret_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if client_id.is_empty() || secret_hash.is_empty() {
            return Err(StoreError::Invalid {
                what: "API client",
                message: "client id and hash must be non-empty".into(),
            });
        }
        on_db!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO api_clients (client_id, secret_hash, created_at, rotated_at) VALUES ($1, $2, $3, NULL) \
                 ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, \
                 rotated_at = excluded.created_at",
            )
            .bind(client_id)
            .bind(secret_hash)
            .bind(at)
            .execute(pool)
            .await
            .map_err(db("save into api_clients"))?;
        });
        Ok(())
    }

    /// One API client.
    pub async fn api_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError> {
        let row: Option<ApiClientRow> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT client_id, secret_hash, created_at, rotated_at FROM api_clients WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(pool)
                .await
                .map_err(db("read api_clients"))?
        });
        Ok(row.map(|(client_id, secret_hash, created_at, rotated_at)| ApiClient {
            client_id,
            secret_hash,
            created_at,
            rotated_at,
        }))
    }

    /// Every API client, by id.
    pub async fn api_clients(&self) -> Result<Vec<ApiClient>, StoreError> {
        let rows: Vec<ApiClientRow> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT client_id, secret_hash, created_at, rotated_at FROM api_clients ORDER BY client_id")
                .fetch_all(pool)
                .await
                .map_err(db("read api_clients"))?
        });
        Ok(rows
            .into_iter()
            .map(|(client_id, secret_hash, created_at, rotated_at)| ApiClient {
                client_id,
                secret_hash,
                created_at,
                rotated_at,
            })
            .collect())
    }

    /// Deletes an API client. Returns whether it existed.
    pub async fn delete_api_client(&self, client_id: &str) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM api_clients WHERE client_id = $1")
                .bind(client_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() > 0)
                .map_err(db("delete from api_clients"))
        })
    }
}

/// Waits for new roster versions; see [`Store::watch_roster`].
pub struct RosterWatcher {
    store: Store,
    listener: Option<sqlx::postgres::PgListener>,
    poll: Duration,
    last: u64,
}

impl fmt::Debug for RosterWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RosterWatcher")
            .field("listening", &self.listener.is_some())
            .field("poll", &self.poll)
            .field("last", &self.last)
            .finish()
    }
}

impl RosterWatcher {
    /// The last version seen.
    pub fn last_version(&self) -> u64 {
        self.last
    }

    /// Waits until the roster version is greater than the last one seen, and returns it.
    pub async fn changed(&mut self) -> Result<u64, StoreError> {
        loop {
            match &mut self.listener {
                Some(listener) => {
                    // A notification, a lost connection (None: it reconnects on the next call) or the poll
                    // interval: in every case, read the version. Notifications from other schemas of the same
                    // database share the channel, so the payload is only a hint.
                    if let Ok(Err(e)) = tokio::time::timeout(self.poll, listener.try_recv()).await {
                        tracing::debug!(error = %e, "roster_changed listener failed; polling until it reconnects");
                        tokio::time::sleep(self.poll).await;
                    }
                }
                None => tokio::time::sleep(self.poll).await,
            }
            let version = self.store.roster_version().await?;
            if version > self.last {
                self.last = version;
                return Ok(version);
            }
        }
    }
}

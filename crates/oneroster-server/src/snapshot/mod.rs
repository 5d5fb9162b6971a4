//! The immutable in-memory roster that requests are served from, and the handle that swaps it.
//!
//! A [`Snapshot`] holds, per kind, every record sorted by `sourcedId` and already serialised as JSON (with a marker
//! where each `href` needs the public base URL and, for users, before the `password` field), a few typed columns
//! (`status`, `dateLastModified`) that the filters SDS sends can be evaluated on without decoding, and indexes for
//! the nested endpoints (school → classes, class → students, user → classes, …). Nothing in it changes after it
//! is built: an import builds a new one and [`SnapshotHandle::swap`] replaces the old one atomically. A request
//! loads the current snapshot once and serves its whole page from it, so a page never mixes two rosters.

pub(crate) mod build;
pub(crate) mod kind;

use crate::error::Error;
use crate::page::QueryCache;
use arc_swap::ArcSwap;
use oneroster_model::{
    AcademicSession, Class, Course, Demographics, Enrollment, EntityKind, Org, Roster, Status, User,
};
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// Marks where the public base URL goes in a pre-serialised record (a control character never appears raw in
/// serde_json output, so it cannot come from data).
pub(crate) const HREF_MARK: u8 = 0x01;
/// Marks the start of the `,"password":…` member, the last of a user record.
pub(crate) const PASSWORD_MARK: u8 = 0x02;
/// Stands for the `,"status":…,"dateLastModified":…` members right after the `sourcedId`: they are written from
/// the record's typed columns, so the JSON does not carry them twice (about 60 bytes a record).
pub(crate) const STATUS_MARK: u8 = 0x03;
/// No parent: a reference to a record that is not in the roster.
const NONE: u32 = u32::MAX;
/// The fixed start of every pre-serialised record.
const ID_PREFIX: &str = "{\"sourcedId\":\"";

/// One record, pre-serialised.
pub(crate) struct Record {
    /// The JSON object, with [`HREF_MARK`] before each `href` path, [`STATUS_MARK`] for `status` and
    /// `dateLastModified`, and [`PASSWORD_MARK`] before the password.
    pub(crate) json: Box<str>,
    /// `dateLastModified` in milliseconds since the epoch; `i64::MIN` when absent.
    pub(crate) modified: i64,
    /// The length of the `sourcedId` as it appears right after [`ID_PREFIX`]; `u32::MAX` when JSON escaping
    /// changed it (the id is then kept in [`Table::odd_ids`]).
    id_len: u32,
    /// `status`.
    pub(crate) status: Status,
}

#[cfg(test)]
impl Record {
    /// A record of already-marked JSON, for unit tests of rendering.
    pub(crate) fn for_test(json: &str, status: Status, modified: i64) -> Record {
        Record { json: json.into(), modified, id_len: u32::MAX, status }
    }
}

/// Every record of one kind, sorted by `sourcedId`.
pub(crate) struct Table<E> {
    pub(crate) records: Vec<Record>,
    /// The ids that JSON escaping changes (quotes, backslashes, control characters), by record index.
    odd_ids: HashMap<u32, Box<str>>,
    kind: PhantomData<fn() -> E>,
}

impl<E> Table<E> {
    fn empty() -> Table<E> {
        Table { records: Vec::new(), odd_ids: HashMap::new(), kind: PhantomData }
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn record(&self, index: u32) -> Option<&Record> {
        self.records.get(index as usize)
    }

    /// The `sourcedId` of the record at `index` (empty if there is none).
    pub(crate) fn id(&self, index: u32) -> &str {
        let Some(record) = self.record(index) else { return "" };
        if record.id_len == u32::MAX {
            return self.odd_ids.get(&index).map_or("", |id| id);
        }
        let end = ID_PREFIX.len() + record.id_len as usize;
        record.json.get(ID_PREFIX.len()..end).unwrap_or("")
    }

    /// The index of the record with this `sourcedId`.
    pub(crate) fn find(&self, id: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.records.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let index = u32::try_from(mid).ok()?;
            match self.id(index).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(index),
            }
        }
        None
    }
}

/// Children grouped by parent, in compressed form: the children of parent `p` are
/// `items[offsets[p]..offsets[p + 1]]`, sorted (so in `sourcedId` order) and without duplicates.
#[derive(Default)]
pub(crate) struct Groups {
    offsets: Box<[u32]>,
    items: Box<[u32]>,
}

impl Groups {
    /// Groups `(parent, child)` pairs; pairs whose parent is [`NONE`] or out of range are dropped.
    fn build(parents: usize, mut pairs: Vec<(u32, u32)>, what: &str) -> Result<Groups, Error> {
        pairs.retain(|&(p, c)| p != NONE && c != NONE && (p as usize) < parents);
        pairs.sort_unstable();
        pairs.dedup();
        let too_large = || Error::TooLarge { what: what.to_owned() };
        let mut offsets = Vec::with_capacity(parents + 1);
        let mut items = Vec::with_capacity(pairs.len());
        let mut next = pairs.iter().peekable();
        for parent in 0..parents {
            offsets.push(u32::try_from(items.len()).map_err(|_| too_large())?);
            while let Some(&&(p, child)) = next.peek() {
                if p as usize != parent {
                    break;
                }
                items.push(child);
                next.next();
            }
        }
        offsets.push(u32::try_from(items.len()).map_err(|_| too_large())?);
        Ok(Groups { offsets: offsets.into(), items: items.into() })
    }

    /// The children of `parent`, empty for an unknown parent.
    pub(crate) fn get(&self, parent: u32) -> &[u32] {
        let p = parent as usize;
        match (self.offsets.get(p), self.offsets.get(p + 1)) {
            (Some(&start), Some(&end)) => self.items.get(start as usize..end as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// The indexes behind the subset and nested endpoints. Every list holds record indexes in ascending order, which
/// is `sourcedId` order.
#[derive(Default)]
pub(crate) struct Indexes {
    /// Sessions of type `term`.
    pub(crate) terms: Box<[u32]>,
    /// Sessions of type `gradingPeriod`.
    pub(crate) grading_periods: Box<[u32]>,
    /// Orgs of type `school`.
    pub(crate) schools: Box<[u32]>,
    /// Users whose role is `student`.
    pub(crate) students: Box<[u32]>,
    /// Users whose role is `teacher`.
    pub(crate) teachers: Box<[u32]>,
    /// Session → its child sessions of type `gradingPeriod`.
    pub(crate) session_grading_periods: Groups,
    /// Class → the org of its `school` ([`NONE`] if not in the roster).
    pub(crate) class_school: Box<[u32]>,
    /// Org → classes whose `school` it is.
    pub(crate) org_classes: Groups,
    /// Course → its classes.
    pub(crate) course_classes: Groups,
    /// Session → classes that list it in `terms`.
    pub(crate) session_classes: Groups,
    /// Org → courses whose `org` it is.
    pub(crate) org_courses: Groups,
    /// Org → the sessions its classes list in `terms`.
    pub(crate) org_terms: Groups,
    /// Org → enrollments whose `school` it is.
    pub(crate) org_enrollments: Groups,
    /// Class → its enrollments.
    pub(crate) class_enrollments: Groups,
    /// Class → users enrolled with role `student`.
    pub(crate) class_students: Groups,
    /// Class → users enrolled with role `teacher`.
    pub(crate) class_teachers: Groups,
    /// Org → users with role `student` that list it in `orgs`.
    pub(crate) org_students: Groups,
    /// Org → users with role `teacher` that list it in `orgs`.
    pub(crate) org_teachers: Groups,
    /// User → classes they are enrolled in, with any role.
    pub(crate) user_classes: Groups,
    /// User → classes they are enrolled in as a student.
    pub(crate) student_classes: Groups,
    /// User → classes they are enrolled in as a teacher.
    pub(crate) teacher_classes: Groups,
}

/// An immutable, fully indexed roster, ready to serve.
///
/// Per kind it holds every record sorted by `sourcedId` and already serialised as JSON (with a marker where each
/// `href` needs the public base URL of the request and, for users, before the `password` member), the typed
/// `status` and `dateLastModified` columns that the filters School Data Sync sends are evaluated on without
/// decoding, and the indexes of the nested endpoints (school → classes, class → students, user → classes, …).
/// Nothing in it changes once built: an import builds a new snapshot and [`SnapshotHandle::swap`] puts it in
/// service. Each request loads the current snapshot once and serves its whole page from it, so a page never mixes
/// two rosters.
///
/// Memory: about the size of the records' JSON (without `status` and `dateLastModified`, kept as columns) plus 32
/// bytes per record and 4 bytes per index entry.
pub struct Snapshot {
    version: u64,
    pub(crate) orgs: Table<Org>,
    pub(crate) academic_sessions: Table<AcademicSession>,
    pub(crate) courses: Table<Course>,
    pub(crate) classes: Table<Class>,
    pub(crate) users: Table<User>,
    pub(crate) enrollments: Table<Enrollment>,
    pub(crate) demographics: Table<Demographics>,
    pub(crate) index: Indexes,
    pub(crate) cache: QueryCache,
}

impl Snapshot {
    /// A snapshot with no records, version 0: what a server serves before its first load.
    pub fn empty() -> Snapshot {
        Snapshot {
            version: 0,
            orgs: Table::empty(),
            academic_sessions: Table::empty(),
            courses: Table::empty(),
            classes: Table::empty(),
            users: Table::empty(),
            enrollments: Table::empty(),
            demographics: Table::empty(),
            index: Indexes::default(),
            cache: QueryCache::default(),
        }
    }

    /// Builds a snapshot of `roster`, labelled `version` (the store's roster version, or any number that grows).
    ///
    /// Records of each kind are sorted by `sourcedId`; of two records with the same `sourcedId` the later one wins.
    /// The `children` of orgs and academic sessions are linked from their `parent`s
    /// ([`Roster::link_children`]). Every `href` is replaced by the URL of the referenced record (under the base URL
    /// of each request). `tobedeleted` records are kept: consumers filter on `status`.
    ///
    /// This is CPU work proportional to the roster (about a microsecond per record); call it from
    /// `tokio::task::spawn_blocking` in async code. Fails only for a kind with more than `u32::MAX` records.
    pub fn from_roster(version: u64, roster: Roster) -> Result<Snapshot, Error> {
        build::build(version, roster)
    }

    /// The version the snapshot was built with.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// How many records of `kind` it holds.
    pub fn len(&self, kind: EntityKind) -> usize {
        match kind {
            EntityKind::Org => self.orgs.len(),
            EntityKind::AcademicSession => self.academic_sessions.len(),
            EntityKind::Course => self.courses.len(),
            EntityKind::Class => self.classes.len(),
            EntityKind::User => self.users.len(),
            EntityKind::Enrollment => self.enrollments.len(),
            EntityKind::Demographics => self.demographics.len(),
        }
    }

    /// Whether it holds no records at all.
    pub fn is_empty(&self) -> bool {
        EntityKind::ALL.iter().all(|&kind| self.len(kind) == 0)
    }
}

impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot::empty()
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Snapshot");
        s.field("version", &self.version);
        for kind in EntityKind::ALL {
            s.field(kind.collection_key(), &self.len(kind));
        }
        s.finish()
    }
}

/// The current snapshot, shared by every request and replaced atomically after each import. Clones share it.
///
/// ```
/// use oneroster_server::{Snapshot, SnapshotHandle};
/// use oneroster_model::Roster;
///
/// let handle = SnapshotHandle::new(Snapshot::empty());
/// let before = handle.load(); // a request holds its snapshot for as long as it needs it
/// handle.swap(Snapshot::from_roster(7, Roster::default())?);
/// assert_eq!((before.version(), handle.version()), (0, 7));
/// # Ok::<(), oneroster_server::Error>(())
/// ```
#[derive(Clone)]
pub struct SnapshotHandle(Arc<ArcSwap<Snapshot>>);

impl SnapshotHandle {
    /// A handle serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> SnapshotHandle {
        SnapshotHandle(Arc::new(ArcSwap::from_pointee(snapshot)))
    }

    /// The current snapshot. Requests in flight keep theirs alive after a swap.
    pub fn load(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// Serves `snapshot` from now on; returns the one it replaces.
    pub fn swap(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let new = Arc::new(snapshot);
        tracing::info!(version = new.version(), users = new.users.len(), "serving a new roster snapshot");
        self.0.swap(new)
    }

    /// The version of the current snapshot.
    pub fn version(&self) -> u64 {
        self.0.load().version()
    }
}

impl Default for SnapshotHandle {
    fn default() -> SnapshotHandle {
        SnapshotHandle::new(Snapshot::empty())
    }
}

impl fmt::Debug for SnapshotHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SnapshotHandle").field(&*self.0.load()).finish()
    }
}

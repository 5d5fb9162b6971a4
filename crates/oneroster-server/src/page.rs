//! Which records a collection request returns, in which order.
//!
//! An unfiltered request in the default order (or `sort=sourcedId`, either way) is served straight from the
//! snapshot's sorted tables and indexes: a page costs O(limit) whatever its offset. A filtered or sorted request
//! scans its collection once and keeps the matching record indexes (4 bytes each, never JSON); for large
//! collections the result is computed off the async runtime and cached in the snapshot, keyed by collection, filter
//! and sort, so that paging through it (as School Data Sync does with `filter=status='active'` or a
//! `dateLastModified>` delta) costs O(limit) per page after the first. A new snapshot starts with an empty cache.
//!
//! Filters and sorts that name only `sourcedId`, `status` and `dateLastModified` are evaluated on typed columns
//! kept beside the JSON; others decode each candidate record.

use crate::error::Error;
use crate::render::write_json;
use crate::routes::Endpoint;
use crate::snapshot::kind::Kind;
use crate::snapshot::{Record, Snapshot, Table};
use chrono::DateTime;
use oneroster_model::query::{BoundFilter, SortOrder, SortSpec};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{OnceCell, Semaphore};

/// Collections at least this large have their filtered or sorted order computed on a blocking thread and cached.
const CACHE_FROM: usize = 2048;
/// At most this many cached results per snapshot…
const CACHE_ENTRIES: usize = 64;
/// …holding at most this many record indexes in all (64 MiB).
const CACHE_ITEMS: usize = 16 << 20;

/// The fields with typed columns.
const COLUMNS: [&str; 3] = ["sourcedId", "status", "dateLastModified"];

/// The records a collection endpoint covers before filtering: a whole table or a list of record indexes.
pub(crate) enum Source<'s> {
    All(usize),
    Slice(&'s [u32]),
    Owned(Vec<u32>),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::All(len) => *len,
            Source::Slice(items) => items.len(),
            Source::Owned(items) => items.len(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            Source::All(len) => Box::new((0..*len).filter_map(|i| u32::try_from(i).ok())),
            Source::Slice(items) => Box::new(items.iter().copied()),
            Source::Owned(items) => Box::new(items.iter().copied()),
        }
    }
}

/// Record indexes in response order.
pub(crate) struct Ordered<'s> {
    items: Items<'s>,
    /// Read backwards (`sourcedId` descending).
    reverse: bool,
}

enum Items<'s> {
    Source(Source<'s>),
    Shared(Arc<[u32]>),
}

impl Ordered<'_> {
    /// How many records match.
    pub(crate) fn len(&self) -> usize {
        match &self.items {
            Items::Source(source) => source.len(),
            Items::Shared(items) => items.len(),
        }
    }

    /// The record index at position `pos` (0-based) of the response order.
    pub(crate) fn get(&self, pos: usize) -> Option<u32> {
        let len = self.len();
        let at = if self.reverse { len.checked_sub(pos + 1)? } else { pos };
        match &self.items {
            Items::Source(Source::All(len)) => (at < *len).then(|| u32::try_from(at).ok()).flatten(),
            Items::Source(Source::Slice(items)) => items.get(at).copied(),
            Items::Source(Source::Owned(items)) => items.get(at).copied(),
            Items::Shared(items) => items.get(at).copied(),
        }
    }
}

/// Whether a sort keeps the default (`sourcedId`) order, and if so whether backwards.
fn natural<E: Kind>(sort: Option<&SortSpec<E>>) -> Option<bool> {
    match sort {
        None => Some(false),
        Some(spec) if spec.field() == "sourcedId" => Some(spec.order() == SortOrder::Desc),
        Some(_) => None,
    }
}

/// Orders the records of `endpoint` in `snapshot` for a request.
pub(crate) async fn order<'s, E: Kind>(
    snapshot: &'s Arc<Snapshot>,
    endpoint: &Endpoint,
    filter: Option<BoundFilter<E>>,
    sort: Option<SortSpec<E>>,
    heavy: &Arc<Semaphore>,
) -> Result<Ordered<'s>, Error> {
    let source = endpoint.source(snapshot);
    let reverse = natural(sort.as_ref());
    if filter.is_none()
        && let Some(reverse) = reverse
    {
        return Ok(Ordered { items: Items::Source(source), reverse });
    }
    let sort = if reverse.is_some() { None } else { sort };
    let reverse = reverse.unwrap_or(false);
    if source.len() < CACHE_FROM {
        let items = compute(E::table(snapshot), &source, filter.as_ref(), sort.as_ref());
        return Ok(Ordered { items: Items::Source(Source::Owned(items)), reverse });
    }
    let key = format!(
        "{endpoint:?}|{}|{}",
        filter.as_ref().map(ToString::to_string).unwrap_or_default(),
        sort.as_ref().map(|s| format!("{} {}", s.field(), s.order())).unwrap_or_default(),
    );
    let owned = Arc::clone(snapshot);
    let endpoint = endpoint.clone();
    let heavy = Arc::clone(heavy);
    let items = snapshot
        .cache
        .get_or_compute(key, async move {
            let _permit = heavy.acquire_owned().await.map_err(|_| Error::internal("the work limiter closed"))?;
            tokio::task::spawn_blocking(move || {
                let source = endpoint.source(&owned);
                Arc::from(compute(E::table(&owned), &source, filter.as_ref(), sort.as_ref()))
            })
            .await
            .map_err(|e| Error::internal(format!("a query task failed: {e}")))
        })
        .await?;
    Ok(Ordered { items: Items::Shared(items), reverse })
}

/// The indexes of the records of `source` that match `filter`, in `sort` order (or ascending index order).
fn compute<E: Kind>(
    table: &Table<E>,
    source: &Source<'_>,
    filter: Option<&BoundFilter<E>>,
    sort: Option<&SortSpec<E>>,
) -> Vec<u32> {
    let mut items: Vec<u32> = match filter {
        None => source.iter().collect(),
        Some(filter) if filter.filter().predicates().all(|p| COLUMNS.contains(&p.field.as_str())) => {
            let with_id = filter.filter().predicates().any(|p| p.field == "sourcedId");
            let mut probe = E::placeholder();
            source
                .iter()
                .filter(|&i| {
                    fill(&mut probe, table, i, with_id);
                    filter.matches(&probe)
                })
                .collect()
        }
        Some(filter) => {
            let mut scratch = Vec::new();
            source.iter().filter(|&i| decode(table, i, &mut scratch).is_some_and(|r| filter.matches(&r))).collect()
        }
    };
    if let Some(spec) = sort {
        sort_items(table, &mut items, spec);
    }
    items
}

fn sort_items<E: Kind>(table: &Table<E>, items: &mut Vec<u32>, spec: &SortSpec<E>) {
    let order = spec.order();
    if COLUMNS.contains(&spec.field()) {
        // Ties on the field fall back to the index, which is sourcedId order, as SortSpec would.
        let (mut a, mut b) = (E::placeholder(), E::placeholder());
        items.sort_by(|&x, &y| {
            fill(&mut a, table, x, false);
            fill(&mut b, table, y, false);
            spec.compare(&a, &b).then_with(|| order.apply(x.cmp(&y)))
        });
    } else {
        let mut scratch = Vec::new();
        let mut decoded: Vec<(u32, E)> =
            items.iter().filter_map(|&i| decode(table, i, &mut scratch).map(|r| (i, r))).collect();
        decoded.sort_by(|(_, a), (_, b)| spec.compare(a, b));
        *items = decoded.into_iter().map(|(i, _)| i).collect();
    }
}

/// Sets the common fields of `probe` from the typed columns of record `index`.
fn fill<E: Kind>(probe: &mut E, table: &Table<E>, index: u32, with_id: bool) {
    let Some(record) = table.record(index) else { return };
    let base = probe.base_mut();
    base.status = record.status;
    base.date_last_modified = modified(record);
    if with_id {
        base.sourced_id.clear();
        base.sourced_id.push_str(table.id(index));
    }
}

fn modified(record: &Record) -> Option<DateTime<chrono::Utc>> {
    (record.modified != i64::MIN).then(|| DateTime::from_timestamp_millis(record.modified)).flatten()
}

/// Decodes record `index` (with relative hrefs).
fn decode<E: Kind>(table: &Table<E>, index: u32, scratch: &mut Vec<u8>) -> Option<E> {
    let record = table.record(index)?;
    scratch.clear();
    write_json(scratch, record, "", true);
    match serde_json::from_slice(scratch) {
        Ok(decoded) => Some(decoded),
        Err(e) => {
            tracing::warn!(kind = %E::KIND, id = table.id(index), error = %e, "a stored record does not decode");
            None
        }
    }
}

/// Results of filtered and sorted queries of one snapshot.
#[derive(Default)]
pub(crate) struct QueryCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<String, Entry>,
    /// Keys, oldest first.
    age: VecDeque<String>,
    /// Record indexes held by computed entries.
    items: usize,
}

struct Entry {
    cell: Arc<OnceCell<Arc<[u32]>>>,
    /// Set once computed and counted.
    size: Option<usize>,
}

impl QueryCache {
    /// The cached result for `key`, computing it with `compute` if needed. Concurrent requests for the same key
    /// wait for one computation.
    async fn get_or_compute(
        &self,
        key: String,
        compute: impl Future<Output = Result<Arc<[u32]>, Error>>,
    ) -> Result<Arc<[u32]>, Error> {
        let cell = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let inner = &mut *inner;
            match inner.entries.get(&key) {
                Some(entry) => Arc::clone(&entry.cell),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    inner.entries.insert(key.clone(), Entry { cell: Arc::clone(&cell), size: None });
                    inner.age.push_back(key.clone());
                    cell
                }
            }
        };
        let items = Arc::clone(cell.get_or_try_init(|| compute).await?);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &mut *inner;
        if let Some(entry) = inner.entries.get_mut(&key)
            && entry.size.is_none()
        {
            entry.size = Some(items.len());
            inner.items += items.len();
        }
        while inner.entries.len() > CACHE_ENTRIES || inner.items > CACHE_ITEMS {
            let Some(oldest) = inner.age.pop_front() else { break };
            if oldest == key && inner.entries.len() == 1 {
                inner.age.push_back(oldest);
                break;
            }
            if let Some(entry) = inner.entries.remove(&oldest) {
                inner.items -= entry.size.unwrap_or(0);
            }
        }
        Ok(items)
    }
}

//! Loading snapshots from a [`roster_store::Store`] and keeping them fresh after imports.

use crate::error::Error;
use crate::snapshot::build::Builder;
use crate::snapshot::{Snapshot, SnapshotHandle};
use roster_store::Store;
use std::time::Duration;

/// Reads the store's whole roster and builds a snapshot of it, labelled with the store's roster version.
///
/// The roster is streamed from one database snapshot, kind by kind, into a builder on a blocking thread that
/// serialises and indexes each record as it arrives and drops it: the whole roster is never held as records, so
/// the peak is about the snapshot itself (see `docs/benchmarks.md`, "SDS IMS feed").
pub async fn load_snapshot(store: &Store) -> Result<Snapshot, Error> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
    let builder = tokio::task::spawn_blocking(move || -> Result<Builder, Error> {
        let mut builder = Builder::new(0)?;
        while let Some(record) = rx.blocking_recv() {
            builder.push(record)?;
        }
        Ok(builder)
    });
    let streamed = store.stream_roster(None, &tx).await;
    drop(tx);
    let built = builder.await.map_err(|e| Error::internal(format!("building a snapshot: {e}")))?;
    // A builder failure makes the stream fail too (its receiver is gone): report the builder's own error.
    let mut builder = built?;
    let version = streamed?;
    builder.set_version(version);
    tokio::task::spawn_blocking(move || builder.finish())
        .await
        .map_err(|e| Error::internal(format!("building a snapshot: {e}")))?
}

/// Records in flight between the store and the snapshot builder.
const STREAM_BUFFER: usize = 1024;

/// Loads a new snapshot if the store's version differs from the one served, and swaps it in. Returns the version
/// now served.
pub async fn refresh(store: &Store, handle: &SnapshotHandle) -> Result<u64, Error> {
    let version = store.roster_version().await?;
    if version != handle.version() {
        let snapshot = load_snapshot(store).await?;
        handle.swap(snapshot);
    }
    Ok(handle.version())
}

/// Keeps `handle` serving the store's latest roster, forever: on PostgreSQL it wakes on `NOTIFY roster_changed`
/// (and every `poll` in case a notification was lost), on SQLite it reads the roster version every `poll`. A new
/// version is loaded and swapped in; requests in flight finish on the snapshot they started with.
///
/// Failures (the database unreachable, a load that fails) are logged and retried after `poll`; the old snapshot
/// stays in service meanwhile. Cancel it by dropping the future or aborting its task; see [`spawn_reloader`].
pub async fn follow_store(store: Store, handle: SnapshotHandle, poll: Duration) {
    let poll = poll.max(Duration::from_millis(10));
    loop {
        let mut watcher = match store.watch_roster(poll).await {
            Ok(watcher) => watcher,
            Err(e) => {
                tracing::warn!(error = %Error::from(e), "cannot watch the roster store; retrying");
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        if watcher.last_version() != handle.version() {
            reload_until_done(&store, &handle, poll).await;
        }
        loop {
            match watcher.changed().await {
                Ok(version) => {
                    tracing::debug!(version, "the roster store has a new version");
                    reload_until_done(&store, &handle, poll).await;
                }
                Err(e) => {
                    tracing::warn!(error = %Error::from(e), "watching the roster store failed; reconnecting");
                    tokio::time::sleep(poll).await;
                    break;
                }
            }
        }
    }
}

async fn reload_until_done(store: &Store, handle: &SnapshotHandle, poll: Duration) {
    loop {
        match refresh(store, handle).await {
            Ok(_) => return,
            Err(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "reloading the roster failed; serving the previous snapshot");
                tokio::time::sleep(poll).await;
            }
        }
    }
}

/// Spawns [`follow_store`] on the current Tokio runtime. Abort the handle to stop it.
pub fn spawn_reloader(store: Store, handle: SnapshotHandle, poll: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(follow_store(store, handle, poll))
}

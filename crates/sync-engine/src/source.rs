//! Where people come from.
//!
//! The traits of this crate use `#[async_trait]` rather than native `async fn` in traits because binaries choose
//! connectors from configuration at run time and hold them as `Arc<dyn IdentitySource>` / `Arc<dyn RosterSink>`:
//! they must be object safe.

use crate::model::{ConnectionId, ScopeId, ScopeSelection, SourcePerson};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An opaque position in a source's change feed (a Graph delta link, a Wonde `updated_after` time…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceCursor(pub String);

/// Everyone in the selected scopes, now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceSnapshot {
    /// Each person once, with every selected scope they are in.
    pub people: Vec<SourcePerson>,
    /// How many people each selected scope had (the empty-scope guard compares these between runs).
    pub scope_counts: BTreeMap<ScopeId, usize>,
    /// Where to ask for changes from next time, if the source supports it.
    pub cursor: Option<SourceCursor>,
}

/// What changed since a cursor.
///
/// The engine applies changes with the same planner and safety policy as a snapshot: people who are not
/// mentioned are taken to be as the organisation's records show them, so a source must mention everyone whose
/// data or scopes changed, and must answer [`Changes::FullResyncRequired`] whenever it cannot be sure of that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Changes {
    /// The changes.
    Changes {
        /// People new or changed, each once, with all their current data and every selected scope they are in now.
        /// A person whose scopes became empty has left.
        upserts: Vec<SourcePerson>,
        /// Source ids of people who were in a selected scope and are no longer in any (deleted at the source, or
        /// removed from the groups).
        removed: Vec<String>,
        /// How many people each selected scope has now (the empty-scope guard compares these between runs).
        scope_counts: BTreeMap<ScopeId, usize>,
        /// The next cursor.
        cursor: SourceCursor,
    },
    /// The cursor is no longer valid (e.g. Graph's 410 Gone), or the changes cannot be followed exactly (e.g. the
    /// nesting of groups changed): read a full snapshot.
    FullResyncRequired,
}

impl Changes {
    /// Whether nothing changed (the cursor may still have moved).
    pub fn is_empty(&self) -> bool {
        match self {
            Changes::Changes { upserts, removed, .. } => upserts.is_empty() && removed.is_empty(),
            Changes::FullResyncRequired => false,
        }
    }
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A selected scope cannot be synced (e.g. a Microsoft 365 group), with the reason to show an admin.
    #[error("scope `{scope}` cannot be synced: {reason}")]
    UnsupportedScope {
        /// The scope.
        scope: ScopeId,
        /// Why, in words an admin can act on.
        reason: String,
    },
    /// A selected scope does not exist (any more).
    #[error("scope `{0}` was not found at the source")]
    ScopeNotFound(ScopeId),
    /// The source refused the credentials or lacks permission.
    #[error("the source refused access: {0}")]
    Access(String),
    /// The source failed in a way that may pass (throttling, outage).
    #[error("the source is unavailable: {0}")]
    Unavailable(String),
    /// The source does not support change tracking.
    #[error("the source does not support incremental changes")]
    ChangesUnsupported,
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl SourceError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Unavailable(_))
    }
}

/// A source of people, for one connection.
#[async_trait]
pub trait IdentitySource: Send + Sync {
    /// The connection this source reads.
    fn connection(&self) -> &ConnectionId;

    /// Everyone in the selected scopes (nested membership included where the source has it), each person once.
    async fn snapshot(&self, scopes: &[ScopeSelection]) -> Result<SourceSnapshot, SourceError>;

    /// What changed in the selected scopes since `cursor` (a cursor this source returned, from a snapshot or from
    /// earlier changes, for the same scopes). Sources without change tracking keep the default, which says so; the
    /// engine then reads snapshots only.
    async fn changes(&self, _scopes: &[ScopeSelection], _cursor: &SourceCursor) -> Result<Changes, SourceError> {
        Err(SourceError::ChangesUnsupported)
    }
}

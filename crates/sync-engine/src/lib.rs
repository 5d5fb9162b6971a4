//! The sync engine: vendor-neutral, it knows sources and sinks only through two small traits.
//!
//! * [`IdentitySource`] reads people from a tenancy (Microsoft, Google, Wonde…); [`RosterSink`] reads and changes
//!   the users of an organisation (Secure Schools, a roster store). Both are object safe (`#[async_trait]`)
//!   because binaries pick connectors from configuration at run time.
//! * [`DesiredState`] is the union of an organisation's connection groups' members, each person once, with the
//!   highest-precedence role; [`plan()`] turns desired and current into a serialisable [`Plan`] — a pure function.
//! * The [`SafetyPolicy`] holds a run that would suspend too many people or that sees a group suddenly empty.
//! * [`execute`] applies a plan in batches with bounded concurrency and per-record error isolation.
//! * [`Engine::run`] does all of that for one organisation and records a [`RunReport`]; [`Scheduler`] decides
//!   when. After a full read, runs read only what changed ([`IdentitySource::changes`], e.g. Graph delta) and plan
//!   it with the same planner and policy, until a full reconciliation is due again.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sync_engine::{Engine, RunOptions, NoProgress, MemoryState};
//! use sync_engine::model::{ConnectionGroup, OrganisationId, Role, ScopeSelection, ScopeId};
//! use sync_engine::testing::{MemorySink, MemorySource, person};
//!
//! let source = Arc::new(MemorySource::new("contoso"));
//! source.add("g-staff", person("obj-1", "Ada", "Lovelace", "ada@contoso.example"));
//! let sink = Arc::new(MemorySink::default());
//! let engine = Engine::new(sink.clone(), Arc::new(MemoryState::default())).with_source(source);
//! let group = ConnectionGroup {
//!     id: "cg-1".into(),
//!     organisation: OrganisationId::new("org-1"),
//!     connection: "contoso".into(),
//!     scopes: vec![ScopeSelection { scope: ScopeId::new("g-staff"), name: "Staff".into(), role: Role::Staff }],
//! };
//! let report = engine.run(&group.organisation, &[group.clone()], &RunOptions::default(), &NoProgress).await?;
//! assert_eq!(report.applied.created, 1);
//! assert_eq!(sink.records("org-1")[0].external_id.as_deref(), Some("contoso:obj-1"));
//! # Ok(()) }
//! ```

pub mod clock;
#[cfg(feature = "testing")]
pub mod conformance;
pub mod desired;
pub mod engine;
pub mod executor;
mod incremental;
pub mod model;
pub mod plan;
pub mod report;
pub mod safety;
pub mod schedule;
pub mod sink;
pub mod source;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;

pub use clock::{Clock, ManualClock, SystemClock};
pub use desired::DesiredState;
pub use engine::{Engine, PlannedRun, ReadError, RunError, RunOptions};
pub use executor::{
    ApplyOutcome, ExecutorOptions, NoProgress, OpCounts, Progress, ProgressEvent, RecordError, execute,
};
pub use plan::{Plan, plan};
pub use report::{HeldRun, PlannedCounts, ReadMode, RunReport, RunStatus};
pub use safety::{Allowance, HoldReason, SafetyPolicy, Verdict};
pub use schedule::{Due, Schedule, Scheduler, Trigger};
pub use sink::{Fields, OpOutcome, Operation, RosterSink, SinkError};
pub use source::{Changes, IdentitySource, SourceCursor, SourceError, SourceSnapshot};
pub use state::{MemoryState, StateError, StateStore};

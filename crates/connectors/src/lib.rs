//! Adapters from vendor clients to the sync engine's traits.
//!
//! * [`microsoft::MicrosoftSource`] (feature `microsoft`): the people in selected Microsoft Entra ID Security and
//!   Distribution groups, nested membership included, through Microsoft Graph. Microsoft 365 groups are refused
//!   with the reason.
//! * [`google::GoogleSource`] (feature `google`): the people in selected Google Workspace organisational units,
//!   each unit with every unit under it, through the Admin SDK Directory API; suspended and archived accounts are
//!   reported disabled.
//! * [`secure_schools::SecureSchoolsSink`] (feature `secure-schools`): the users of a Secure Schools organisation.
//! * [`wonde::WondeSource`] (feature `wonde`): the students and employees of a Wonde school, keyed by `upi`; and
//!   [`wonde::roster::wonde_roster`], the school as a OneRoster 1.1 roster for the SDS feed.
//! * [`roster_store::RosterStoreSink`] (feature `roster-store`): the users of an org of the SDS IMS feed's roster
//!   store (OneRoster tables).
//!
//! Each passes the engine's conformance suite (`sync_engine::conformance`) against the testkit fakes.

#[cfg(feature = "google")]
pub mod google;
#[cfg(feature = "microsoft")]
pub mod microsoft;
#[cfg(feature = "roster-store")]
pub mod roster_store;
#[cfg(feature = "secure-schools")]
pub mod secure_schools;
#[cfg(feature = "wonde")]
pub mod wonde;

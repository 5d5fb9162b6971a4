//! Adapters from vendor clients to the sync engine's traits.
//!
//! * [`microsoft::MicrosoftSource`] (feature `microsoft`): the people in selected Microsoft Entra ID Security and
//!   Distribution groups, nested membership included, through Microsoft Graph. Microsoft 365 groups are refused
//!   with the reason.
//! * [`secure_schools::SecureSchoolsSink`] (feature `secure-schools`): the users of a Secure Schools organisation.
//! * [`roster_store::RosterStoreSink`] (feature `roster-store`): the users of an org of the SDS IMS feed's roster
//!   store (OneRoster tables).
//!
//! Each passes the engine's conformance suite (`sync_engine::conformance`) against the testkit fakes.

#[cfg(feature = "microsoft")]
pub mod microsoft;
#[cfg(feature = "roster-store")]
pub mod roster_store;
#[cfg(feature = "secure-schools")]
pub mod secure_schools;

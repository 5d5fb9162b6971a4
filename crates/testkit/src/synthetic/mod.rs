//! Synthetic school trusts: an Entra ID directory and the matching Secure Schools organisations, generated
//! deterministically from a seed, from a few dozen users to a million.
//!
//! A trust has N schools; each has staff and students, a staff security group, a students security group built from
//! nested key stage / year / form groups, a mail-enabled "All Staff" group, a distribution list, Microsoft 365
//! groups (which a sync must refuse), a dynamic group, and extra groups so that users are in several groups. Some
//! accounts are disabled, some staff are guests or have a mail alias, some students have no mailbox, some staff
//! work at two schools, and names carry apostrophes (O'Brien, D'Souza), diacritics (Zoë, Łukasz, Søren, José,
//! Ngọc) and other scripts (李, Мария, محمد, अनन्या) while sign-in names stay ASCII. On the Secure Schools side
//! the trust has users that exist before any sync: some are directory users with their email in another letter case
//! (to adopt), some exist in two organisations, some exist only there.
//!
//! ```
//! use testkit::secure_schools::FakeSecureSchools;
//! use testkit::synthetic::TrustSpec;
//!
//! let trust = TrustSpec::small().generate();
//! assert_eq!(trust.directory.users.len(), trust.spec.expected_users());
//! let fake = FakeSecureSchools::new();
//! trust.seed_secure_schools(&fake).unwrap();
//! assert_eq!(fake.organisations().len(), trust.schools.len());
//! ```

mod generate;
pub mod model;
pub(crate) mod names;
pub(crate) mod rng;

pub use generate::{
    AdminIdentity, ExistingUser, ExistingUsers, SchoolInfo, TRUST_LEVEL_USERS, Trust, TrustGroups, TrustSpec, generate,
};
pub use model::{Directory, DirectoryGroup, DirectoryGroupKind, DirectoryUser, MemberRef};

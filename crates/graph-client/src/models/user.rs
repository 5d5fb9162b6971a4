//! The user resource (Graph v1.0 "user resource type"), held compactly and decoded without an allocation per
//! property.
//!
//! Sync reads users by the hundred thousand, 999 to a page, so how one is decoded and held shows in every run:
//! with a `String` per property a page of 999 users cost ~9 allocations (and as many frees) per user, which was
//! most of its decode time. A [`User`] keeps its eleven text properties in one buffer with their end offsets, so
//! decoding a user makes exactly one allocation, and the struct is 64 bytes instead of 272. Its `Deserialize` is
//! written by hand: property names are matched on the borrowed key, text values are borrowed from the JSON when
//! they hold no escapes (copied once into the buffer), and unknown properties are skipped without being read into
//! anything. It behaves as the derived one did: `id` is required, the other properties may be missing or `null`,
//! a property given twice or of the wrong type is an error naming it, and `@odata.type` or any other property is
//! ignored. (docs/benchmarks.md, "Microsoft Graph", has the numbers.)

use crate::error::GraphError;
use crate::models::Removed;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// How many text properties a user has.
const TEXTS: usize = 11;

// Where each text property is stored; also the order of `PROPERTY` and `RUST_NAME`.
const ID: usize = 0;
const USER_PRINCIPAL_NAME: usize = 1;
const MAIL: usize = 2;
const GIVEN_NAME: usize = 3;
const SURNAME: usize = 4;
const DISPLAY_NAME: usize = 5;
const JOB_TITLE: usize = 6;
const DEPARTMENT: usize = 7;
const EMPLOYEE_ID: usize = 8;
const ON_PREMISES_IMMUTABLE_ID: usize = 9;
const USER_TYPE: usize = 10;

/// The JSON name of each text property.
const PROPERTY: [&str; TEXTS] = [
    "id",
    "userPrincipalName",
    "mail",
    "givenName",
    "surname",
    "displayName",
    "jobTitle",
    "department",
    "employeeId",
    "onPremisesImmutableId",
    "userType",
];

/// The accessor's name of each text property (for `Debug`).
const RUST_NAME: [&str; TEXTS] = [
    "id",
    "user_principal_name",
    "mail",
    "given_name",
    "surname",
    "display_name",
    "job_title",
    "department",
    "employee_id",
    "on_premises_immutable_id",
    "user_type",
];

const ACCOUNT_ENABLED: &str = "accountEnabled";
const REMOVED: &str = "@removed";

/// Every property of a user, for deserializers that need the list (a flattened user reads only these).
const FIELDS: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "givenName",
    "surname",
    "displayName",
    ACCOUNT_ENABLED,
    "jobTitle",
    "department",
    "employeeId",
    "onPremisesImmutableId",
    "userType",
];

/// The same, with a delta round's `@removed`.
pub(crate) const DELTA_FIELDS: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "givenName",
    "surname",
    "displayName",
    ACCOUNT_ENABLED,
    "jobTitle",
    "department",
    "employeeId",
    "onPremisesImmutableId",
    "userType",
    REMOVED,
];

/// A user (`microsoft.graph.user`) with the properties [`USER_SELECT`](crate::models::USER_SELECT) asks for.
///
/// Read it through its accessors (`user.id()`, `user.mail()`…); build one with [`User::builder`]. It serialises
/// and deserialises as Graph's JSON (camelCase property names; missing text properties as `null`). Equality,
/// hashing and cloning compare and copy every property.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct User {
    /// The text properties one after the other, in `PROPERTY` order.
    text: Box<str>,
    /// Where each text property ends in `text`; it starts where the previous one ends.
    ends: [u32; TEXTS],
    /// Bit `i` is set when text property `i` is present (`id` always is).
    present: u16,
    account_enabled: Option<bool>,
}

impl User {
    /// Starts a user with its object id; the other properties are absent until set.
    pub fn builder(id: impl Into<String>) -> UserBuilder {
        let mut builder = UserBuilder::default();
        builder.texts[ID] = Some(id.into());
        builder
    }

    /// A builder holding this user's properties, to make a changed copy.
    pub fn to_builder(&self) -> UserBuilder {
        let mut builder = UserBuilder { account_enabled: self.account_enabled, ..UserBuilder::default() };
        for (i, slot) in builder.texts.iter_mut().enumerate() {
            *slot = self.text(i).map(str::to_owned);
        }
        builder
    }

    fn text(&self, i: usize) -> Option<&str> {
        if i != ID && self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize)
    }

    /// The object id: the stable identity sync keys on.
    pub fn id(&self) -> &str {
        self.text(ID).unwrap_or_default()
    }

    /// The sign-in name; it can change.
    pub fn user_principal_name(&self) -> Option<&str> {
        self.text(USER_PRINCIPAL_NAME)
    }

    /// The primary SMTP address.
    pub fn mail(&self) -> Option<&str> {
        self.text(MAIL)
    }

    /// First name.
    pub fn given_name(&self) -> Option<&str> {
        self.text(GIVEN_NAME)
    }

    /// Last name.
    pub fn surname(&self) -> Option<&str> {
        self.text(SURNAME)
    }

    /// Display name.
    pub fn display_name(&self) -> Option<&str> {
        self.text(DISPLAY_NAME)
    }

    /// `Some(false)` when the account is blocked from sign-in.
    pub fn account_enabled(&self) -> Option<bool> {
        self.account_enabled
    }

    /// Job title.
    pub fn job_title(&self) -> Option<&str> {
        self.text(JOB_TITLE)
    }

    /// Department.
    pub fn department(&self) -> Option<&str> {
        self.text(DEPARTMENT)
    }

    /// Employee id.
    pub fn employee_id(&self) -> Option<&str> {
        self.text(EMPLOYEE_ID)
    }

    /// The on-premises immutable id of a synced account.
    pub fn on_premises_immutable_id(&self) -> Option<&str> {
        self.text(ON_PREMISES_IMMUTABLE_ID)
    }

    /// `Member` or `Guest`.
    pub fn user_type(&self) -> Option<&str> {
        self.text(USER_TYPE)
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("User");
        s.field(RUST_NAME[ID], &self.id());
        for (i, name) in RUST_NAME.iter().enumerate().skip(USER_PRINCIPAL_NAME) {
            s.field(name, &self.text(i));
            if i == DISPLAY_NAME {
                s.field("account_enabled", &self.account_enabled);
            }
        }
        s.finish()
    }
}

/// The text properties add up to more than a `u32` can index (4 GiB).
struct TooLong;

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the user's text properties add up to more than 4 GiB")
    }
}

/// Copies the text properties into one buffer: the only allocation a user makes.
fn pack<S: AsRef<str>>(texts: &[Option<S>; TEXTS], account_enabled: Option<bool>) -> Result<User, TooLong> {
    let len = texts.iter().flatten().try_fold(0usize, |sum, t| sum.checked_add(t.as_ref().len())).ok_or(TooLong)?;
    if u32::try_from(len).is_err() {
        return Err(TooLong);
    }
    let mut text = String::with_capacity(len);
    let mut ends = [0u32; TEXTS];
    let mut present = 0u16;
    for ((t, end), bit) in texts.iter().zip(&mut ends).zip(0..) {
        if let Some(t) = t {
            text.push_str(t.as_ref());
            present |= 1 << bit;
        }
        *end = u32::try_from(text.len()).map_err(|_| TooLong)?;
    }
    Ok(User { text: text.into_boxed_str(), ends, present, account_enabled })
}

/// Builds a [`User`] (tests, fakes, callers that map users from elsewhere).
///
/// ```
/// use graph_client::User;
/// let user = User::builder("0f0b5a0e-7f1c-4c53-9d1e-000000000001")
///     .user_principal_name("ada@school.example")
///     .account_enabled(true)
///     .build()?;
/// assert_eq!(user.user_principal_name(), Some("ada@school.example"));
/// assert_eq!(user.mail(), None);
/// # Ok::<(), graph_client::GraphError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct UserBuilder {
    texts: [Option<String>; TEXTS],
    account_enabled: Option<bool>,
}

macro_rules! text_setters {
    ($($(#[$doc:meta])* $name:ident => $index:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.texts[$index] = Some(value.into());
            self
        }
    )*};
}

impl UserBuilder {
    text_setters! {
        /// Sets the object id.
        id => ID;
        /// Sets the sign-in name.
        user_principal_name => USER_PRINCIPAL_NAME;
        /// Sets the primary SMTP address.
        mail => MAIL;
        /// Sets the first name.
        given_name => GIVEN_NAME;
        /// Sets the last name.
        surname => SURNAME;
        /// Sets the display name.
        display_name => DISPLAY_NAME;
        /// Sets the job title.
        job_title => JOB_TITLE;
        /// Sets the department.
        department => DEPARTMENT;
        /// Sets the employee id.
        employee_id => EMPLOYEE_ID;
        /// Sets the on-premises immutable id.
        on_premises_immutable_id => ON_PREMISES_IMMUTABLE_ID;
        /// Sets the user type (`Member` or `Guest`).
        user_type => USER_TYPE;
    }

    /// Sets whether the account may sign in.
    pub fn account_enabled(mut self, enabled: bool) -> Self {
        self.account_enabled = Some(enabled);
        self
    }

    /// The user. Fails only if the text properties add up to more than 4 GiB.
    pub fn build(self) -> Result<User, GraphError> {
        pack(&self.texts, self.account_enabled).map_err(|e| GraphError::InvalidInput(e.to_string()))
    }
}

impl Serialize for User {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("User", FIELDS.len())?;
        s.serialize_field(PROPERTY[ID], self.id())?;
        for (i, name) in PROPERTY.iter().enumerate().skip(USER_PRINCIPAL_NAME) {
            s.serialize_field(name, &self.text(i))?;
            if i == DISPLAY_NAME {
                s.serialize_field(ACCOUNT_ENABLED, &self.account_enabled)?;
            }
        }
        s.end()
    }
}

/// A property name, matched without allocating.
enum Key {
    Text(usize),
    AccountEnabled,
    Removed,
    Other,
}

impl Key {
    fn of(name: &[u8]) -> Key {
        match name {
            b"id" => Key::Text(ID),
            b"userPrincipalName" => Key::Text(USER_PRINCIPAL_NAME),
            b"mail" => Key::Text(MAIL),
            b"givenName" => Key::Text(GIVEN_NAME),
            b"surname" => Key::Text(SURNAME),
            b"displayName" => Key::Text(DISPLAY_NAME),
            b"jobTitle" => Key::Text(JOB_TITLE),
            b"department" => Key::Text(DEPARTMENT),
            b"employeeId" => Key::Text(EMPLOYEE_ID),
            b"onPremisesImmutableId" => Key::Text(ON_PREMISES_IMMUTABLE_ID),
            b"userType" => Key::Text(USER_TYPE),
            b"accountEnabled" => Key::AccountEnabled,
            b"@removed" => Key::Removed,
            _ => Key::Other,
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::of(v.as_bytes()))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key, E> {
                Ok(Key::of(v))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A text value: borrowed from the input when it can be (no escapes), owned otherwise.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'de>, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Text<'de>, E> {
                match std::str::from_utf8(v) {
                    Ok(s) => Ok(Text(Cow::Owned(s.to_owned()))),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
                }
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Marks a property as seen; a second sighting is an error naming it (as a derived `Deserialize` does).
fn first_time<E: de::Error>(seen: &mut u16, bit: usize, name: &'static str) -> Result<(), E> {
    if *seen & (1 << bit) != 0 {
        return Err(E::duplicate_field(name));
    }
    *seen |= 1 << bit;
    Ok(())
}

/// Reads a user's properties from a JSON object. With `removed`, a delta round's `@removed` is read into it;
/// without, `@removed` is ignored like any other unknown property.
fn read_user<'de, A: MapAccess<'de>>(mut map: A, mut removed: Option<&mut Option<Removed>>) -> Result<User, A::Error> {
    let mut texts: [Option<Cow<'de, str>>; TEXTS] = Default::default();
    let mut account_enabled = None;
    // Bits 0..TEXTS: the text properties; then accountEnabled, then @removed.
    let mut seen = 0u16;
    while let Some(key) = map.next_key::<Key>()? {
        match key {
            Key::Text(i) => {
                first_time(&mut seen, i, PROPERTY[i])?;
                texts[i] = if i == ID {
                    Some(map.next_value::<Text<'de>>()?.0)
                } else {
                    map.next_value::<Option<Text<'de>>>()?.map(|t| t.0)
                };
            }
            Key::AccountEnabled => {
                first_time(&mut seen, TEXTS, ACCOUNT_ENABLED)?;
                account_enabled = map.next_value::<Option<bool>>()?;
            }
            Key::Removed if removed.is_some() => {
                first_time(&mut seen, TEXTS + 1, REMOVED)?;
                let value = map.next_value::<Option<Removed>>()?;
                if let Some(slot) = removed.as_deref_mut() {
                    *slot = value;
                }
            }
            Key::Removed | Key::Other => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    if texts[ID].is_none() {
        return Err(de::Error::missing_field(PROPERTY[ID]));
    }
    pack(&texts, account_enabled).map_err(de::Error::custom)
}

impl<'de> Deserialize<'de> for User {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<User, D::Error> {
        struct UserVisitor;
        impl<'de> Visitor<'de> for UserVisitor {
            type Value = User;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Microsoft Graph user object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<User, A::Error> {
                read_user(map, None)
            }
        }
        deserializer.deserialize_struct("User", FIELDS, UserVisitor)
    }
}

/// Deserialises a user of a delta round with its `@removed` (the same decoding as [`User`]'s).
pub(crate) fn deserialize_delta_user<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<(User, Option<Removed>), D::Error> {
    struct DeltaVisitor;
    impl<'de> Visitor<'de> for DeltaVisitor {
        type Value = (User, Option<Removed>);
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a Microsoft Graph user object of a delta round")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let mut removed = None;
            let user = read_user(map, Some(&mut removed))?;
            Ok((user, removed))
        }
    }
    deserializer.deserialize_struct("DeltaUser", DELTA_FIELDS, DeltaVisitor)
}

//! Dates and date-times as OneRoster 1.1 writes them, and as real producers send them.
//!
//! The specification writes `dateLastModified` as an ISO 8601 date-time in UTC with millisecond precision
//! (`YYYY-MM-DDTHH:mm:ss.SSSZ`) and plain dates (`startDate`, `birthDate`, …) as `YYYY-MM-DD`. Readers here are
//! lenient where real exports are sloppy, writers are strict:
//!
//! * a date-time may carry any UTC offset (it is converted to UTC), no offset at all (taken as UTC), any number of
//!   fractional digits (truncated to milliseconds so that a value read and written again is stable), or no time at
//!   all (`2024-09-01` is midnight UTC);
//! * a date may be given as a full date-time, whose calendar date as written is kept.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Timelike, Utc};
use std::fmt;

/// A value that is neither a OneRoster date nor a date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {expected}")]
pub struct DateParseError {
    /// The text that failed to parse.
    pub value: String,
    /// What was expected, e.g. `date (YYYY-MM-DD)`.
    pub expected: &'static str,
}

const DATETIME_EXPECTED: &str = "date-time (YYYY-MM-DDTHH:mm:ss.SSSZ)";
const DATE_EXPECTED: &str = "date (YYYY-MM-DD)";

/// Parses a OneRoster date-time leniently (see the module docs) and truncates it to milliseconds.
pub fn parse_datetime(text: &str) -> Result<DateTime<Utc>, DateParseError> {
    let t = text.trim();
    let err = || DateParseError { value: text.to_owned(), expected: DATETIME_EXPECTED };
    let parsed = if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        dt.with_timezone(&Utc)
    } else if let Ok(naive) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
        naive.and_utc()
    } else if let Ok(naive) = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f") {
        naive.and_utc()
    } else if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        date.and_time(NaiveTime::MIN).and_utc()
    } else {
        return Err(err());
    };
    truncate_millis(parsed).ok_or_else(err)
}

/// Truncates a date-time to whole milliseconds, the precision OneRoster writes.
pub fn truncate_millis(dt: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let nanos = dt.nanosecond();
    dt.with_nanosecond(nanos - nanos % 1_000_000)
}

/// Writes a date-time as `YYYY-MM-DDTHH:mm:ss.SSSZ` in UTC.
pub fn format_datetime(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a OneRoster date (`YYYY-MM-DD`), also accepting a full date-time and keeping its calendar date.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateParseError> {
    let t = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(date);
    }
    // `2024-09-01T00:00:00Z` and friends: the date as written, before any offset is applied.
    if let Some((date, _time)) = t.split_once(['T', ' '])
        && parse_datetime(t).is_ok()
        && let Ok(date) = NaiveDate::parse_from_str(date, "%Y-%m-%d")
    {
        return Ok(date);
    }
    Err(DateParseError { value: text.to_owned(), expected: DATE_EXPECTED })
}

/// Writes a date as `YYYY-MM-DD`.
pub fn format_date(date: &NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Parses a OneRoster boolean: `true`/`false` in any letter case.
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `Display` adapter that writes a date-time the OneRoster way.
#[derive(Debug, Clone, Copy)]
pub struct OneRosterDateTime<'a>(pub &'a DateTime<Utc>);

impl fmt::Display for OneRosterDateTime<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_datetime(self.0))
    }
}

/// serde adapters used by the entity types.
pub(crate) mod serde_impl {
    use super::*;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    struct DateTimeVisitor;
    impl Visitor<'_> for DateTimeVisitor {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(DATETIME_EXPECTED)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_datetime(v).map_err(E::custom)
        }
    }

    struct DateVisitor;
    impl Visitor<'_> for DateVisitor {
        type Value = NaiveDate;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(DATE_EXPECTED)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_date(v).map_err(E::custom)
        }
    }

    struct BoolVisitor;
    impl Visitor<'_> for BoolVisitor {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean or the string \"true\" or \"false\"")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_bool(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }

    /// Optional `dateLastModified`.
    pub(crate) mod opt_datetime {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(dt) => s.collect_str(&OneRosterDateTime(dt)),
                None => s.serialize_none(),
            }
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            struct Opt;
            impl<'de> Visitor<'de> for Opt {
                type Value = Option<DateTime<Utc>>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(DATETIME_EXPECTED)
                }
                fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                    d.deserialize_str(DateTimeVisitor).map(Some)
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    if v.trim().is_empty() { Ok(None) } else { DateTimeVisitor.visit_str(v).map(Some) }
                }
            }
            d.deserialize_option(Opt)
        }
    }

    /// Required date.
    pub(crate) mod date {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&v.format("%Y-%m-%d"))
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
            d.deserialize_str(DateVisitor)
        }
    }

    /// Optional date.
    pub(crate) mod opt_date {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(d) => s.collect_str(&d.format("%Y-%m-%d")),
                None => s.serialize_none(),
            }
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
            struct Opt;
            impl<'de> Visitor<'de> for Opt {
                type Value = Option<NaiveDate>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(DATE_EXPECTED)
                }
                fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                    d.deserialize_str(Opt)
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    if v.trim().is_empty() { Ok(None) } else { DateVisitor.visit_str(v).map(Some) }
                }
            }
            d.deserialize_option(Opt)
        }
    }

    /// Required boolean written as the string `"true"`/`"false"` (OneRoster 1.1 REST binding), read from either.
    pub(crate) mod str_bool {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(if *v { "true" } else { "false" })
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
            d.deserialize_any(BoolVisitor)
        }
    }

    /// Optional boolean written as the string `"true"`/`"false"`, read from either.
    pub(crate) mod opt_str_bool {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(b) => s.serialize_str(if *b { "true" } else { "false" }),
                None => s.serialize_none(),
            }
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
            struct Opt;
            impl<'de> Visitor<'de> for Opt {
                type Value = Option<bool>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a boolean or the string \"true\" or \"false\"")
                }
                fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                    d.deserialize_any(BoolVisitor).map(Some)
                }
                fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                    Ok(Some(v))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    if v.trim().is_empty() { Ok(None) } else { BoolVisitor.visit_str(v).map(Some) }
                }
            }
            d.deserialize_any(Opt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_milliseconds_and_z() {
        let dt = parse_datetime("2024-03-05T07:08:09.1234567+02:00").unwrap();
        assert_eq!(format_datetime(&dt), "2024-03-05T05:08:09.123Z");
    }

    #[test]
    fn accepts_dates_without_time_and_without_offset() {
        assert_eq!(format_datetime(&parse_datetime("2024-09-01").unwrap()), "2024-09-01T00:00:00.000Z");
        assert_eq!(format_datetime(&parse_datetime("2024-09-01T10:00:00").unwrap()), "2024-09-01T10:00:00.000Z");
        assert_eq!(format_datetime(&parse_datetime("2024-09-01 10:00:00").unwrap()), "2024-09-01T10:00:00.000Z");
    }

    #[test]
    fn date_accepts_datetime_and_keeps_written_date() {
        assert_eq!(parse_date("2024-09-01T23:30:00-05:00").unwrap().to_string(), "2024-09-01");
        assert!(parse_date("01/09/2024").is_err());
        assert!(parse_date("2024-13-01").is_err());
    }

    #[test]
    fn rejects_garbage_with_the_value() {
        let err = parse_datetime("yesterday").unwrap_err();
        assert_eq!(err.value, "yesterday");
        assert!(err.to_string().contains("yesterday"));
    }

    #[test]
    fn booleans_any_case() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool(" false "), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}

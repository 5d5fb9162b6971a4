//! The query parameters of a read: `limit`, `offset`, `filter`, `sort`, `orderBy`, `fields`. Everything else is
//! ignored.

use crate::config::ServerConfig;
use crate::error::Error;
use crate::util::form_decode;
use oneroster_model::query::{BoundFilter, FieldSelection, Filter, QueryError, Queryable, SortSpec};

/// The parameters of one request, parsed but not yet bound to an entity type.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) limit: usize,
    pub(crate) offset: usize,
    pub(crate) filter: Option<Filter>,
    pub(crate) sort: Option<String>,
    pub(crate) order_by: Option<String>,
    pub(crate) fields: Option<String>,
    /// The other parameters as sent (still encoded), for `Link` headers; OAuth 1.0a parameters are left out.
    pub(crate) passthrough: Vec<String>,
}

/// What a request asks of records of type `E`.
pub(crate) struct Bound<E> {
    pub(crate) filter: Option<BoundFilter<E>>,
    /// `None`: `sourcedId` ascending, the default order.
    pub(crate) sort: Option<SortSpec<E>>,
    pub(crate) fields: Option<FieldSelection<E>>,
    /// Unknown `fields` names, reported as a warning beside the data.
    pub(crate) fields_warning: Option<QueryError>,
}

impl Params {
    /// Reads a raw query string. Fails for a `limit` or `offset` that is not a whole number (or a `limit` of 0),
    /// and for a `filter` that does not parse.
    pub(crate) fn parse(query: Option<&str>, config: &ServerConfig) -> Result<Params, Error> {
        let mut params = Params { limit: config.default_limit, ..Params::default() };
        let (mut limit, mut offset) = (None, None);
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(name) = form_decode(raw_name) else {
                params.passthrough.push(pair.to_owned());
                continue;
            };
            let decoded = || form_decode(raw_value).ok_or_else(|| Error::invalid(known(&name), "not UTF-8 text"));
            match name.as_str() {
                "limit" if limit.is_none() => limit = Some(decoded()?),
                "offset" if offset.is_none() => offset = Some(decoded()?),
                "limit" | "offset" => {}
                "filter" if params.filter.is_none() => {
                    if !raw_value.trim().is_empty() {
                        params.filter = Some(Filter::parse_encoded(raw_value)?);
                    }
                    params.passthrough.push(pair.to_owned());
                }
                "sort" if params.sort.is_none() => {
                    params.sort = Some(decoded()?);
                    params.passthrough.push(pair.to_owned());
                }
                "orderBy" if params.order_by.is_none() => {
                    params.order_by = Some(decoded()?);
                    params.passthrough.push(pair.to_owned());
                }
                "fields" => {
                    let value = decoded()?;
                    match &mut params.fields {
                        Some(fields) => {
                            fields.push(',');
                            fields.push_str(&value);
                        }
                        None => params.fields = Some(value),
                    }
                    params.passthrough.push(pair.to_owned());
                }
                n if n.starts_with("oauth_") => {}
                _ => params.passthrough.push(pair.to_owned()),
            }
        }
        if let Some(text) = limit.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let limit = count("limit", text)?;
            if limit == 0 {
                return Err(Error::invalid("limit", "must be at least 1"));
            }
            params.limit = limit.min(config.max_limit);
        }
        if let Some(text) = offset.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            params.offset = count("offset", text)?;
        }
        Ok(params)
    }

    /// Binds `filter`, `sort`/`orderBy` and `fields` to `E`.
    pub(crate) fn bind<E: Queryable>(&self) -> Result<Bound<E>, Error> {
        let filter = self.filter.as_ref().map(Filter::bind::<E>).transpose()?;
        let sort = match (self.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()), self.order_by.as_deref()) {
            (None, None) => None,
            (sort, order) => Some(SortSpec::parse(sort.unwrap_or(""), order)?),
        };
        let (fields, fields_warning) = match &self.fields {
            Some(text) => {
                let (selection, warning) = FieldSelection::parse_lenient(text);
                ((!selection.is_all()).then_some(selection), warning)
            }
            None => (None, None),
        };
        Ok(Bound { filter, sort, fields, fields_warning })
    }
}

fn known(name: &str) -> &'static str {
    match name {
        "limit" => "limit",
        "offset" => "offset",
        "sort" => "sort",
        "orderBy" => "orderBy",
        "fields" => "fields",
        _ => "filter",
    }
}

fn count(parameter: &'static str, text: &str) -> Result<usize, Error> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: the only failure is overflow, which for an offset means "past the end".
        return Ok(text.parse().unwrap_or(usize::MAX));
    }
    let message = if text.starts_with('-') { "must not be negative" } else { "must be a whole number" };
    Err(Error::invalid(parameter, message))
}

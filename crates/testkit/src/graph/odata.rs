//! OData as Graph speaks it for directory objects: the error shape, the request context, query options
//! (`$select`, `$top`, `$count`, `$search`, `$filter` subset, `$orderby`, `$skiptoken`), and paged collections.

use super::FakeGraph;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The content type Graph answers JSON with (as its `$batch` item headers show).
pub(crate) const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// The page size limits of directory collections: "The default and maximum page sizes are 100 and 999 objects"
/// (Graph v1.0 "List group transitive members", "List users"; <https://learn.microsoft.com/graph/api/user-list>).
pub(crate) const MAX_TOP: usize = 999;

/// A Graph error: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`
/// (Graph v1.0 "Microsoft Graph error responses and resource types", <https://learn.microsoft.com/graph/errors>).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.to_owned(), message: message.into(), headers: Vec::new() }
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
    pub(crate) fn not_found(id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    }

    /// 403 for a token without the permission the call needs.
    pub(crate) fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    /// A query option that only works with the advanced query parameters (Graph v1.0 "Advanced query
    /// capabilities on Microsoft Entra ID objects", "Error handling for advanced queries on directory objects",
    /// <https://learn.microsoft.com/graph/aad-advanced-queries#error-handling-for-advanced-queries-on-directory-objects>).
    pub(crate) fn needs_advanced(what: &str) -> ApiError {
        ApiError::bad_request(
            "Request_UnsupportedQuery",
            format!(
                "{what} is not supported because the required parameters might be missing. Try adding $count=true \
                 query parameter and ConsistencyLevel:eventual header. Refer to \
                 https://aka.ms/graph-docs/advanced-queries for more information"
            ),
        )
    }

    pub(crate) fn body(&self, ctx: &Ctx) -> Value {
        error_body(&self.code, &self.message, &ctx.date, &ctx.request_id, &ctx.client_request_id)
    }
}

pub(crate) fn error_body(code: &str, message: &str, date: &str, request_id: &str, client_request_id: &str) -> Value {
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": date,
                "request-id": request_id,
                "client-request-id": client_request_id
            }
        }
    })
}

/// What a handler answers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: ReplyBody,
    pub(crate) headers: Vec<(HeaderName, String)>,
}

#[derive(Debug)]
pub(crate) enum ReplyBody {
    Json(Value),
    Text(String),
}

impl Reply {
    pub(crate) fn json(value: Value) -> Reply {
        Reply { status: StatusCode::OK, body: ReplyBody::Json(value), headers: Vec::new() }
    }

    pub(crate) fn text(text: String) -> Reply {
        Reply { status: StatusCode::OK, body: ReplyBody::Text(text), headers: Vec::new() }
    }
}

/// What every Graph handler needs from the request: ids for the answer, the base URL for links, the
/// `ConsistencyLevel` header, the bearer token and the path.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) request_id: String,
    pub(crate) client_request_id: String,
    /// `http://host:port`, from the `Host` header, so links point back at this fake.
    pub(crate) base: String,
    /// `ConsistencyLevel: eventual` was sent.
    pub(crate) eventual: bool,
    pub(crate) bearer: Option<String>,
    pub(crate) path: String,
    /// `innerError.date`, e.g. `2021-05-18T19:03:10`.
    pub(crate) date: String,
}

impl Ctx {
    pub(crate) fn from_headers(fake: &FakeGraph, headers: &HeaderMap, path: &str) -> Ctx {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| request_id.clone());
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
        Ctx {
            request_id,
            client_request_id,
            base: format!("http://{host}"),
            eventual: headers
                .get("consistencylevel")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual")),
            bearer: bearer(headers),
            path: path.to_owned(),
            date: fake.wall_now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        }
    }

    /// Turns a handler's result into the HTTP answer, with Graph's `request-id`, `client-request-id` and
    /// `OData-Version` headers and an explicit `Content-Length` (so the counters can count bytes).
    pub(crate) fn finish(&self, result: Result<Reply, ApiError>) -> Response {
        let (status, bytes, content_type, extra) = match result {
            Ok(reply) => match reply.body {
                ReplyBody::Json(v) => {
                    (reply.status, serde_json::to_vec(&v).unwrap_or_default(), ODATA_JSON, reply.headers)
                }
                ReplyBody::Text(t) => (reply.status, t.into_bytes(), "text/plain", reply.headers),
            },
            Err(e) => {
                let body = serde_json::to_vec(&e.body(self)).unwrap_or_default();
                (e.status, body, "application/json", e.headers)
            }
        };
        let mut response = (status, bytes).into_response();
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            h.insert("request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.client_request_id) {
            h.insert("client-request-id", v);
        }
        h.insert("odata-version", HeaderValue::from_static("4.0"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        for (name, value) in extra {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        set_content_length(&mut response);
        response
    }
}

/// Sets `Content-Length` from the body's exact size, when it has one.
pub(crate) fn set_content_length(response: &mut Response) {
    use axum::body::HttpBody;
    if let Some(n) = response.body().size_hint().exact() {
        response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
}

impl FromRequestParts<FakeGraph> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, fake: &FakeGraph) -> Result<Ctx, Self::Rejection> {
        Ok(Ctx::from_headers(fake, &parts.headers, parts.uri.path()))
    }
}

/// The bearer token of an `Authorization` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim().to_owned())
}

/// The query options of one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    /// Every pair as sent (decoded), to rebuild links.
    pub(crate) pairs: Vec<(String, String)>,
    pub(crate) select: Option<Vec<String>>,
    pub(crate) expand: Option<String>,
    pub(crate) top: Option<i64>,
    pub(crate) count: bool,
    pub(crate) search: Option<String>,
    pub(crate) filter: Option<String>,
    pub(crate) orderby: Option<String>,
    pub(crate) skiptoken: Option<String>,
    pub(crate) deltatoken: Option<String>,
}

impl Query {
    /// Parses a raw query string. Names are matched without regard to case, with or without the `$`.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
        let mut q = Query::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let (k, v) = (k.into_owned(), v.into_owned());
            let name = k.trim_start_matches('$').to_ascii_lowercase();
            match name.as_str() {
                "select" => {
                    q.select = Some(v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                }
                "expand" => q.expand = Some(v.clone()),
                "top" => {
                    q.top = Some(v.trim().parse::<i64>().map_err(|_| {
                        ApiError::bad_request("BadRequest", format!("Invalid value '{v}' for $top query option found."))
                    })?)
                }
                "count" => {
                    q.count = match v.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ApiError::bad_request(
                                "BadRequest",
                                format!("'{v}' is not a valid count option."),
                            ));
                        }
                    }
                }
                "search" => q.search = Some(v.clone()),
                "filter" => q.filter = Some(v.clone()),
                "orderby" => q.orderby = Some(v.clone()),
                "skiptoken" => q.skiptoken = Some(v.clone()),
                "deltatoken" => q.deltatoken = Some(v.clone()),
                _ => {}
            }
            q.pairs.push((k, v));
        }
        Ok(q)
    }

    /// Whether both advanced query parameters are present: `ConsistencyLevel: eventual` and `$count=true`.
    pub(crate) fn advanced(&self, ctx: &Ctx) -> bool {
        ctx.eventual && self.count
    }

    /// The page size: `$top` when given (1 to 999, else 400 as Graph answers), else the default.
    pub(crate) fn page_size(&self, default: usize) -> Result<usize, ApiError> {
        match self.top {
            None => Ok(default.clamp(1, MAX_TOP)),
            Some(n) if (1..=MAX_TOP as i64).contains(&n) => Ok(n as usize),
            Some(n) => Err(ApiError::bad_request(
                "Request_UnsupportedQuery",
                format!("Invalid page size specified: '{n}'. Must be between 1 and {MAX_TOP} inclusive."),
            )),
        }
    }

    /// The link to the same request with another `$skiptoken`.
    pub(crate) fn link_with_skiptoken(&self, ctx: &Ctx, token: &str) -> String {
        let mut parts: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken"))
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        parts.push(format!("$skiptoken={}", encode(token)));
        format!("{}{}?{}", ctx.base, ctx.path, parts.join("&"))
    }
}

fn encode(s: &str) -> String {
    // Keep `$` readable in names, as Graph's own links do.
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace("%24", "$")
}

/// An opaque token: hex of a JSON value.
pub(crate) fn encode_token(value: &Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn decode_token(token: &str) -> Option<Value> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok()).collect();
    serde_json::from_slice(&bytes?).ok()
}

// ---------------------------------------------------------------------------------------------------------------
// $select

/// Which properties of a resource exist, and which come back when no `$select` is given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema {
    /// `microsoft.graph.user`, for messages.
    pub(crate) type_name: &'static str,
    /// `User`, for filter messages.
    pub(crate) resource: &'static str,
    pub(crate) all: &'static [&'static str],
    pub(crate) default: &'static [&'static str],
    /// Properties `$filter` supports (`eq` and, where Graph allows it, `startswith`).
    pub(crate) filterable: &'static [&'static str],
}

impl Schema {
    /// The canonical names of the selected properties; 400 for a property the type does not have.
    pub(crate) fn resolve_select(&self, select: Option<&[String]>) -> Result<Option<Vec<String>>, ApiError> {
        let Some(select) = select else { return Ok(None) };
        let mut out = Vec::new();
        for s in select {
            if s == "*" {
                return Ok(Some(self.all.iter().map(|p| (*p).to_owned()).collect()));
            }
            match self.all.iter().find(|p| p.eq_ignore_ascii_case(s)) {
                Some(p) => out.push((*p).to_owned()),
                None => {
                    return Err(ApiError::bad_request(
                        "BadRequest",
                        format!(
                            "Parsing OData Select and Expand failed: Could not find a property named '{s}' on type \
                             '{}'.",
                            self.type_name
                        ),
                    ));
                }
            }
        }
        Ok(Some(out))
    }
}

/// Keeps only the selected properties (or the defaults), plus `id` and `@odata.type` ("The id property is always
/// returned", Graph v1.0 "user: delta" and "Use the $select query parameter").
pub(crate) fn project(obj: &Map<String, Value>, select: Option<&[String]>, default: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        let keep = k == "id"
            || k.starts_with('@')
            || match select {
                Some(sel) => sel.iter().any(|s| s.eq_ignore_ascii_case(k)),
                None => default.contains(&k.as_str()),
            };
        if keep {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// `#users` or `#users(id,displayName)`.
pub(crate) fn context(ctx: &Ctx, entity_set: &str, select: Option<&[String]>) -> String {
    match select {
        Some(sel) if !sel.is_empty() => format!("{}/v1.0/$metadata#{entity_set}({})", ctx.base, sel.join(",")),
        _ => format!("{}/v1.0/$metadata#{entity_set}", ctx.base),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// $filter (a subset) and $search

/// A literal of a filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Bool(bool),
    Null,
}

/// The `$filter` subset the fake understands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    Or(Vec<Filter>),
    And(Vec<Filter>),
    Not(Box<Filter>),
    Eq(String, Lit),
    Ne(String, Lit),
    StartsWith(String, String),
    EndsWith(String, String),
    /// `groupTypes/any(c:c eq 'Unified')`.
    AnyEq(String, String),
}

impl Filter {
    /// Whether the filter uses an operator that only works in advanced queries (`ne`, `not`, `endsWith`; Graph
    /// v1.0 "Advanced query capabilities", "Support for filter by properties of Microsoft Entra ID objects").
    pub(crate) fn needs_advanced(&self) -> Option<&'static str> {
        match self {
            Filter::Or(v) | Filter::And(v) => v.iter().find_map(Filter::needs_advanced),
            Filter::Not(_) => Some("Operator 'not'"),
            Filter::Ne(..) => Some("Operator 'ne'"),
            Filter::EndsWith(..) => Some("Operator 'endsWith'"),
            _ => None,
        }
    }

    /// The properties the filter reads.
    fn props(&self, out: &mut Vec<String>) {
        match self {
            Filter::Or(v) | Filter::And(v) => v.iter().for_each(|f| f.props(out)),
            Filter::Not(f) => f.props(out),
            Filter::Eq(p, _) | Filter::Ne(p, _) | Filter::StartsWith(p, _) | Filter::EndsWith(p, _) => {
                out.push(p.clone())
            }
            Filter::AnyEq(p, _) => out.push(p.clone()),
        }
    }

    /// Checks every property against the schema: "Unsupported or invalid query filter clause specified for
    /// property '…' of resource '…'." (Graph v1.0 "Advanced query capabilities", error handling).
    pub(crate) fn check(&self, schema: &Schema) -> Result<(), ApiError> {
        let mut props = Vec::new();
        self.props(&mut props);
        for p in props {
            if !schema.filterable.iter().any(|f| f.eq_ignore_ascii_case(&p)) {
                return Err(ApiError::bad_request(
                    "Request_UnsupportedQuery",
                    format!(
                        "Unsupported or invalid query filter clause specified for property '{p}' of resource '{}'.",
                        schema.resource
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Evaluates against an object (property names and string comparisons ignore case, as directory queries do).
    pub(crate) fn matches(&self, obj: &Map<String, Value>) -> bool {
        match self {
            Filter::Or(v) => v.iter().any(|f| f.matches(obj)),
            Filter::And(v) => v.iter().all(|f| f.matches(obj)),
            Filter::Not(f) => !f.matches(obj),
            Filter::Eq(p, lit) => lit_eq(get(obj, p), lit),
            Filter::Ne(p, lit) => !lit_eq(get(obj, p), lit),
            Filter::StartsWith(p, s) => {
                get(obj, p).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().starts_with(&s.to_lowercase()))
            }
            Filter::EndsWith(p, s) => {
                get(obj, p).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().ends_with(&s.to_lowercase()))
            }
            Filter::AnyEq(p, s) => get(obj, p)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(s)))),
        }
    }

    /// The ids of a filter made only of `id eq '…'` joined by `or` (the only filter delta supports).
    pub(crate) fn only_ids(&self) -> Option<Vec<String>> {
        match self {
            Filter::Eq(p, Lit::Str(v)) if p.eq_ignore_ascii_case("id") => Some(vec![v.clone()]),
            Filter::Or(v) => {
                let mut ids = Vec::new();
                for f in v {
                    ids.extend(f.only_ids()?);
                }
                Some(ids)
            }
            _ => None,
        }
    }
}

fn get<'a>(obj: &'a Map<String, Value>, prop: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(prop)).map(|(_, v)| v)
}

fn lit_eq(v: Option<&Value>, lit: &Lit) -> bool {
    match (v, lit) {
        (Some(Value::String(s)), Lit::Str(l)) => s.eq_ignore_ascii_case(l),
        (Some(Value::Bool(b)), Lit::Bool(l)) => b == l,
        (None | Some(Value::Null), Lit::Null) => true,
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Colon,
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            '\'' => {
                let mut lit = String::new();
                i += 1;
                loop {
                    let c = *chars.get(i)?;
                    if c == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            lit.push('\'');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    lit.push(c);
                    i += 1;
                }
                out.push(Tok::Str(lit));
            }
            c if c.is_alphanumeric() || c == '_' || c == '/' || c == '.' || c == '-' || c == '@' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '/' | '.' | '-' | '@'))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, t: Tok) -> Option<()> {
        (self.next()? == t).then_some(())
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn expr(&mut self) -> Option<Filter> {
        let mut terms = vec![self.term()?];
        while self.keyword("or") {
            self.pos += 1;
            terms.push(self.term()?);
        }
        Some(if terms.len() == 1 { terms.remove(0) } else { Filter::Or(terms) })
    }

    fn term(&mut self) -> Option<Filter> {
        let mut factors = vec![self.factor()?];
        while self.keyword("and") {
            self.pos += 1;
            factors.push(self.factor()?);
        }
        Some(if factors.len() == 1 { factors.remove(0) } else { Filter::And(factors) })
    }

    fn literal(&mut self) -> Option<Lit> {
        match self.next()? {
            Tok::Str(s) => Some(Lit::Str(s)),
            Tok::Ident(s) if s.eq_ignore_ascii_case("true") => Some(Lit::Bool(true)),
            Tok::Ident(s) if s.eq_ignore_ascii_case("false") => Some(Lit::Bool(false)),
            Tok::Ident(s) if s.eq_ignore_ascii_case("null") => Some(Lit::Null),
            _ => None,
        }
    }

    fn factor(&mut self) -> Option<Filter> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let f = self.expr()?;
            self.expect(Tok::RParen)?;
            return Some(f);
        }
        if self.keyword("not") {
            self.pos += 1;
            return Some(Filter::Not(Box::new(self.factor()?)));
        }
        let Tok::Ident(name) = self.next()? else { return None };
        let lower = name.to_ascii_lowercase();
        if (lower == "startswith" || lower == "endswith") && self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let Tok::Ident(prop) = self.next()? else { return None };
            self.expect(Tok::Comma)?;
            let Tok::Str(value) = self.next()? else { return None };
            self.expect(Tok::RParen)?;
            return Some(if lower == "startswith" {
                Filter::StartsWith(prop, value)
            } else {
                Filter::EndsWith(prop, value)
            });
        }
        if let Some(prop) = name.strip_suffix("/any").or_else(|| name.strip_suffix("/ANY")) {
            // prop/any(x:x eq 'v')
            self.expect(Tok::LParen)?;
            let Tok::Ident(var) = self.next()? else { return None };
            self.expect(Tok::Colon)?;
            let Tok::Ident(var2) = self.next()? else { return None };
            if var != var2 || !self.keyword("eq") {
                return None;
            }
            self.pos += 1;
            let Tok::Str(value) = self.next()? else { return None };
            self.expect(Tok::RParen)?;
            return Some(Filter::AnyEq(prop.to_owned(), value));
        }
        let op = match self.next()? {
            Tok::Ident(op) => op.to_ascii_lowercase(),
            _ => return None,
        };
        let lit = self.literal()?;
        match op.as_str() {
            "eq" => Some(Filter::Eq(name, lit)),
            "ne" => Some(Filter::Ne(name, lit)),
            _ => None,
        }
    }
}

/// Parses a `$filter` expression of the supported subset; anything else is a 400 as Graph answers an invalid
/// filter.
pub(crate) fn parse_filter(text: &str) -> Result<Filter, ApiError> {
    let invalid = || ApiError::bad_request("BadRequest", format!("Invalid filter clause: {text}"));
    let toks = tokenize(text).ok_or_else(invalid)?;
    let mut p = Parser { toks, pos: 0 };
    let f = p.expr().ok_or_else(invalid)?;
    if p.pos != p.toks.len() {
        return Err(invalid());
    }
    Ok(f)
}

/// A `$search` clause: `"property:words"`.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    pub(crate) property: String,
    pub(crate) words: Vec<String>,
}

/// Parses `$search="displayName:word"` (Graph v1.0 "Use the $search query parameter", directory objects:
/// tokenized search on `displayName` and `description`; the clause is quoted).
pub(crate) fn parse_search(text: &str, searchable: &[&str]) -> Result<Search, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "Request_UnsupportedQuery",
            format!("Unsupported or invalid search clause: {text}. Use \"property:value\" with a searchable property."),
        )
    };
    let inner = text.trim().strip_prefix('"').and_then(|s| s.strip_suffix('"')).ok_or_else(invalid)?;
    let (prop, words) = inner.split_once(':').ok_or_else(invalid)?;
    let property =
        searchable.iter().find(|p| p.eq_ignore_ascii_case(prop.trim())).map(|p| (*p).to_owned()).ok_or_else(invalid)?;
    let words: Vec<String> = words.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return Err(invalid());
    }
    Ok(Search { property, words })
}

impl Search {
    /// Tokenized matching: every searched word is the start of a token of the property (tokens split on spaces,
    /// punctuation and lower-to-upper case changes, as Graph's tokenization does).
    pub(crate) fn matches(&self, obj: &Map<String, Value>) -> bool {
        let Some(text) = get(obj, &self.property).and_then(Value::as_str) else { return false };
        let tokens = tokens(text);
        self.words.iter().all(|w| tokens.iter().any(|t| t.starts_with(w.as_str())))
    }
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Paged collections

/// How a collection endpoint treats the query options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CollectionRules {
    /// `$filter`, `$search`, `$orderby` and the OData cast need the advanced query parameters (members lists).
    pub(crate) strict_advanced: bool,
    /// Validate `$select` against this schema (none for mixed `directoryObject` collections).
    pub(crate) schema: Option<Schema>,
    pub(crate) searchable: &'static [&'static str],
    pub(crate) default_select: &'static [&'static str],
}

/// An object with its sort key: (order key, id).
type Keyed = ((String, String), Map<String, Value>);

/// The objects of a collection: their ids in ascending order, and how to render one. Only the objects of the page
/// asked for are rendered (unless a filter, search or order needs them all), so paging a large tenant costs
/// O(page), not O(tenant).
pub(crate) struct Listing<'a> {
    pub(crate) ids: Vec<&'a str>,
    pub(crate) render: Render<'a>,
}

/// Renders the object with this id (`None` when it is gone).
pub(crate) type Render<'a> = Box<dyn Fn(&str) -> Option<Map<String, Value>> + 'a>;

impl Listing<'_> {
    fn render_all(&self) -> Vec<Map<String, Value>> {
        self.ids.iter().filter_map(|id| (self.render)(id)).collect()
    }
}

fn skip_cursor(q: &Query) -> Result<Option<(String, String)>, ApiError> {
    match q.skiptoken.as_deref() {
        None => Ok(None),
        Some(t) => decode_token(t)
            .and_then(|v| serde_json::from_value::<(String, String)>(v).ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("Request_BadRequest", "Invalid skip token.")),
    }
}

/// Answers one page of a collection: filter, search, order, count, `$skiptoken` cursor, `$top`, `$select`,
/// `@odata.nextLink`. The cursor is the last (order key, id) served, so a page never repeats or skips an item that
/// did not change, whatever happens between requests.
pub(crate) fn collection(
    ctx: &Ctx,
    q: &Query,
    entity_set: &str,
    listing: Listing<'_>,
    default_page: usize,
    rules: CollectionRules,
) -> Result<Reply, ApiError> {
    let advanced = q.advanced(ctx);
    let select = match rules.schema {
        Some(schema) => schema.resolve_select(q.select.as_deref())?,
        None => q.select.clone(),
    };
    let page_size = q.page_size(default_page)?;
    let filter = q.filter.as_deref().map(parse_filter).transpose()?;
    if let Some(f) = &filter {
        if rules.strict_advanced && !advanced {
            return Err(ApiError::needs_advanced("$filter"));
        }
        if let Some(what) = f.needs_advanced()
            && !advanced
        {
            return Err(ApiError::needs_advanced(what));
        }
        if let Some(schema) = &rules.schema {
            f.check(schema)?;
        }
        if q.orderby.is_some() && !advanced {
            // "Using $filter and $orderby together is supported only with advanced queries."
            return Err(ApiError::needs_advanced("Using $filter and $orderby together"));
        }
    }
    let search = match q.search.as_deref() {
        None => None,
        Some(text) => {
            // "For directory objects, $search works only in advanced queries. If the ConsistencyLevel header is
            // not specified, the request returns an error."
            if !ctx.eventual {
                return Err(ApiError::bad_request(
                    "Request_UnsupportedQuery",
                    "Request with $search query parameter only works through MSGraph with a special request \
                     header: 'ConsistencyLevel: eventual'",
                ));
            }
            if rules.strict_advanced && !advanced {
                return Err(ApiError::needs_advanced("$search"));
            }
            Some(parse_search(text, rules.searchable)?)
        }
    };
    let (order_prop, descending) = match q.orderby.as_deref() {
        None => (None, false),
        Some(o) => {
            if rules.strict_advanced && !advanced {
                return Err(ApiError::needs_advanced("$orderby"));
            }
            let mut parts = o.split_whitespace();
            let prop = parts.next().unwrap_or("").to_owned();
            let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            if !["displayName", "userPrincipalName"].iter().any(|p| p.eq_ignore_ascii_case(&prop)) {
                return Err(ApiError::bad_request(
                    "Request_UnsupportedQuery",
                    format!("Sorting not supported for '{prop}'."),
                ));
            }
            (Some(prop), desc)
        }
    };
    let after = skip_cursor(q)?;
    let page = if filter.is_none() && search.is_none() && order_prop.is_none() {
        // In id order already: find the cursor, render the page only.
        let ids = &listing.ids;
        let mut pos = after.as_ref().map_or(0, |(_, id)| ids.partition_point(|x| *x <= id.as_str()));
        let mut items = Vec::new();
        let mut last = None;
        while pos < ids.len() && items.len() < page_size {
            if let Some(o) = (listing.render)(ids[pos]) {
                items.push(o);
                last = Some(ids[pos]);
            }
            pos += 1;
        }
        let next = if pos < ids.len() { last.map(|id| (String::new(), id.to_owned())) } else { None };
        Page { total: ids.len(), next, items }
    } else {
        let key_of = |obj: &Map<String, Value>| -> (String, String) {
            let key = order_prop
                .as_deref()
                .and_then(|p| get(obj, p))
                .and_then(Value::as_str)
                .map(str::to_lowercase)
                .unwrap_or_default();
            let id = obj.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
            (key, id)
        };
        let mut matched: Vec<Keyed> = listing
            .render_all()
            .into_iter()
            .filter(|o| filter.as_ref().is_none_or(|f| f.matches(o)))
            .filter(|o| search.as_ref().is_none_or(|s| s.matches(o)))
            .map(|o| (key_of(&o), o))
            .collect();
        matched.sort_by(|a, b| if descending { b.0.0.cmp(&a.0.0).then(a.0.1.cmp(&b.0.1)) } else { a.0.cmp(&b.0) });
        let start =
            match &after {
                None => 0,
                Some(cursor) => matched
                    .iter()
                    .position(|(k, _)| {
                        if descending { k.0 < cursor.0 || (k.0 == cursor.0 && k.1 > cursor.1) } else { k > cursor }
                    })
                    .unwrap_or(matched.len()),
            };
        let total = matched.len();
        let more = start + page_size < total;
        let chosen: Vec<Keyed> = matched.into_iter().skip(start).take(page_size).collect();
        let next = if more { chosen.last().map(|(k, _)| k.clone()) } else { None };
        Page { total, next, items: chosen.into_iter().map(|(_, o)| o).collect() }
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context(ctx, entity_set, select.as_deref())));
    // "$count=true" without "ConsistencyLevel: eventual" is silently ignored on directory objects (Graph v1.0
    // "Advanced query capabilities", error handling: "silently ignores the $count query parameter").
    if q.count && ctx.eventual {
        body.insert("@odata.count".into(), json!(page.total));
    }
    if let Some((key, id)) = page.next {
        let token = encode_token(&json!([key, id]));
        body.insert("@odata.nextLink".into(), Value::String(q.link_with_skiptoken(ctx, &token)));
    }
    let value: Vec<Value> =
        page.items.iter().map(|o| Value::Object(project(o, select.as_deref(), rules.default_select))).collect();
    body.insert("value".into(), Value::Array(value));
    Ok(Reply::json(Value::Object(body)))
}

/// One page: the total before paging, the cursor of the next page, the objects.
struct Page {
    total: usize,
    next: Option<(String, String)>,
    items: Vec<Map<String, Value>>,
}

/// The total of a collection for a `/$count` segment, which "returns an error when the $count URL segment is used"
/// without `ConsistencyLevel: eventual` (Graph v1.0 "Advanced query capabilities", error handling).
pub(crate) fn count_segment(ctx: &Ctx, q: &Query, listing: Listing<'_>) -> Result<Reply, ApiError> {
    if !ctx.eventual {
        return Err(ApiError::bad_request("Request_BadRequest", "$count is not currently supported."));
    }
    let n = match q.filter.as_deref().map(parse_filter).transpose()? {
        None => listing.ids.len(),
        Some(f) => listing.render_all().iter().filter(|o| f.matches(o)).count(),
    };
    Ok(Reply::text(n.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_match() {
        let f = parse_filter("startswith(displayName,'Year 7') or id eq 'x'").unwrap();
        let mut o = Map::new();
        o.insert("id".into(), json!("y"));
        o.insert("displayName".into(), json!("year 7 Maths"));
        assert!(f.matches(&o));
        assert!(parse_filter("groupTypes/any(c:c eq 'Unified')").is_ok());
        assert!(parse_filter("displayName gt 'a'").is_err());
        assert_eq!(parse_filter("id eq 'a' or id eq 'b'").unwrap().only_ids().unwrap(), ["a", "b"]);
        assert_eq!(parse_filter("endswith(mail,'@x')").unwrap().needs_advanced(), Some("Operator 'endsWith'"));
        assert_eq!(
            parse_filter("displayName eq 'O''Neil'").unwrap(),
            Filter::Eq("displayName".into(), Lit::Str("O'Neil".into()))
        );
    }

    #[test]
    fn search_is_tokenized() {
        let s = parse_search("\"displayName:tier\"", &["displayName"]).unwrap();
        let mut o = Map::new();
        o.insert("displayName".into(), json!("SupportTier 2"));
        assert!(s.matches(&o));
        o.insert("displayName".into(), json!("Frontier"));
        assert!(!s.matches(&o));
    }

    #[test]
    fn tokens_round_trip() {
        let v = json!(["a", "b"]);
        assert_eq!(decode_token(&encode_token(&v)), Some(v));
        assert_eq!(decode_token("zz"), None);
    }
}

//! Every endpoint the client calls, as data.
//!
//! The client builds each request URL from these templates (see [`Endpoint::url`]), and the tests check the same
//! list against `docs/secure-schools-api.openapi.json` and against the requests a mock server received. So the list
//! cannot drift from what the client sends, and the OpenAPI file cannot drift from the list.

use crate::error::{Error, InvalidInput};
use url::Url;

/// The HTTP methods the contract uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl HttpMethod {
    /// The method as written on the wire: `GET`, `POST`, …
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        }
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operation of the API: a method and a path template such as `/organisations/{org}/users/{id}`.
///
/// Templates are written exactly as in the OpenAPI file; `{name}` marks a path parameter, filled in (and
/// percent-encoded as one segment) when a request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The method.
    pub method: HttpMethod,
    /// The path template, relative to the configured base URL.
    pub path: &'static str,
}

impl Endpoint {
    /// `GET /me`: the identity the token belongs to.
    pub const ME: Endpoint = Endpoint { method: HttpMethod::Get, path: "/me" };
    /// `GET /organisations`: one page of the organisations the token can see.
    pub const ORGANISATIONS: Endpoint = Endpoint { method: HttpMethod::Get, path: "/organisations" };
    /// `GET /organisations/{org}/users`: one page of an organisation's users.
    pub const LIST_USERS: Endpoint = Endpoint { method: HttpMethod::Get, path: "/organisations/{org}/users" };
    /// `POST /organisations/{org}/users`: create one user.
    pub const CREATE_USER: Endpoint = Endpoint { method: HttpMethod::Post, path: "/organisations/{org}/users" };
    /// `PATCH /organisations/{org}/users/{id}`: change some fields of one user.
    pub const UPDATE_USER: Endpoint = Endpoint { method: HttpMethod::Patch, path: "/organisations/{org}/users/{id}" };
    /// `DELETE /organisations/{org}/users/{id}`: delete one user.
    pub const DELETE_USER: Endpoint = Endpoint { method: HttpMethod::Delete, path: "/organisations/{org}/users/{id}" };
    /// `POST /organisations/{org}/users/batch`: up to 100 operations under one `Idempotency-Key`.
    pub const BATCH: Endpoint = Endpoint { method: HttpMethod::Post, path: "/organisations/{org}/users/batch" };

    /// The names of the template's path parameters, in order (`["org", "id"]`).
    pub fn parameters(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// The URL of this endpoint under `base`, with `params` filled into the template in order.
    ///
    /// Each parameter becomes exactly one path segment, percent-encoded (so an id holding `/`, `?`, `#` or `%`
    /// stays one segment); the base URL's own path is kept as a prefix. Empty parameters, `.` and `..` are refused
    /// because they cannot name one segment.
    pub fn url(&self, base: &Url, params: &[&str]) -> Result<Url, Error> {
        let mut url = base.clone();
        let mut params = params.iter();
        {
            let mut segments =
                url.path_segments_mut().map_err(|()| InvalidInput::BaseUrl { reason: "it cannot be a base URL" })?;
            segments.pop_if_empty();
            for part in self.path.split('/').filter(|s| !s.is_empty()) {
                match part.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => {
                        let value = params.next().ok_or(InvalidInput::PathParameter { name, value: String::new() })?;
                        if value.is_empty() || *value == "." || *value == ".." {
                            return Err(InvalidInput::PathParameter { name, value: (*value).to_owned() }.into());
                        }
                        segments.push(value);
                    }
                    None => {
                        segments.push(part);
                    }
                }
            }
        }
        Ok(url)
    }

    /// Whether a concrete request path (relative to the base URL, e.g. `/organisations/o-1/users`) is an instance
    /// of this endpoint's template. Used by tests to check that every request sent is a documented one.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if !method.eq_ignore_ascii_case(self.method.as_str()) {
            return false;
        }
        let template: Vec<&str> = self.path.split('/').collect();
        let concrete: Vec<&str> = path.split('/').collect();
        template.len() == concrete.len()
            && template
                .iter()
                .zip(&concrete)
                .all(|(t, c)| if t.starts_with('{') && t.ends_with('}') { !c.is_empty() } else { t == c })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Every endpoint the client calls. The OpenAPI test checks that each is described in
/// `docs/secure-schools-api.openapi.json`, and that the file describes no others.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint::ME,
    Endpoint::ORGANISATIONS,
    Endpoint::LIST_USERS,
    Endpoint::CREATE_USER,
    Endpoint::UPDATE_USER,
    Endpoint::DELETE_USER,
    Endpoint::BATCH,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn fills_templates_and_keeps_the_base_path() {
        let url = Endpoint::UPDATE_USER.url(&base("https://api.example/v1/"), &["o-1", "u-2"]).unwrap();
        assert_eq!(url.as_str(), "https://api.example/v1/organisations/o-1/users/u-2");
        let url = Endpoint::ME.url(&base("https://api.example"), &[]).unwrap();
        assert_eq!(url.as_str(), "https://api.example/me");
        let url = Endpoint::BATCH.url(&base("https://api.example/v1"), &["o"]).unwrap();
        assert_eq!(url.path(), "/v1/organisations/o/users/batch");
    }

    #[test]
    fn a_parameter_is_always_one_segment() {
        let url = Endpoint::UPDATE_USER.url(&base("https://api.example/"), &["a/b?c#d", "50% off"]).unwrap();
        assert_eq!(url.path(), "/organisations/a%2Fb%3Fc%23d/users/50%25%20off");
        assert_eq!(url.query(), None);
        assert_eq!(url.fragment(), None);
    }

    #[test]
    fn empty_and_dot_parameters_are_refused() {
        for bad in ["", ".", ".."] {
            let err = Endpoint::LIST_USERS.url(&base("https://api.example/"), &[bad]).unwrap_err();
            assert!(matches!(err, Error::InvalidInput(InvalidInput::PathParameter { name: "org", .. })), "{err}");
        }
        assert!(Endpoint::LIST_USERS.url(&base("https://api.example/"), &[]).is_err());
    }

    #[test]
    fn templates_match_concrete_paths() {
        assert!(Endpoint::UPDATE_USER.matches("PATCH", "/organisations/o/users/u%2Fv"));
        assert!(!Endpoint::UPDATE_USER.matches("DELETE", "/organisations/o/users/u"));
        assert!(Endpoint::BATCH.matches("POST", "/organisations/o/users/batch"));
        assert!(!Endpoint::CREATE_USER.matches("POST", "/organisations/o/users/batch"));
        assert!(!Endpoint::LIST_USERS.matches("GET", "/organisations//users"));
        assert_eq!(Endpoint::DELETE_USER.parameters().collect::<Vec<_>>(), ["org", "id"]);
    }
}

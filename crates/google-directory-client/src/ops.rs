//! `users.list` and `orgunits.list`.
//!
//! * `users.list` (<https://developers.google.com/workspace/admin/directory/reference/rest/v1/users/list>):
//!   `GET admin/directory/v1/users` with `customer` (or `domain`), `maxResults` (1–500; "Users – A default of 100
//!   entries and a maximum of 500 entries per page", Directory API "Limits and quotas"), `pageToken` from the
//!   previous page's `nextPageToken`, and `query`. `orgUnitPath='/X'` "matches all org unit chains under the
//!   target" (Directory API "Search for users"), so a parent unit's query includes its sub-units.
//! * `orgunits.list` (<https://developers.google.com/workspace/admin/directory/reference/rest/v1/orgunits/list>):
//!   `GET admin/directory/v1/customer/{customerId}/orgunits?type=all` — every unit below the top, not paged.
//! * `fields` asks for a partial response holding only what sync uses ("Performance tips: partial response",
//!   <https://developers.google.com/workspace/admin/directory/v1/guides/performance#partial-response>).

use crate::client::{Account, DirectoryClient, MY_CUSTOMER};
use crate::error::DirectoryError;
use crate::models::{OrgUnit, OrgUnits, User, UsersPage, org_unit_query};
use futures::{Stream, StreamExt, TryStreamExt, stream};

/// The most users `users.list` returns per page, and what this client asks for.
pub const MAX_RESULTS: u32 = 500;

/// The fields of a `users.list` page that sync reads.
pub const USER_FIELDS: &str =
    "nextPageToken,users(id,primaryEmail,name(givenName,familyName,fullName),suspended,archived,orgUnitPath)";

/// The fields of an `orgunits.list` answer that sync reads.
pub const ORG_UNIT_FIELDS: &str = "organizationUnits(orgUnitId,orgUnitPath,name,description,parentOrgUnitPath)";

/// What a `users.list` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    /// The `query` parameter, e.g. from [`org_unit_query`].
    pub query: Option<String>,
    /// Users per page, 1–500.
    pub max_results: u32,
    /// The `fields` partial response selector.
    pub fields: String,
}

impl UserQuery {
    /// The users of an organisational unit and every unit under it, 500 a page, with the fields sync reads.
    pub fn org_unit(path: &str) -> UserQuery {
        UserQuery { query: Some(org_unit_query(path)), max_results: MAX_RESULTS, fields: USER_FIELDS.to_owned() }
    }

    /// Sets the page size (clamped to 1–500).
    pub fn max_results(mut self, n: u32) -> UserQuery {
        self.max_results = n.clamp(1, MAX_RESULTS);
        self
    }
}

impl DirectoryClient {
    fn users_url(&self, q: &UserQuery, page_token: Option<&str>) -> url::Url {
        let max = q.max_results.clamp(1, MAX_RESULTS).to_string();
        let mut query: Vec<(&str, &str)> = match self.account() {
            Account::Customer(id) => vec![("customer", id.as_str())],
            Account::Domain(domain) => vec![("domain", domain.as_str())],
        };
        query.push(("maxResults", &max));
        if let Some(text) = &q.query {
            query.push(("query", text));
        }
        if !q.fields.is_empty() {
            query.push(("fields", &q.fields));
        }
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        self.url(&["admin", "directory", "v1", "users"], &query)
    }

    /// Every page of a `users.list`, each next page asked for with the previous page's `nextPageToken` and
    /// otherwise the same parameters, through the same retry policy. Memory is one page at a time.
    pub fn user_pages(
        &self,
        query: UserQuery,
    ) -> impl Stream<Item = Result<UsersPage, DirectoryError>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Some(None::<String>), move |next| {
            let client = client.clone();
            let query = query.clone();
            async move {
                let Some(token) = next else { return Ok(None) };
                let url = client.users_url(&query, token.as_deref());
                let page: UsersPage = client.get_json(&url).await?;
                let next = page.next_page_token.clone().filter(|t| !t.is_empty()).map(Some);
                if let (Some(Some(new)), Some(old)) = (&next, &token)
                    && new == old
                {
                    return Err(DirectoryError::InvalidInput(
                        "users.list answered the same nextPageToken twice; stopping instead of looping".into(),
                    ));
                }
                Ok(Some((page, next)))
            }
        })
    }

    /// Every user of a `users.list`.
    pub fn users(&self, query: UserQuery) -> impl Stream<Item = Result<User, DirectoryError>> + Send + 'static {
        self.user_pages(query).map_ok(|page| stream::iter(page.users.into_iter().map(Ok))).try_flatten().boxed()
    }

    /// The users of an organisational unit and of every unit under it (`query=orgUnitPath='…'`, 500 a page).
    pub fn users_in_org_unit(&self, path: &str) -> impl Stream<Item = Result<User, DirectoryError>> + Send + 'static {
        self.users(UserQuery::org_unit(path))
    }

    /// Every organisational unit of the account below the top (`type=all`), with the fields sync reads. The top
    /// unit `/` is not listed by Google; it always exists.
    pub async fn org_units(&self) -> Result<Vec<OrgUnit>, DirectoryError> {
        let customer = match self.account() {
            Account::Customer(id) => id.as_str(),
            Account::Domain(_) => MY_CUSTOMER,
        };
        let url = self.url(
            &["admin", "directory", "v1", "customer", customer, "orgunits"],
            &[("type", "all"), ("fields", ORG_UNIT_FIELDS)],
        );
        let answer: OrgUnits = self.get_json(&url).await?;
        Ok(answer.organization_units)
    }
}

//! The operations roster sync needs, and paging.
//!
//! Lists follow `meta.pagination.next` exactly as Wonde gives it until it is `null` (Wonde API documentation,
//! "Pagination"; Wonde's own PHP client does the same in its `ResultIterator`), through the same retry policy as
//! the first page, holding one page at a time.

use crate::client::WondeClient;
use crate::error::WondeError;
use crate::models::{Class, Deletion, Employee, Group, One, Page, School, Student};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt, stream};
use serde::de::DeserializeOwned;

/// The page size asked for: the largest Wonde serves (`per_page` above it is served as this many).
pub const MAX_PER_PAGE: u32 = 200;

/// The format of `updated_after` (`Y-m-d H:i:s`, as the Wonde documentation and its clients write it). The time is
/// sent in UTC.
pub const UPDATED_AFTER_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// What to ask a list endpoint for: `include`, `per_page`, `updated_after` and any other filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    include: Vec<String>,
    per_page: u32,
    updated_after: Option<DateTime<Utc>>,
    params: Vec<(String, String)>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery { include: Vec::new(), per_page: MAX_PER_PAGE, updated_after: None, params: Vec::new() }
    }
}

impl ListQuery {
    /// Everything, the largest pages, nothing included.
    pub fn new() -> ListQuery {
        ListQuery::default()
    }

    /// Includes relations (`include=contact_details,classes`; nested ones as `classes.subject`).
    pub fn include<I, S>(mut self, relations: I) -> ListQuery
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.include.extend(relations.into_iter().map(Into::into));
        self
    }

    /// The page size (1 to [`MAX_PER_PAGE`]).
    pub fn per_page(mut self, n: u32) -> ListQuery {
        self.per_page = n.clamp(1, MAX_PER_PAGE);
        self
    }

    /// Only records changed after this time (`updated_after`).
    pub fn updated_after(mut self, at: DateTime<Utc>) -> ListQuery {
        self.updated_after = Some(at);
        self
    }

    /// Another query parameter (a filter such as `has_class=true`, or `type=student` on deletions).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> ListQuery {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The query pairs, in a stable order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !self.include.is_empty() {
            out.push(("include".to_owned(), self.include.join(",")));
        }
        out.push(("per_page".to_owned(), self.per_page.to_string()));
        if let Some(at) = self.updated_after {
            out.push(("updated_after".to_owned(), at.format(UPDATED_AFTER_FORMAT).to_string()));
        }
        out.extend(self.params.iter().cloned());
        out
    }
}

fn check_school(id: &str) -> Result<&str, WondeError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(WondeError::InvalidInput("the school id is empty".into()));
    }
    Ok(id)
}

enum Next {
    Url(url::Url),
    Done,
}

impl WondeClient {
    /// One school (`GET /v1.0/schools/{id}`): a 200 means the token may read it (the school approved access).
    pub async fn school(&self, school_id: &str) -> Result<School, WondeError> {
        let id = check_school(school_id)?;
        let one: One<School> = self.get_json(&self.url(&["schools", id], &[])).await?;
        Ok(one.data)
    }

    /// Schools that have been asked for access but have not approved it yet (`GET /v1.0/schools/pending`).
    pub fn pending_schools(&self) -> impl Stream<Item = Result<School, WondeError>> + Send + 'static {
        let url = self.url(&["schools", "pending"], &ListQuery::new().pairs());
        self.items(url)
    }

    fn school_list(&self, school_id: &str, resource: &str, query: &ListQuery) -> Result<url::Url, WondeError> {
        let id = check_school(school_id)?;
        Ok(self.url(&["schools", id, resource], &query.pairs()))
    }

    /// Every page of `GET /v1.0/schools/{id}/{resource}` (for progress and request counting).
    pub fn pages<T: DeserializeOwned + Send + 'static>(
        &self,
        school_id: &str,
        resource: &str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Page<T>, WondeError>> + Send + 'static {
        let first = self.school_list(school_id, resource, query);
        let client = self.clone();
        stream::once(async move { first }).map_ok(move |url| client.pages_from(url)).try_flatten().boxed()
    }

    /// Every page starting at `first`, following `meta.pagination.next` exactly as given.
    pub(crate) fn pages_from<T: DeserializeOwned + Send + 'static>(
        &self,
        first: url::Url,
    ) -> impl Stream<Item = Result<Page<T>, WondeError>> + Send + 'static + use<T> {
        let client = self.clone();
        stream::try_unfold(Next::Url(first), move |next| {
            let client = client.clone();
            async move {
                let url = match next {
                    Next::Url(url) => url,
                    Next::Done => return Ok(None),
                };
                let page: Page<T> = client.get_json(&url).await?;
                let next = match page.next() {
                    Some(link) => {
                        let next = client.check_link(link)?;
                        if next == url {
                            return Err(WondeError::InvalidInput(format!(
                                "Wonde gave the page it answered ({}) as the next page; stopping instead of looping",
                                url.path()
                            )));
                        }
                        Next::Url(next)
                    }
                    None => Next::Done,
                };
                Ok(Some((page, next)))
            }
        })
    }

    fn items<T: DeserializeOwned + Send + 'static>(
        &self,
        first: url::Url,
    ) -> impl Stream<Item = Result<T, WondeError>> + Send + 'static {
        self.pages_from::<T>(first).map_ok(|page| stream::iter(page.data.into_iter().map(Ok))).try_flatten().boxed()
    }

    fn list<T: DeserializeOwned + Send + 'static>(
        &self,
        school_id: &str,
        resource: &'static str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<T, WondeError>> + Send + 'static {
        self.pages::<T>(school_id, resource, query)
            .map_ok(|page| stream::iter(page.data.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// The students on roll (`GET /v1.0/schools/{id}/students`), e.g. with
    /// `include(["contact_details", "year", "classes"])`.
    pub fn students(
        &self,
        school_id: &str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Student, WondeError>> + Send + 'static {
        self.list(school_id, "students", query)
    }

    /// Students who have left (`GET /v1.0/schools/{id}/students-leaver`).
    pub fn leavers(
        &self,
        school_id: &str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Student, WondeError>> + Send + 'static {
        self.list(school_id, "students-leaver", query)
    }

    /// The employees (`GET /v1.0/schools/{id}/employees`).
    pub fn employees(
        &self,
        school_id: &str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Employee, WondeError>> + Send + 'static {
        self.list(school_id, "employees", query)
    }

    /// The classes (`GET /v1.0/schools/{id}/classes`), e.g. with `include(["students", "employees", "subject"])`.
    pub fn classes(
        &self,
        school_id: &str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Class, WondeError>> + Send + 'static {
        self.list(school_id, "classes", query)
    }

    /// The groups: year groups, registration groups, houses… (`GET /v1.0/schools/{id}/groups`).
    pub fn groups(
        &self,
        school_id: &str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Group, WondeError>> + Send + 'static {
        self.list(school_id, "groups", query)
    }

    /// Records deleted from the MIS (`GET /v1.0/schools/{id}/deletions`), e.g. with `param("type", "student")` and
    /// `updated_after`.
    pub fn deletions(
        &self,
        school_id: &str,
        query: &ListQuery,
    ) -> impl Stream<Item = Result<Deletion, WondeError>> + Send + 'static {
        self.list(school_id, "deletions", query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn query_pairs_are_stable_and_clamped() {
        let at = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap();
        let q = ListQuery::new().include(["contact_details", "year"]).per_page(5000).updated_after(at).param("a", "b");
        assert_eq!(
            q.pairs(),
            [
                ("include".to_owned(), "contact_details,year".to_owned()),
                ("per_page".to_owned(), "200".to_owned()),
                ("updated_after".to_owned(), "2025-03-04 05:06:07".to_owned()),
                ("a".to_owned(), "b".to_owned()),
            ]
        );
        assert_eq!(ListQuery::new().per_page(0).pairs()[0].1, "1");
    }
}

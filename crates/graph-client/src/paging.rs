//! OData collections: one page, and a `Stream` over all pages following `@odata.nextLink` exactly as given.

use crate::client::{Call, GraphClient};
use crate::error::GraphError;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use http_retry::Idempotency;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// One page of a collection.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub struct Page<T> {
    /// The items.
    #[serde(default)]
    pub value: Vec<T>,
    /// The next page, when there is one.
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    /// On the last page of a delta round: the link for the next round.
    #[serde(default, rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
    /// The total count, when `$count=true` was asked.
    #[serde(default, rename = "@odata.count")]
    pub count: Option<u64>,
}

impl<T: DeserializeOwned> Page<T> {
    /// Decodes one page of a collection as the client decodes every page it fetches: in one pass, and only if
    /// that fails, a second pass that finds the JSON path of the fault. `source` names where the JSON came from
    /// (a request path, a file) and is the `path` of a [`GraphError::Decode`].
    pub fn from_json(source: &str, body: &[u8]) -> Result<Page<T>, GraphError> {
        crate::error::decode(source, body)
    }
}

enum Next {
    Url(Call),
    Done,
}

impl GraphClient {
    /// Every page of a collection, starting with `first`. Each next page is requested exactly as Graph linked it,
    /// with the same `ConsistencyLevel`, through the same retry policy. Memory is one page at a time.
    pub(crate) fn pages<T: DeserializeOwned + Send + 'static>(
        &self,
        first: Call,
    ) -> impl Stream<Item = Result<Page<T>, GraphError>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Next::Url(first), move |next| {
            let client = client.clone();
            async move {
                let call = match next {
                    Next::Url(call) => call,
                    Next::Done => return Ok(None),
                };
                let reply = client.send(&call, Idempotency::Idempotent).await?;
                let page = Page::<T>::from_json(call.url.path(), &reply.body)?;
                let next = match &page.next_link {
                    Some(link) => {
                        let url = client.check_link(link)?;
                        Next::Url(Call { url, ..call })
                    }
                    None => Next::Done,
                };
                Ok(Some((page, next)))
            }
        })
    }

    /// Every item of every page.
    pub(crate) fn items<T: DeserializeOwned + Send + 'static>(
        &self,
        first: Call,
    ) -> impl Stream<Item = Result<T, GraphError>> + Send + 'static {
        self.pages::<T>(first).map_ok(|page| stream::iter(page.value.into_iter().map(Ok))).try_flatten().boxed()
    }
}

//! Graph's identity and access throttling: a token bucket of resource units per application+tenant pair.
//!
//! Everything here follows Graph v1.0 "Microsoft Graph service-specific throttling limits", section "Identity
//! and access service limits" (<https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits>):
//!
//! * "Throttling is based on a token bucket algorithm, which works by adding individual costs of requests."
//! * Resource unit quota per application+tenant pair: "S: 3,500, M: 5,000, L: 8,000 per 10 seconds", where
//!   "S - under 50 users, M - between 50 and 500 users, and L - above 500 users".
//! * Base costs: `GET users` 2, `GET groups/{id}/members` 3, `GET groups/{id}/transitiveMembers` 5,
//!   `GET me/transitiveMemberOf` 2 (and the same for `users/{id}/…`), any other identity path 1.
//! * "Using `$select` decreases cost by 1", "Using `$expand` increases cost by 1", "Using `$top` with a value of
//!   less than 20 decreases cost by 1", "A request cost can never be lower than 1".
//! * Every answer carries `x-ms-resource-unit`; `x-ms-throttle-limit-percentage` is "returned only when the
//!   application consumed more than 0.8 of its limit" (0.8 to 1.8); throttled answers are 429 with
//!   `Retry-After`, `x-ms-throttle-scope` (`Tenant_Application/ReadWrite/{appId}/{tenantId}`) and
//!   `x-ms-throttle-information` (`ResourceUnitLimitExceeded`).
//!
//! A throttled request costs nothing in the fake (Graph says throttled requests still count; the fake keeps
//! `Retry-After` exact instead, so a client that waits it always gets through). The bucket refills by the
//! injectable clock. The write quota is not modelled: the fake serves reads only.

use super::FakeGraph;
use super::odata::{ApiError, Ctx, Query, bearer};
use super::state::{Bucket, State, ThrottleLimit};
use axum::extract::{MatchedPath, Request, State as AxState};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;

/// The cost of a request in resource units, from its route template and query.
pub(crate) fn request_cost(method: &Method, route: &str, query: Option<&str>) -> u32 {
    let path = route.trim_start_matches("/v1.0/");
    let base: i64 = if method == Method::GET {
        if path == "users" {
            2
        } else if path.starts_with("groups/{id}/members") {
            3
        } else if path.starts_with("groups/{id}/transitiveMembers") {
            5
        } else if path.starts_with("me/transitiveMemberOf") || path.starts_with("users/{id}/transitiveMemberOf") {
            2
        } else {
            1
        }
    } else {
        1
    };
    let q = Query::parse(query).unwrap_or_default();
    let mut cost = base;
    if q.select.is_some() {
        cost -= 1;
    }
    if q.expand.is_some() {
        cost += 1;
    }
    if q.top.is_some_and(|t| t < 20) {
        cost -= 1;
    }
    cost.max(1) as u32
}

/// The quota for the tenant's size, or the configured one: `(units, refill period)`.
fn quota(st: &State) -> Option<(f64, Duration)> {
    match st.settings.throttle {
        ThrottleLimit::Unlimited => None,
        ThrottleLimit::Custom { units, per } => Some((f64::from(units.max(1)), per.max(Duration::from_millis(1)))),
        ThrottleLimit::Documented => {
            let users = st.users.values().filter(|u| u.deleted.is_none()).count();
            let units = if users < 50 {
                3500.0
            } else if users <= 500 {
                5000.0
            } else {
                8000.0
            };
            Some((units, Duration::from_secs(10)))
        }
    }
}

/// What charging a request did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Charge {
    /// Let through; `Some(p)` when consumption is above 80 % of the quota.
    Allowed(Option<f64>),
    /// Throttled: wait this many seconds.
    Throttled(u64),
}

/// Takes `cost` units from the app's bucket, refilled for the time passed. The bucket's size is set when the app
/// first calls (the tenant's size class rarely changes, and counting users on every request would not scale).
pub(crate) fn charge(st: &mut State, app: &str, cost: u32) -> Charge {
    if st.settings.throttle == ThrottleLimit::Unlimited {
        return Charge::Allowed(None);
    }
    let now = st.clock.now();
    let key = (app.to_owned(), st.tenant_id.clone());
    if !st.buckets.contains_key(&key) {
        let Some((capacity, per)) = quota(st) else { return Charge::Allowed(None) };
        st.buckets.insert(key.clone(), Bucket { units: capacity, updated: now, capacity, per });
    }
    let Some(bucket) = st.buckets.get_mut(&key) else { return Charge::Allowed(None) };
    let (capacity, rate) = (bucket.capacity, bucket.capacity / bucket.per.as_secs_f64());
    let elapsed = now.saturating_sub(bucket.updated).as_secs_f64();
    bucket.units = (bucket.units + elapsed * rate).min(capacity);
    bucket.updated = now;
    let cost = f64::from(cost).min(capacity);
    if bucket.units + 1e-9 >= cost {
        bucket.units -= cost;
        let used = (capacity - bucket.units) / capacity;
        Charge::Allowed((used > 0.8).then_some(used.min(1.8)))
    } else {
        let wait = ((cost - bucket.units) / rate).ceil().max(1.0);
        Charge::Throttled(wait as u64)
    }
}

/// The 429 answer (Graph v1.0 "Microsoft Graph throttling guidance": "HTTP status code 429 Too Many Requests"
/// with a `Retry-After` header).
pub(crate) fn throttled(ctx: &Ctx, app: &str, tenant: &str, cost: u32, wait: u64) -> Response {
    let error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests. The application has exhausted its resource unit quota for this tenant; retry after the \
         number of seconds in the Retry-After header.",
    )
    .with_header(header::RETRY_AFTER, wait.to_string())
    .with_header(HeaderName::from_static("x-ms-resource-unit"), cost.to_string())
    .with_header(HeaderName::from_static("x-ms-throttle-scope"), format!("Tenant_Application/ReadWrite/{app}/{tenant}"))
    .with_header(HeaderName::from_static("x-ms-throttle-information"), "ResourceUnitLimitExceeded");
    ctx.finish(Err(error))
}

/// axum middleware (a route layer, so the route template is known): charges every Graph request of a valid token
/// to its app's bucket, answers 429 when the bucket is empty, and adds the resource unit headers.
pub(crate) async fn layer(AxState(fake): AxState<FakeGraph>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default();
    let cost = request_cost(request.method(), &route, request.uri().query());
    let token = bearer(request.headers());
    let outcome = token.and_then(|t| {
        fake.with_state(|st| {
            let app = super::auth::app_of(st, &t)?;
            let tenant = st.tenant_id.clone();
            Some((charge(st, &app, cost), app, tenant))
        })
    });
    let percentage = match outcome {
        Some((Charge::Throttled(wait), app, tenant)) => {
            let ctx = Ctx::from_headers(&fake, request.headers(), request.uri().path());
            return throttled(&ctx, &app, &tenant, cost, wait);
        }
        Some((Charge::Allowed(p), ..)) => p,
        None => None,
    };
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert("x-ms-resource-unit", HeaderValue::from(cost));
    if let Some(p) = percentage
        && let Ok(v) = HeaderValue::from_str(&format!("{p:.2}"))
    {
        h.insert("x-ms-throttle-limit-percentage", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_documented_table() {
        let get = Method::GET;
        assert_eq!(request_cost(&get, "/v1.0/users", None), 2);
        assert_eq!(request_cost(&get, "/v1.0/users", Some("$select=id")), 1);
        assert_eq!(request_cost(&get, "/v1.0/users/{id}", Some("$select=id")), 1, "never below 1");
        assert_eq!(request_cost(&get, "/v1.0/groups/{id}/members/{cast}", None), 3);
        assert_eq!(request_cost(&get, "/v1.0/groups/{id}/transitiveMembers/{cast}", Some("$select=id&$top=999")), 4);
        assert_eq!(request_cost(&get, "/v1.0/groups/{id}/transitiveMembers", Some("$top=5")), 4);
        assert_eq!(request_cost(&get, "/v1.0/me/transitiveMemberOf/{cast}", Some("$expand=x")), 3);
        assert_eq!(request_cost(&get, "/v1.0/groups", None), 1);
        assert_eq!(request_cost(&get, "/v1.0/users/delta", Some("$select=id")), 1);
    }
}

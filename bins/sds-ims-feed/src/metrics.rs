//! Prometheus text metrics: requests by route and status, the roster version served, and the snapshot's age.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

/// Counters shared by the access log and `/metrics`.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    loaded: Mutex<(u64, Instant)>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics { requests: Mutex::new(BTreeMap::new()), loaded: Mutex::new((0, Instant::now())) }
    }
}

impl Metrics {
    /// Counts a request to `route` (a route template such as `/ims/oneroster/v1p1/users/{id}`, never a raw path).
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((route.to_owned(), status)).or_default() += 1;
        }
    }

    /// Records that snapshot `version` is now served.
    pub fn loaded(&self, version: u64) {
        if let Ok(mut loaded) = self.loaded.lock() {
            *loaded = (version, Instant::now());
        }
    }

    /// How many requests `route` answered with `status`.
    pub fn count(&self, route: &str, status: u16) -> u64 {
        self.requests.lock().ok().and_then(|m| m.get(&(route.to_owned(), status)).copied()).unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "# HELP sds_ims_feed_requests_total HTTP requests by route and status.");
        let _ = writeln!(text, "# TYPE sds_ims_feed_requests_total counter");
        if let Ok(map) = self.requests.lock() {
            for ((route, status), n) in map.iter() {
                let _ = writeln!(text, "sds_ims_feed_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        let (version, at) = self.loaded.lock().map(|l| *l).unwrap_or((0, Instant::now()));
        let _ = writeln!(text, "# HELP sds_ims_feed_roster_version The roster version served.");
        let _ = writeln!(text, "# TYPE sds_ims_feed_roster_version gauge");
        let _ = writeln!(text, "sds_ims_feed_roster_version {version}");
        let _ =
            writeln!(text, "# HELP sds_ims_feed_snapshot_age_seconds Seconds since the served snapshot was loaded.");
        let _ = writeln!(text, "# TYPE sds_ims_feed_snapshot_age_seconds gauge");
        let _ = writeln!(text, "sds_ims_feed_snapshot_age_seconds {:.3}", at.elapsed().as_secs_f64());
        text
    }
}

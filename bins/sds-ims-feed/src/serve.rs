//! `serve`: the OneRoster router over HTTPS (or plain HTTP behind a TLS-terminating proxy), with an access log,
//! `/healthz`, `/metrics`, reloads of the snapshot when the store's roster version changes, and graceful shutdown.

use crate::metrics::Metrics;
use crate::tls::Identity;
use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use oneroster_server::{AppState, BASE_PATH, ServerConfig, SnapshotHandle, TOKEN_PATH};
use roster_store::Store;
use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

/// How the server speaks to clients.
#[derive(Debug)]
pub enum Transport {
    /// HTTPS with this certificate.
    Tls(Identity),
    /// Plain HTTP: only behind a proxy that terminates TLS (SDS requires HTTPS).
    InsecureHttp,
}

/// What to serve and how.
#[derive(Debug)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// TLS or plain HTTP.
    pub transport: Transport,
    /// The public URL clients use, for every `href` (e.g. `https://feed.example`).
    pub public_url: Option<String>,
    /// How often to check the store for a new roster version (PostgreSQL is also notified at once).
    pub poll: Duration,
    /// Trust `X-Forwarded-*` headers (behind a proxy).
    pub trust_forwarded: bool,
}

/// A running server: its address, and a way to stop it.
#[derive(Debug)]
pub struct Running {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The shared metrics.
    pub metrics: Arc<Metrics>,
    /// The snapshot handle it serves.
    pub snapshots: SnapshotHandle,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    reloader: JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections, lets requests in flight finish (up to 10 s), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.reloader.abort();
        let _ = self.task.await;
    }
}

/// Opens the store's snapshot, binds, and serves in the background until [`Running::shutdown`].
pub async fn start(store: Store, options: ServeOptions) -> anyhow::Result<Running> {
    // Watch first, then load: an import between the two is then seen by the watcher.
    let mut watcher = store.watch_roster(options.poll).await.context("cannot watch the roster version")?;
    let snapshot = oneroster_server::load_snapshot(&store).await.context("cannot load the roster")?;
    let snapshots = SnapshotHandle::new(snapshot);
    let metrics = Arc::new(Metrics::default());
    metrics.loaded(snapshots.version());

    let https = matches!(options.transport, Transport::Tls(_));
    let mut config = ServerConfig::default().default_scheme(https).trust_forwarded_headers(options.trust_forwarded);
    if let Some(url) = &options.public_url {
        config = config.public_base_url(url).context("--public-url")?;
    }
    let state = AppState::builder(snapshots.clone()).config(config).clients(store.clone()).build();
    let router = router(state, metrics.clone());

    let reloader = {
        let (store, snapshots, metrics) = (store.clone(), snapshots.clone(), metrics.clone());
        let poll = options.poll;
        tokio::spawn(async move {
            loop {
                match watcher.changed().await {
                    Ok(_) => match oneroster_server::refresh(&store, &snapshots).await {
                        Ok(version) => metrics.loaded(version),
                        Err(e) => tracing::warn!(error = %e, "cannot reload the roster; still serving the old one"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the roster version; retrying");
                        tokio::time::sleep(poll).await;
                    }
                }
            }
        })
    };

    let listener =
        TcpListener::bind(options.listen).await.with_context(|| format!("cannot listen on {}", options.listen))?;
    let addr = listener.local_addr().context("the listening address")?;
    let acceptor = match &options.transport {
        Transport::Tls(identity) => Some(tokio_rustls::TlsAcceptor::from(identity.server_config()?)),
        Transport::InsecureHttp => None,
    };
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, acceptor, router, stopped));
    tracing::info!(%addr, https, version = snapshots.version(), "serving OneRoster 1.1");
    Ok(Running { addr, metrics, snapshots, stop, task, reloader })
}

/// Serves until `shutdown` resolves (SIGINT/SIGTERM in the program), then drains.
pub async fn serve(store: Store, options: ServeOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(store, options).await?;
    shutdown.await;
    tracing::info!("shutting down: finishing requests in flight");
    running.shutdown().await;
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let service = hyper::service::service_fn({
            let router = router.clone();
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request.map(Body::new))
            }
        });
        match &acceptor {
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            None => {
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("some connections did not finish within 10 s; closing them");
    }
}

#[derive(Clone)]
struct Outer {
    metrics: Arc<Metrics>,
    snapshots: SnapshotHandle,
    routes: Arc<HashSet<String>>,
}

/// The full router: the OneRoster app plus `/healthz` and `/metrics`, wrapped in the access log.
pub fn router(state: AppState, metrics: Arc<Metrics>) -> Router {
    let routes: HashSet<String> =
        oneroster_server::endpoint_paths().iter().map(|p| format!("{BASE_PATH}{}", template(p))).collect();
    let outer = Outer { metrics, snapshots: state.snapshots().clone(), routes: Arc::new(routes) };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(outer.clone())
        .merge(oneroster_server::app(state))
        .layer(axum::middleware::from_fn_with_state(outer, access_log))
}

/// `/a/{x}/b/{y}` → `/a/{id}/b/{id}`.
fn template(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') { "{id}" } else { s }).collect::<Vec<_>>().join("/")
}

/// The route a path belongs to, for logs and metrics: ids replaced by `{id}`; unknown paths are `other` (so a
/// scanner cannot blow up the metrics).
fn route_of(path: &str, routes: &HashSet<String>) -> String {
    if matches!(path, "/healthz" | "/metrics") || path == TOKEN_PATH {
        return path.to_owned();
    }
    if let Some(rest) = path.strip_prefix(BASE_PATH) {
        let parts: Vec<&str> = rest.split('/').collect();
        // "", collection, id, collection, id, …
        let normalised: Vec<&str> =
            parts.iter().enumerate().map(|(i, s)| if i > 0 && i % 2 == 0 { "{id}" } else { *s }).collect();
        let route = format!("{BASE_PATH}{}", normalised.join("/"));
        if routes.contains(&route) {
            return route;
        }
    }
    "other".to_owned()
}

async fn access_log(State(outer): State<Outer>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = route_of(request.uri().path(), &outer.routes);
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    outer.metrics.request(&route, status);
    // The path template only: never the query (OAuth 1.0a signatures may travel there) nor any header.
    tracing::info!(
        target: "access",
        %method,
        route,
        status,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        peer = peer.map(|p| p.to_string()),
        "request"
    );
    response
}

async fn healthz(State(outer): State<Outer>) -> Response {
    let body = serde_json::json!({ "status": "ok", "rosterVersion": outer.snapshots.version() });
    axum::Json(body).into_response()
}

async fn metrics_text(State(outer): State<Outer>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], outer.metrics.render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates() {
        let routes: HashSet<String> =
            oneroster_server::endpoint_paths().iter().map(|p| format!("{BASE_PATH}{}", template(p))).collect();
        assert_eq!(route_of("/ims/oneroster/v1p1/users", &routes), "/ims/oneroster/v1p1/users");
        assert_eq!(
            route_of("/ims/oneroster/v1p1/schools/s1/classes", &routes),
            "/ims/oneroster/v1p1/schools/{id}/classes"
        );
        assert_eq!(route_of("/ims/oneroster/v1p1/nope/x", &routes), "other");
        assert_eq!(route_of("/wp-admin", &routes), "other");
        assert_eq!(route_of("/oauth/token", &routes), "/oauth/token");
    }
}

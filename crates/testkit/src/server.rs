//! Running a fake on `127.0.0.1:0`, in-process.

use axum::Router;
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A fake listening on a free loopback port until dropped or stopped.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Serves `router` on `127.0.0.1:0`.
    pub async fn start(router: Router) -> std::io::Result<RunningServer> {
        RunningServer::start_on("127.0.0.1:0".parse().map_err(std::io::Error::other)?, router).await
    }

    /// Serves `router` on a given address (the standalone binaries use a fixed port).
    pub async fn start_on(addr: SocketAddr, router: Router) -> std::io::Result<RunningServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "fake server stopped with an error");
            }
        });
        Ok(RunningServer { addr, shutdown: Some(tx), task: Some(task) })
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

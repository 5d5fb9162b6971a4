//! Graceful shutdown: SIGINT (Ctrl-C) or SIGTERM asks every part of the program to stop; a run in progress is
//! finished or cancelled cleanly.

use tokio::sync::watch;

/// A shutdown request that any number of tasks can wait for. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Asks for a shutdown.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(std::sync::Arc<watch::Sender<bool>>);

impl ShutdownTrigger {
    /// Asks every [`Shutdown`] of this pair to stop.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// A shutdown that only `trigger` asks for (tests, the demo).
    pub fn manual() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(std::sync::Arc::new(tx)), Shutdown(rx))
    }

    /// A shutdown asked for by SIGINT or SIGTERM (on Windows, Ctrl-C). A second signal ends the process at once
    /// (exit status 130). Must be called inside a tokio runtime.
    pub fn on_signals() -> Shutdown {
        let (trigger, shutdown) = Shutdown::manual();
        tokio::spawn(async move {
            signal().await;
            tracing::info!("shutdown requested; finishing or cancelling the work in progress");
            trigger.trigger();
            signal().await;
            tracing::warn!("second shutdown request: stopping now");
            std::process::exit(130);
        });
        shutdown
    }

    /// Whether a shutdown has been asked for.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until a shutdown is asked for (for ever if it never is).
    pub async fn wait(&mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            // Every trigger is gone without asking: nothing will ever ask.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(unix)]
async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the program");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn signal() {
    let _ = tokio::signal::ctrl_c().await;
}

//! The signals that stop a live run: Ctrl-C (SIGINT), and on unix SIGTERM and SIGHUP too (a
//! closed terminal window, a `kill`). Each ends the drill as the user's stop, so the recording
//! is finished and the terminal given back as on any other way out.

#[cfg(unix)]
use anyhow::Context;
use anyhow::Result;

/// The stop signals, listened for from creation on (inside the async runtime).
pub struct StopSignals {
    #[cfg(unix)]
    listeners: [(tokio::signal::unix::Signal, &'static str); 3],
    received: Option<&'static str>,
}

impl StopSignals {
    /// Starts listening. Must be called inside the runtime.
    pub fn new() -> Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name: &'static str| {
                signal(kind)
                    .map(|s| (s, name))
                    .with_context(|| format!("cannot listen for {name}"))
            };
            Ok(StopSignals {
                listeners: [
                    listen(SignalKind::interrupt(), "Ctrl-C")?,
                    listen(SignalKind::terminate(), "SIGTERM")?,
                    listen(SignalKind::hangup(), "SIGHUP")?,
                ],
                received: None,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals { received: None })
        }
    }

    /// Waits for a stop signal; returns its name. Cancel-safe.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        let name = {
            let [(int, a), (term, b), (hup, c)] = &mut self.listeners;
            tokio::select! {
                _ = int.recv() => *a,
                _ = term.recv() => *b,
                _ = hup.recv() => *c,
            }
        };
        #[cfg(not(unix))]
        let name = {
            // Without a listener to fail, a failed registration waits for ever.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        };
        self.received.get_or_insert(name);
        name
    }

    /// The first signal received so far, if any.
    pub fn received(&self) -> Option<&'static str> {
        self.received
    }
}

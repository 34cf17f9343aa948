//! Waiting for the signals that ask berth to stop: Ctrl-C (SIGINT) and SIGTERM. Commands
//! that change the host answer them by undoing what they started; the worker by draining.

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn terminated() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

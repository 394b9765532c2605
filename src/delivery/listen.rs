//! Waking this instance's worker when another instance adds a row: PostgreSQL's
//! LISTEN/NOTIFY on `outbox::NOTIFY_CHANNEL`. While the connection is down the worker polls
//! (`AP_DELIVERY_POLL_INTERVAL`), so a lost notification delays a row, never loses it.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::delivery::outbox::NOTIFY_CHANNEL;

/// The wait after the first failure to connect or listen; doubled after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between tries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The wait after `failures` failures in a row (1-based).
fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

/// Listens until `shutdown`, waking `wake` on each notification; reconnects after a failure
/// to connect, to listen, or of the connection, waiting longer after each failure in a row.
pub async fn listen_for_notifications(database_url: String, wake: Arc<Notify>, shutdown: CancellationToken) {
    use sea_orm::sqlx::postgres::PgListener;
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        if failures > 0 {
            tokio::select! {
                _ = tokio::time::sleep(backoff(failures)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
        let mut listener = match PgListener::connect(&database_url).await {
            Ok(l) => l,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, failures, "LISTEN connection failed; polling meanwhile");
                continue;
            }
        };
        if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
            failures += 1;
            tracing::warn!(error = %e, failures, "LISTEN failed; polling meanwhile");
            continue;
        }
        failures = 0;
        // Rows added while not listening are not notified: a poll's worth of wait at most.
        wake.notify_one();
        loop {
            tokio::select! {
                message = listener.recv() => match message {
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %e, "LISTEN connection lost");
                        break;
                    }
                },
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(7), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}

//! Waiting on a channel that may be absent: a `select!` branch that never fires without one.

use tokio::sync::mpsc;

/// The next message, or never when there is no receiver or its channel has closed (the receiver
/// is then dropped, so later calls do not poll a closed channel).
pub async fn recv_or_never<T>(receiver: &mut Option<mpsc::Receiver<T>>) -> T {
    if let Some(rx) = receiver {
        match rx.recv().await {
            Some(message) => return message,
            None => *receiver = None,
        }
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn messages_come_then_a_closed_or_absent_channel_never_answers() {
        let (tx, rx) = mpsc::channel(1);
        let mut receiver = Some(rx);
        tx.send(7).await.unwrap();
        assert_eq!(recv_or_never(&mut receiver).await, 7);
        drop(tx);
        let wait = tokio::time::timeout(Duration::from_millis(20), recv_or_never(&mut receiver)).await;
        assert!(wait.is_err(), "a closed channel never answers");
        assert!(receiver.is_none(), "and is dropped");
        let mut absent: Option<mpsc::Receiver<u8>> = None;
        let wait = tokio::time::timeout(Duration::from_millis(20), recv_or_never(&mut absent)).await;
        assert!(wait.is_err(), "no channel never answers");
    }
}

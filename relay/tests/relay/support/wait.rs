//! The one wait helper of the relay's tests: poll an observable state (a log line, a metric,
//! the lead API, the fake RTB House) until it is what the test waits for, within a deadline.
//! Tests never sleep a fixed time.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`wait_until`] looks again.
const POLL: Duration = Duration::from_millis(25);

/// Calls `check` until it answers `Ok(value)`, and returns that value. Each `Err(state)` is
/// what was seen instead; past `deadline` this panics with `what` it waited for and the last
/// state seen.
pub async fn wait_until<T, S, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, S>>,
    S: Display,
{
    let until = Instant::now() + deadline;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) if Instant::now() >= until => {
                panic!("waited {deadline:?} for {what}; last seen: {state}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

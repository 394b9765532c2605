//! Time as a dependency: the system clock in production, a settable one in tests, so that
//! signature skew, expiry and retry timing are tested exactly and fast.
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock for tests: it stands still until told to move (`new`), or runs with real time from
/// a start that can be moved (`running`).
#[derive(Debug)]
pub struct ManualClock {
    base: Mutex<DateTime<Utc>>,
    started: Option<std::time::Instant>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            base: Mutex::new(start),
            started: None,
        }
    }

    pub fn running(start: DateTime<Utc>) -> Self {
        Self {
            base: Mutex::new(start),
            started: Some(std::time::Instant::now()),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut base = self.base.lock().unwrap_or_else(|p| p.into_inner());
        *base += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let base = *self.base.lock().unwrap_or_else(|p| p.into_inner());
        match self.started {
            Some(started) => base + Duration::from_std(started.elapsed()).unwrap_or_default(),
            None => base,
        }
    }
}

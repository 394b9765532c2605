//! How hard the worker hits each receiver: per target (scheme, host and port of an HTTP call),
//! at most `AP_DELIVERY_CONCURRENCY_PER_TARGET` attempts in flight from this instance, a pause of
//! every row to a target that answered `429` or `503` with `Retry-After`, and a circuit breaker
//! that pauses a target after `AP_DELIVERY_BREAKER_FAILURES` attempts in a row without an answer
//! (refused, timed out) for the failing row's next retry step, then lets one probe through
//! (half-open) before the rest. Plain code: the worker asks it, and time comes in as arguments.
//!
//! A row the gate holds back waits in memory for a free place as long as its target would take
//! it within [`HOLD`] at its recent pace (its limit per mean attempt time): a fast receiver's
//! backlog stays in hand and drains at full speed. Beyond that — a slow receiver's backlog, or
//! any row for a paused target — it goes back to the table with a later `next_attempt_at` and
//! its lease given up ([`Admission::Defer`]), so it never fills the worker's hands while other
//! receivers' rows wait. The slots handed out are spaced at the target's pace, oldest first, so a
//! backlog comes back at the per-target limit rather than all at once, and a row's ordering key
//! keeps its later rows behind it. A row at its deadline is never held back: the last attempt at
//! the deadline still happens. E-mails go to the one mail relay the server is configured with
//! and are not paced here.
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::delivery::due::Due;
use crate::delivery::outbox::Kind;
use crate::delivery::policy::Verdict;
use crate::delivery::report::AttemptReport;

/// The scheme, host and port an HTTP call goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey(String);

impl TargetKey {
    /// The row's target, or `None` for e-mails (and targets that are not URLs, which fail anyway).
    pub fn of(row: &Due) -> Option<TargetKey> {
        match row.kind {
            Kind::InvitationEmail | Kind::ReminderEmail | Kind::RecruiterNotice => None,
            Kind::Result | Kind::AshbyUpdate | Kind::TestPush => Self::of_url(&row.target),
        }
    }

    /// The key of an http(s) URL: its scheme, host and port (the scheme's default when left
    /// out), read off the text without a full parse (it runs for every attempt). URLs were
    /// parsed and checked when they were accepted.
    pub fn of_url(target: &str) -> Option<TargetKey> {
        let (scheme, rest) = target.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next()?;
        let host_port = authority.rsplit('@').next()?;
        if host_port.is_empty() {
            return None;
        }
        // A port follows the last ':' unless that ':' is inside an IPv6 literal's brackets.
        let has_port = host_port.rfind(':').is_some_and(|i| !host_port[i..].contains(']'));
        let host_port = host_port.to_ascii_lowercase();
        Some(TargetKey(if has_port {
            format!("{scheme}://{host_port}")
        } else {
            format!("{scheme}://{host_port}:{default_port}")
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a target is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseReason {
    /// It answered 429 or 503 with `Retry-After`.
    Throttled(u16),
    /// The breaker opened: attempts in a row got no answer.
    Unreachable,
}

impl PauseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Throttled(429) => "throttled (429 Retry-After)",
            PauseReason::Throttled(_) => "throttled (503 Retry-After)",
            PauseReason::Unreachable => "unreachable (circuit breaker open)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaker {
    Closed,
    /// Paused until its pause ends, then half-open.
    Open,
    /// One probe at a time until an answer closes it.
    HalfOpen,
}

#[derive(Debug)]
struct Target {
    in_flight: usize,
    parked: VecDeque<Due>,
    paused_until: Option<(DateTime<Utc>, PauseReason)>,
    /// Attempts in a row that got no answer.
    failures: u32,
    breaker: Breaker,
    /// The end of the last slot handed to a deferred row: the next one starts there.
    horizon: Option<DateTime<Utc>>,
    /// Recent mean attempt time (exponentially weighted); unknown before the first attempt.
    mean: Option<Duration>,
    /// When it was last asked for or answered.
    seen: DateTime<Utc>,
}

impl Target {
    fn new(now: DateTime<Utc>) -> Self {
        Self {
            seen: now,
            in_flight: 0,
            parked: VecDeque::new(),
            paused_until: None,
            failures: 0,
            breaker: Breaker::Closed,
            horizon: None,
            mean: None,
        }
    }

    fn paused(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.paused_until.map(|(until, _)| until).filter(|until| *until > now)
    }

    /// Attempts that may be in flight now.
    fn room(&self, limit: usize) -> usize {
        let limit = if self.breaker == Breaker::HalfOpen { 1 } else { limit };
        limit.saturating_sub(self.in_flight)
    }

    /// Ends a pause that is over (an open breaker turns half-open).
    fn tick(&mut self, now: DateTime<Utc>) {
        if self.paused_until.is_some_and(|(until, _)| until <= now) {
            self.paused_until = None;
            if self.breaker == Breaker::Open {
                self.breaker = Breaker::HalfOpen;
            }
        }
    }

    /// How long one place takes per row at the recent pace.
    fn spacing(&self, limit: usize) -> chrono::Duration {
        let mean = self.mean.unwrap_or(HOLD).as_secs_f64();
        chrono::Duration::microseconds((mean / limit.max(1) as f64 * 1e6) as i64)
    }

    /// Rows that may wait in memory: as many as the target takes within [`HOLD`] (all of them
    /// while its pace is unknown), at least two per place.
    fn hold(&self, limit: usize) -> usize {
        match self.mean {
            None => usize::MAX,
            Some(mean) => {
                let per_hold = HOLD.as_secs_f64() / mean.as_secs_f64().max(1e-6) * limit as f64;
                (per_hold as usize).max(limit * PARKED_PER_PLACE)
            }
        }
    }

    /// The next slot for a deferred row at or after `from`, at the target's pace.
    fn slot(&mut self, from: DateTime<Utc>, limit: usize) -> DateTime<Utc> {
        let start = self.horizon.map_or(from, |h| h.max(from));
        let spacing = self.mean.unwrap_or(HOLD).as_secs_f64() / limit.max(1) as f64;
        let spacing = chrono::Duration::microseconds((spacing * 1e6) as i64).max(chrono::Duration::milliseconds(1));
        self.horizon = Some(start + spacing);
        start
    }

    /// Nothing to show: no attempt in flight or waiting, no pause, no failures.
    fn quiet(&self, now: DateTime<Utc>) -> bool {
        self.in_flight == 0 && self.parked.is_empty() && self.paused(now).is_none() && self.failures == 0
    }
}

/// An integrator's cap on attempts per second to its targets (`maxDeliveriesPerSecond`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegratorCap {
    pub integrator: uuid::Uuid,
    pub per_second: u32,
}

/// The spacing of one integrator's attempts. `next` is when the next may begin (one interval
/// after the last, as a GCRA without burst); rows that may not begin yet are given slots from
/// `horizon` on, one interval apart, so that they come back at the cap rather than together.
/// (`governor` answers "not until"; it hands out no future slots, which is what this is for.)
#[derive(Debug)]
struct Cadence {
    next: DateTime<Utc>,
    horizon: Option<DateTime<Utc>>,
}

impl Cadence {
    fn interval(per_second: u32) -> chrono::Duration {
        chrono::Duration::microseconds(1_000_000 / i64::from(per_second.max(1)))
    }

    /// `None`: it may begin now (and the next interval is taken); else the slot it is given.
    fn ask(&mut self, per_second: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let interval = Self::interval(per_second);
        if self.next <= now {
            self.next = now + interval;
            return None;
        }
        let slot = self.horizon.filter(|h| *h > self.next).unwrap_or(self.next);
        self.horizon = Some(slot + interval);
        Some(slot)
    }
}

/// What to do with a row.
#[derive(Debug)]
pub enum Admission {
    /// Attempt it now (it holds a place of its target until [`Gate::finished`]).
    Go(Due, Option<TargetKey>),
    /// Kept in memory until its target has room ([`Gate::ready`] gives it back).
    Parked,
    /// Give its lease up and make it due again at this time.
    Defer(Due, DateTime<Utc>),
}

/// What an attempt found that concerns its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status, or `None` when nothing answered.
    pub status: Option<u16>,
    /// Nothing answered and it is worth another try (refused, timed out): counts for the breaker.
    pub unreachable: bool,
    pub retry_after: Option<Duration>,
    /// How long the attempt took.
    pub took: Duration,
    /// The row's next retry step (`RetryPolicy::base_wait` of its failures), the breaker's pause.
    pub retry_step: Duration,
}

impl Answer {
    /// What `report` says of its target; `retry_step` is the row's next retry step.
    pub fn of(report: &AttemptReport, took: Duration, retry_step: Duration) -> Self {
        Self {
            status: report.status,
            unreachable: report.status.is_none() && report.verdict == Verdict::Retry,
            retry_after: report.retry_after,
            took,
            retry_step,
        }
    }
}

/// A target's state, as the admin API and metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetState {
    pub target: TargetKey,
    pub in_flight: usize,
    pub waiting: usize,
    pub paused_until: Option<DateTime<Utc>>,
    pub reason: Option<PauseReason>,
    pub breaker: &'static str,
    pub consecutive_failures: u32,
}

/// The per-target limits of one worker.
#[derive(Debug)]
pub struct Gate {
    per_target: usize,
    breaker_after: u32,
    targets: HashMap<TargetKey, Target>,
    /// Targets with parked rows, in turn.
    turns: VecDeque<TargetKey>,
    /// Integrators with a cap on attempts per second.
    cadences: HashMap<uuid::Uuid, Cadence>,
}

/// Rows kept in memory per target and place at least.
const PARKED_PER_PLACE: usize = 2;

/// How long a quiet target's pace is remembered.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// How long a row may wait in memory for its target at the target's recent pace.
pub const HOLD: Duration = Duration::from_secs(1);

impl Gate {
    pub fn new(per_target: usize, breaker_after: u32) -> Self {
        Self {
            per_target: per_target.max(1),
            breaker_after: breaker_after.max(1),
            targets: HashMap::new(),
            turns: VecDeque::new(),
            cadences: HashMap::new(),
        }
    }

    /// Rows parked in memory.
    pub fn parked(&self) -> usize {
        self.targets.values().map(|t| t.parked.len()).sum()
    }

    /// What to do with `row`, whose integrator may cap its attempts per second (`cap`).
    pub fn admit(&mut self, row: Due, now: DateTime<Utc>, cap: Option<IntegratorCap>) -> Admission {
        let Some(key) = TargetKey::of(&row) else {
            return Admission::Go(row, None);
        };
        let limit = self.per_target;
        if !self.targets.contains_key(&key) {
            self.targets.insert(key.clone(), Target::new(now));
        }
        let Some(target) = self.targets.get_mut(&key) else {
            return Admission::Go(row, None);
        };
        target.seen = now;
        target.tick(now);
        // The last attempt at the deadline is never held back by a pause.
        let at_deadline = row.deadline_at.is_some_and(|d| d <= now);
        if let Some(until) = target.paused(now)
            && !at_deadline
        {
            let at = clamp(target.slot(until, limit), &row);
            return Admission::Defer(row, at);
        }
        if let Some(cap) = cap
            && !at_deadline
        {
            let cadence = self.cadences.entry(cap.integrator).or_insert(Cadence {
                next: now,
                horizon: None,
            });
            if let Some(slot) = cadence.ask(cap.per_second, now) {
                let at = clamp(slot, &row);
                return Admission::Defer(row, at);
            }
        }
        let Some(target) = self.targets.get_mut(&key) else {
            return Admission::Go(row, None);
        };
        if target.room(limit) > 0 || (at_deadline && target.in_flight < limit) {
            target.in_flight += 1;
            return Admission::Go(row, Some(key));
        }
        if target.parked.len() < target.hold(limit) {
            if target.parked.is_empty() {
                self.turns.push_back(key);
            }
            target.parked.push_back(row);
            return Admission::Parked;
        }
        // Behind the parked rows: after them, at the target's pace.
        let from = now + target.spacing(limit) * i32::try_from(target.parked.len()).unwrap_or(i32::MAX);
        let at = clamp(target.slot(from, limit), &row);
        Admission::Defer(row, at)
    }

    /// A parked row that may go now, targets taking turns; it holds a place like [`Admission::Go`].
    pub fn ready(&mut self, now: DateTime<Utc>) -> Option<(Due, TargetKey)> {
        for _ in 0..self.turns.len() {
            let key = self.turns.pop_front()?;
            let Some(target) = self.targets.get_mut(&key) else {
                continue;
            };
            target.tick(now);
            if target.paused(now).is_none() && target.room(self.per_target) > 0 {
                if let Some(row) = target.parked.pop_front() {
                    target.in_flight += 1;
                    if !target.parked.is_empty() {
                        self.turns.push_back(key.clone());
                    }
                    return Some((row, key));
                }
            } else if !target.parked.is_empty() {
                self.turns.push_back(key);
            }
        }
        None
    }

    /// An attempt to `key` ended with `answer`; returns the parked rows to give back to the
    /// table (a pause began: they are due again after it, at the target's pace).
    pub fn finished(&mut self, key: &TargetKey, answer: Answer, now: DateTime<Utc>) -> Vec<(Due, DateTime<Utc>)> {
        let limit = self.per_target;
        let breaker_after = self.breaker_after;
        let Some(target) = self.targets.get_mut(key) else {
            return Vec::new();
        };
        target.in_flight = target.in_flight.saturating_sub(1);
        target.seen = now;
        let took = answer.took.as_secs_f64();
        target.mean = Some(match target.mean {
            Some(mean) => Duration::from_secs_f64(0.8 * mean.as_secs_f64() + 0.2 * took),
            None => answer.took,
        });
        let pause = match answer.status {
            Some(status) => {
                target.failures = 0;
                target.breaker = Breaker::Closed;
                match (status, answer.retry_after) {
                    (429 | 503, Some(after)) => Some((after, PauseReason::Throttled(status))),
                    _ => None,
                }
            }
            None if !answer.unreachable => None,
            None => {
                target.failures += 1;
                let trips = target.breaker == Breaker::HalfOpen || target.failures >= breaker_after;
                trips.then(|| {
                    target.breaker = Breaker::Open;
                    (answer.retry_step, PauseReason::Unreachable)
                })
            }
        };
        let mut deferred = Vec::new();
        // Now that its pace is known better: rows it would not take within HOLD go back.
        let hold = target.hold(limit);
        if pause.is_none() && target.parked.len() > hold {
            let spacing = target.spacing(limit);
            let from = now + spacing * i32::try_from(hold).unwrap_or(i32::MAX);
            for row in target.parked.split_off(hold) {
                let at = target.slot(from, limit);
                deferred.push((clamp(at, &row), row));
            }
        }
        if let Some((after, reason)) = pause {
            let until = now + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
            let later = target.paused_until.is_none_or(|(current, _)| until > current);
            if later {
                target.paused_until = Some((until, reason));
                target.horizon = None;
            }
            let until = target.paused_until.map_or(until, |(u, _)| u);
            while let Some(row) = target.parked.pop_front() {
                let at = target.slot(until, limit);
                deferred.push((clamp(at, &row), row));
            }
        }
        deferred.into_iter().map(|(at, row)| (row, at)).collect()
    }

    /// A place taken by [`Admission::Go`] or [`Gate::ready`] whose attempt was not made.
    pub fn cancelled(&mut self, key: &TargetKey) {
        if let Some(target) = self.targets.get_mut(key) {
            target.in_flight = target.in_flight.saturating_sub(1);
        }
    }

    /// Forgets targets quiet for [`FORGET_AFTER`] (their pace with them).
    pub fn forget_quiet(&mut self, now: DateTime<Utc>) {
        let before = now - chrono::Duration::from_std(FORGET_AFTER).unwrap_or_default();
        self.targets.retain(|_, t| !(t.quiet(now) && t.seen < before));
    }

    /// Every target with something to show: in flight, waiting, paused or failing.
    pub fn states(&self, now: DateTime<Utc>) -> Vec<TargetState> {
        let mut states: Vec<TargetState> = self
            .targets
            .iter()
            .filter(|(_, t)| !t.quiet(now))
            .map(|(key, t)| {
                let paused = t.paused_until.filter(|(until, _)| *until > now);
                TargetState {
                    target: key.clone(),
                    in_flight: t.in_flight,
                    waiting: t.parked.len(),
                    paused_until: paused.map(|(u, _)| u),
                    reason: paused.map(|(_, r)| r),
                    breaker: match t.breaker {
                        Breaker::Closed => "closed",
                        Breaker::Open => "open",
                        Breaker::HalfOpen => "half-open",
                    },
                    consecutive_failures: t.failures,
                }
            })
            .collect();
        states.sort_by(|a, b| a.target.cmp(&b.target));
        states
    }
}

/// The latest states a worker showed (`AP_DELIVERY_*` per instance: each instance its own).
#[derive(Debug, Default)]
pub struct TargetBoard {
    states: std::sync::Mutex<Vec<TargetState>>,
}

impl TargetBoard {
    /// Shows `states` (and in `metrics`), forgetting targets no longer among them.
    pub fn publish(&self, states: Vec<TargetState>, metrics: &crate::metrics::Metrics, now: DateTime<Utc>) {
        let Ok(mut shown) = self.states.lock() else { return };
        for gone in shown
            .iter()
            .filter(|old| !states.iter().any(|s| s.target == old.target))
        {
            metrics.forget_target(gone.target.as_str());
        }
        for s in &states {
            let paused = s.paused_until.is_some_and(|u| u > now);
            metrics.show_target(s.target.as_str(), s.in_flight, s.waiting, paused, s.breaker != "closed");
        }
        *shown = states;
    }

    pub fn snapshot(&self) -> Vec<TargetState> {
        self.states.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The pause of `target` still running at `now`, if any.
    pub fn pause_of(&self, target: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, PauseReason)> {
        let key = TargetKey::of_url(target)?;
        let states = self.states.lock().ok()?;
        let state = states.iter().find(|s| s.target == key)?;
        Some((state.paused_until.filter(|u| *u > now)?, state.reason?))
    }
}

/// A deferral never moves a row past its deadline: its last attempt happens then.
fn clamp(at: DateTime<Utc>, row: &Due) -> DateTime<Utc> {
    row.deadline_at.map_or(at, |deadline| at.min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap_or_default()
    }

    fn row(target: &str, n: u128) -> Due {
        Due {
            id: Uuid::from_u128(n),
            kind: Kind::Result,
            organization_id: None,
            assessment_id: None,
            ordering_key: format!("k{n}"),
            target: target.into(),
            payload: "{}".into(),
            attempts: 0,
            replay_base: 0,
            next_attempt_at: at(0),
            first_attempt_at: None,
            deadline_at: None,
            lease_expires_at: None,
        }
    }

    const SLOW: &str = "http://slow.example:8080/results";
    const FAST: &str = "https://fast.example/hook";

    fn answer(status: Option<u16>, retry_after: Option<u64>) -> Answer {
        Answer {
            status,
            unreachable: status.is_none(),
            retry_after: retry_after.map(Duration::from_secs),
            took: Duration::from_millis(100),
            retry_step: Duration::from_secs(30),
        }
    }

    fn key(url: &str) -> TargetKey {
        TargetKey::of_url(url).unwrap()
    }

    #[test]
    fn targets_are_scheme_host_and_port() {
        assert_eq!(key("https://a.example/x?y").as_str(), "https://a.example:443");
        assert_eq!(key("HTTPS://A.Example").as_str(), "https://a.example:443");
        assert_eq!(key("http://user:pw@a.example:81#f").as_str(), "http://a.example:81");
        assert_eq!(key("http://[::1]/x").as_str(), "http://[::1]:80");
        assert_eq!(key("http://[::1]:8080/x").as_str(), "http://[::1]:8080");
        assert_eq!(TargetKey::of_url("ftp://a.example/"), None);
        assert_eq!(TargetKey::of_url("nonsense"), None);
        assert_eq!(key("http://a.example:8080/"), key("http://a.example:8080/other"));
        assert_ne!(key("http://a.example/"), key("https://a.example/"));
        let mut mail = row("ada@example.com", 1);
        mail.kind = Kind::InvitationEmail;
        assert_eq!(TargetKey::of(&mail), None, "e-mails are not paced here");
    }

    fn took(ms: u64) -> Answer {
        Answer {
            took: Duration::from_millis(ms),
            ..answer(Some(200), None)
        }
    }

    #[test]
    fn a_slow_target_holds_its_share_and_other_targets_go_at_once() {
        let mut gate = Gate::new(2, 5);
        // Its pace: one attempt took a second.
        assert!(matches!(gate.admit(row(SLOW, 100), at(0), None), Admission::Go(..)));
        gate.finished(&key(SLOW), took(1_000), at(1_000));
        let mut gone = 0;
        let mut deferred = Vec::new();
        for n in 0..10 {
            match gate.admit(row(SLOW, n), at(1_000), None) {
                Admission::Go(..) => gone += 1,
                Admission::Parked => {}
                Admission::Defer(_, when) => deferred.push(when),
            }
        }
        assert_eq!(gone, 2, "the per-target limit");
        assert_eq!(
            gate.parked(),
            4,
            "what it takes within a second, at least two per place"
        );
        assert_eq!(deferred.len(), 4);
        assert!(deferred[0] >= at(3_000), "after the parked ones: {deferred:?}");
        assert!(
            deferred.windows(2).all(|w| w[0] < w[1]),
            "spaced, oldest first: {deferred:?}"
        );
        assert!(matches!(
            gate.admit(row(FAST, 99), at(1_000), None),
            Admission::Go(_, Some(_))
        ));
        // A finished attempt frees a place for the oldest parked row.
        assert!(gate.ready(at(1_001)).is_none());
        gate.finished(&key(SLOW), took(1_000), at(2_000));
        let (next, _) = gate.ready(at(2_000)).expect("a parked row goes");
        assert_eq!(next.id, Uuid::from_u128(2));
    }

    #[test]
    fn a_fast_targets_backlog_stays_in_hand() {
        let mut gate = Gate::new(2, 5);
        assert!(matches!(gate.admit(row(FAST, 100), at(0), None), Admission::Go(..)));
        gate.finished(&key(FAST), took(1), at(1));
        let held = (0..500)
            .filter(|n| !matches!(gate.admit(row(FAST, *n), at(1), None), Admission::Defer(..)))
            .count();
        assert_eq!(held, 500, "it takes them all within a second");
        // Its pace drops to a second per attempt: what it would not take within a second goes.
        let deferred = gate.finished(&key(FAST), took(5_000), at(5_001));
        assert!(!deferred.is_empty() && gate.parked() < 500, "{}", gate.parked());
    }

    #[test]
    fn retry_after_pauses_every_row_to_the_target_then_releases_them_at_its_pace() {
        let mut gate = Gate::new(2, 5);
        for n in 0..6 {
            gate.admit(row(SLOW, n), at(0), None);
        }
        let deferred = gate.finished(&key(SLOW), answer(Some(429), Some(5)), at(10));
        assert_eq!(deferred.len(), 4, "the parked rows go back to the table");
        let times: Vec<_> = deferred.iter().map(|(_, t)| *t).collect();
        assert_eq!(times[0], at(5_010), "none before the pause ends");
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        // A row claimed meanwhile waits for the pause too; the one in flight may finish.
        assert!(matches!(gate.admit(row(SLOW, 7), at(20), None), Admission::Defer(_, t) if t > times[3]));
        let states = gate.states(at(20));
        assert_eq!(states[0].reason, Some(PauseReason::Throttled(429)));
        assert_eq!(states[0].paused_until, Some(at(5_010)));
        // After the pause, rows go again.
        assert!(matches!(gate.admit(row(SLOW, 8), at(5_010), None), Admission::Go(..)));
    }

    #[test]
    fn an_integrators_cap_spaces_its_attempts_across_targets() {
        let mut gate = Gate::new(8, 5);
        let cap = Some(IntegratorCap {
            integrator: Uuid::from_u128(7),
            per_second: 4,
        });
        let mut slots = Vec::new();
        for n in 0..6 {
            let target = if n % 2 == 0 { SLOW } else { FAST };
            match gate.admit(row(target, n), at(0), cap) {
                Admission::Go(..) => slots.push(at(0)),
                Admission::Defer(_, slot) => slots.push(slot),
                Admission::Parked => panic!("room at both targets"),
            }
        }
        assert_eq!(slots, [0, 250, 500, 750, 1_000, 1_250].map(at), "one every 250 ms");
        // A deferred row coming back at its slot goes.
        assert!(matches!(gate.admit(row(SLOW, 1), at(250), cap), Admission::Go(..)));
        // Another integrator is not held back by it.
        assert!(matches!(gate.admit(row(SLOW, 9), at(0), None), Admission::Go(..)));
    }

    #[test]
    fn a_pause_never_holds_back_the_last_attempt_at_the_deadline() {
        let mut gate = Gate::new(2, 5);
        gate.admit(row(SLOW, 0), at(0), None);
        gate.finished(&key(SLOW), answer(Some(503), Some(3_600)), at(0));
        let mut last = row(SLOW, 1);
        last.deadline_at = Some(at(1_000));
        assert!(matches!(gate.admit(last.clone(), at(1_000), None), Admission::Go(..)));
        // Before its deadline it is deferred, but never past it.
        let mut early = row(SLOW, 2);
        early.deadline_at = Some(at(2_000));
        assert!(matches!(gate.admit(early, at(500), None), Admission::Defer(_, t) if t == at(2_000)));
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_probes_once_and_closes_on_an_answer() {
        let mut gate = Gate::new(4, 3);
        let slow = key(SLOW);
        for n in 0..3 {
            assert!(matches!(gate.admit(row(SLOW, n), at(0), None), Admission::Go(..)));
        }
        gate.finished(&slow, answer(None, None), at(1));
        gate.finished(&slow, answer(None, None), at(2));
        assert!(
            matches!(gate.admit(row(SLOW, 10), at(3), None), Admission::Go(..)),
            "still closed"
        );
        gate.finished(&slow, answer(None, None), at(3));
        assert_eq!(gate.states(at(3))[0].breaker, "open");
        assert_eq!(
            gate.states(at(3))[0].paused_until,
            Some(at(30_003)),
            "the row's retry step"
        );
        assert!(matches!(gate.admit(row(SLOW, 11), at(4), None), Admission::Defer(..)));
        // The attempt still in flight fails too: the pause runs from its failure.
        gate.finished(&slow, answer(None, None), at(5));
        assert_eq!(gate.states(at(5))[0].paused_until, Some(at(30_005)));
        // Half-open after the pause: one probe at a time.
        assert!(matches!(gate.admit(row(SLOW, 12), at(30_005), None), Admission::Go(..)));
        assert!(matches!(gate.admit(row(SLOW, 13), at(30_006), None), Admission::Parked));
        assert_eq!(gate.states(at(30_006))[0].breaker, "half-open");
        // The probe fails: open again. Then a probe answers: closed, and the parked row goes.
        let deferred = gate.finished(&slow, answer(None, None), at(30_010));
        assert_eq!(deferred.len(), 1);
        assert_eq!(gate.states(at(30_010))[0].breaker, "open");
        assert!(matches!(gate.admit(row(SLOW, 14), at(60_010), None), Admission::Go(..)));
        gate.finished(&slow, answer(Some(500), None), at(60_020));
        assert!(gate.states(at(60_020)).is_empty(), "closed and idle: forgotten");
    }
}

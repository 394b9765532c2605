//! Request rate limits: GCRA buckets (a token bucket without a timer) per organisation on the
//! Recruitment API, per organisation's partner key on the Ashby endpoints, and per client
//! address for requests that fail to authenticate.
//!
//! Where the state lives decides what is guaranteed:
//! - one instance on SQLite: in memory, with `governor`'s GCRA;
//! - PostgreSQL: the organisation buckets in the shared `rate_limits` table (migration 10). An
//!   instance takes requests from a bucket with one `INSERT … ON CONFLICT DO UPDATE` that lets
//!   through as many as fit (the database's clock, the row locked), for every request waiting
//!   and at least a tenth of the burst (at most 100), and spends what it took ahead of need
//!   within a second or drops it. So instances sharing the database never let an organisation
//!   through more than its limit together, and under load one round trip serves many requests
//!   (one per request cost a third of the orders' throughput on PostgreSQL);
//! - failed authentication: in memory on every backend, per instance (a guesser spread over N
//!   instances gets N times the attempts; the bucket is there to slow guessing, not to meter).
//!
//! Surfaces wrap their routes with [`guard`], which counts every request that ends
//! unauthenticated and refuses it once its address has used up its failed attempts, and writes
//! the `RateLimit-Policy` and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers on every
//! answer. A request whose credentials verify is never refused by the failed-authentication limit
//! (checking a key or a signature is cheap; behind a load balancer many clients may share one
//! address): authentication calls [`RateLimits::admit`] and records what it said with
//! [`admitted`]. The client's address is [`crate::http::client::address`] (`AP_TRUSTED_PROXIES`).
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{NotUntil, Quota, RateLimiter};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::types::OrganizationId;

/// A rate: one request per `per` on average, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    per: Duration,
    burst: NonZeroU32,
}

/// The most a rate may allow, per second and at once.
pub const MAX_RATE: u32 = 1_000_000;

impl Rate {
    /// `per_second` requests a second with bursts of `burst`; both 1 to [`MAX_RATE`].
    pub fn per_second(per_second: u32, burst: u32) -> Option<Self> {
        Self::new(per_second, burst, Duration::from_secs(1))
    }

    /// `per_minute` requests a minute with bursts of `burst`; both 1 to [`MAX_RATE`].
    pub fn per_minute(per_minute: u32, burst: u32) -> Option<Self> {
        Self::new(per_minute, burst, Duration::from_secs(60))
    }

    fn new(count: u32, burst: u32, period: Duration) -> Option<Self> {
        if !(1..=MAX_RATE).contains(&count) {
            return None;
        }
        Some(Self {
            per: period / count,
            burst: NonZeroU32::new(burst).filter(|b| b.get() <= MAX_RATE)?,
        })
    }

    /// An integrator's own rate as stored (`rate_limit_per_second`, `rate_limit_burst`).
    pub fn stored(per_second: Option<i32>, burst: Option<i32>) -> Option<Self> {
        let (per_second, burst) = (u32::try_from(per_second?).ok()?, u32::try_from(burst?).ok()?);
        Self::per_second(per_second, burst)
    }

    /// Requests a second and the burst, as the admin API shows them.
    pub fn per_second_and_burst(self) -> (u32, u32) {
        let per_second = Duration::from_secs(1).as_nanos() / self.per.as_nanos().max(1);
        (u32::try_from(per_second).unwrap_or(MAX_RATE), self.burst.get())
    }

    fn quota(self) -> Quota {
        Quota::with_period(self.per)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(self.burst)
    }

    /// The emission interval and the bucket's size in time, in µs.
    fn micros(self) -> (i64, i64) {
        let interval = i64::try_from(self.per.as_micros()).unwrap_or(i64::MAX).max(1);
        (interval, interval.saturating_mul(i64::from(self.burst.get())))
    }

    /// The policy's window in whole seconds: the time an empty bucket takes to fill.
    fn window_secs(self) -> u64 {
        ceil_secs(self.per * self.burst.get()).max(1)
    }
}

/// What a bucket counts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// An organisation's Recruitment API calls.
    Recruitment(OrganizationId),
    /// The Ashby calls made with an organisation's partner key.
    Ashby(OrganizationId),
}

impl Bucket {
    fn policy(&self) -> &'static str {
        match self {
            Self::Recruitment(_) => "organization",
            Self::Ashby(_) => "partner-key",
        }
    }

    fn key(&self) -> String {
        match self {
            Self::Recruitment(org) => format!("recruitment:{org}"),
            Self::Ashby(org) => format!("ashby:{org}"),
        }
    }
}

/// The policy named in the fields for failed authentication.
const FAILED_AUTH_POLICY: &str = "failed-auth";

/// What a bucket said about one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    policy: &'static str,
    rate: Rate,
    /// Requests left in the bucket after this one.
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset: Duration,
    /// Refused: the wait before a request fits.
    pub retry_after: Option<Duration>,
}

impl Verdict {
    fn allowed(policy: &'static str, rate: Rate, remaining: u32) -> Self {
        Self {
            policy,
            rate,
            remaining,
            reset: rate.per * (rate.burst.get().saturating_sub(remaining)),
            retry_after: None,
        }
    }

    fn refused(policy: &'static str, rate: Rate, wait: Duration) -> Self {
        Self {
            policy,
            rate,
            remaining: 0,
            reset: rate.per * rate.burst.get(),
            retry_after: Some(wait),
        }
    }

    pub fn is_allowed(&self) -> bool {
        self.retry_after.is_none()
    }

    /// `Retry-After` in whole seconds, at least 1, for a refusal.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(|d| ceil_secs(d).max(1))
    }

    /// Did failed authentication (rather than an organisation's rate) refuse it?
    pub fn is_failed_auth(&self) -> bool {
        self.policy == FAILED_AUTH_POLICY
    }

    /// The `RateLimit-Policy` field: the bucket's size and the seconds it takes to fill.
    pub fn policy_field(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.policy,
            self.rate.burst,
            self.rate.window_secs()
        )
    }

    /// The `RateLimit` field: what is left and the seconds until the bucket is full.
    pub fn limit_field(&self) -> String {
        let reset = match self.retry_after_secs() {
            Some(wait) => wait,
            None => ceil_secs(self.reset),
        };
        format!("\"{}\";r={};t={}", self.policy, self.remaining, reset)
    }

    /// Adds the two fields (and `Retry-After` to a refusal) to a response's headers.
    pub fn write_fields(&self, headers: &mut actix_web::http::header::HeaderMap) {
        let fields = [
            (HeaderName::from_static("ratelimit-policy"), self.policy_field()),
            (HeaderName::from_static("ratelimit"), self.limit_field()),
        ];
        for (name, value) in fields {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        if let Some(wait) = self.retry_after_secs() {
            headers.insert(RETRY_AFTER, HeaderValue::from(wait));
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `AP_RATE_LIMIT_*` and `AP_FAILED_AUTH_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    /// Every organisation's rate unless its integrator has its own; `None`: organisations are
    /// not limited.
    pub default: Option<Rate>,
    /// Failed authentication per client address; `None`: not limited.
    pub failed_auth: Option<Rate>,
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

fn keyed<K: std::hash::Hash + Eq + Clone>(rate: Rate) -> Keyed<K> {
    RateLimiter::keyed(rate.quota()).with_middleware::<StateInformationMiddleware>()
}

/// The state of the organisation buckets.
enum Store {
    /// One keyed limiter per distinct rate (an integrator's own, or the default).
    Memory(Mutex<HashMap<Rate, Arc<Keyed<Bucket>>>>),
    Postgres(DatabaseConnection, Arc<Queues>),
}

/// Addresses remembered at most before the old entries are dropped.
const ADDRESSES_KEPT: usize = 10_000;

/// Failed authentication per client address, in memory.
struct FailedAuth {
    rate: Rate,
    limiter: Keyed<IpAddr>,
    /// Addresses that used up their failed attempts, until when: every request from them that
    /// fails to authenticate is refused (and not counted) until then.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

/// The limits of this instance.
pub struct RateLimits {
    default: Option<Rate>,
    store: Store,
    failed_auth: Option<FailedAuth>,
}

/// The statement that takes up to $4 requests from a bucket at once on PostgreSQL: the GCRA with
/// the bucket's theoretical arrival time (`tat`, µs) in `rate_limits`, the database's clock. $2
/// is the emission interval, $3 the bucket's size in time (interval × burst), $5 the burst. It
/// lets through as many as fit (`taken`) and moves the bucket by that much, and returns `taken`
/// and how far ahead of now the bucket then is. (`SET` reads the row as it was.)
const TAKE_SQL: &str = "INSERT INTO rate_limits AS r (key, tat, taken) \
     VALUES ($1, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint + LEAST($4, $5) * $2, LEAST($4, $5)) \
     ON CONFLICT (key) DO UPDATE SET \
       taken = LEAST($4, GREATEST(0, ((EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint + $3 \
               - GREATEST(r.tat, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint)) / $2)), \
       tat = GREATEST(r.tat, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint) \
             + LEAST($4, GREATEST(0, ((EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint + $3 \
               - GREATEST(r.tat, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint)) / $2)) * $2 \
     RETURNING taken, tat - (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint";

/// Why a request's shared bucket could not be read: the statement that served its batch failed
/// (or its task ended), in words shared by every request of the batch.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate-limit statement: {0}")]
    Batch(String),
}

type Answer = tokio::sync::oneshot::Sender<Result<Verdict, String>>;
/// A request waiting for its bucket, with the policy its verdict names.
type Waiting = (Answer, &'static str);
/// A request served from the lease, with what the lease holds after it.
type Served = (Answer, &'static str, usize);

/// How long requests taken from a shared bucket ahead of need stay usable by this instance;
/// unused ones are then dropped (never given to anyone, so the limit still holds).
const LEASE: Duration = Duration::from_secs(1);

/// Requests an instance takes from a shared bucket per statement at least: a tenth of the
/// burst, at most 100 (so that one statement serves many requests under load, while no instance
/// can hold more than a small part of an organisation's burst).
fn chunk(rate: Rate) -> usize {
    usize::try_from(rate.burst.get() / 10).unwrap_or(1).clamp(1, 100)
}

/// A shared bucket as this instance sees it.
#[derive(Default)]
struct Local {
    /// Requests waiting for the next statement.
    waiting: Vec<Waiting>,
    /// A statement runs (its task serves `waiting` next).
    running: bool,
    /// Requests taken from the shared bucket and not used yet, usable until `until`.
    leased: usize,
    until: Option<Instant>,
}

impl Local {
    fn leased_now(&mut self) -> usize {
        if self.until.is_none_or(|until| until <= Instant::now()) {
            self.leased = 0;
        }
        self.leased
    }
}

/// Shared buckets by key. A request is let through from this instance's lease when it holds
/// one; otherwise it waits for the bucket's next statement, which takes what every waiting
/// request needs (at least [`chunk`]) in one round trip, so the row is updated by one
/// statement at a time and a statement serves many requests.
#[derive(Default)]
struct Queues(Mutex<HashMap<String, Local>>);

enum Joined {
    /// Let through from the lease.
    Leased(usize),
    /// Waiting; true when the caller must start the bucket's task.
    Waiting(bool),
}

impl Queues {
    fn join(&self, key: &str, answer: Answer, policy: &'static str) -> Joined {
        let mut buckets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let local = buckets.entry(key.to_owned()).or_default();
        if local.waiting.is_empty() && local.leased_now() > 0 {
            local.leased -= 1;
            return Joined::Leased(local.leased);
        }
        local.waiting.push((answer, policy));
        let start = !std::mem::replace(&mut local.running, true);
        Joined::Waiting(start)
    }

    /// The requests waiting for the next statement, less those the lease serves (returned with
    /// what the lease then holds); when none wait, the task ends.
    fn next_batch(&self, key: &str) -> Option<(Vec<Waiting>, Vec<Served>)> {
        let mut buckets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let local = buckets.get_mut(key)?;
        let mut batch = std::mem::take(&mut local.waiting);
        if batch.is_empty() {
            local.running = false;
            if local.leased_now() == 0 {
                buckets.remove(key);
            }
            return None;
        }
        let from_lease = local.leased_now().min(batch.len());
        let served = batch
            .drain(..from_lease)
            .map(|(answer, policy)| {
                local.leased -= 1;
                (answer, policy, local.leased)
            })
            .collect();
        Some((batch, served))
    }

    fn lease(&self, key: &str, spare: usize) {
        let mut buckets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(local) = buckets.get_mut(key) {
            local.leased = local.leased_now() + spare;
            local.until = Some(Instant::now() + LEASE);
        }
    }
}

impl RateLimits {
    /// Limits kept in memory on SQLite and shared through the database on PostgreSQL.
    pub fn new(settings: LimitSettings, db: &DatabaseConnection) -> Self {
        let store = match db.get_database_backend() {
            DbBackend::Postgres => Store::Postgres(db.clone(), Arc::default()),
            _ => Store::Memory(Mutex::new(HashMap::new())),
        };
        Self {
            default: settings.default,
            store,
            failed_auth: settings.failed_auth.map(|rate| FailedAuth {
                rate,
                limiter: keyed(rate),
                blocked: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Takes one request from `bucket`, at `own` (an integrator's rate) or the default rate.
    /// `None` when organisations are not limited (`AP_RATE_LIMIT_PER_SECOND=off`).
    pub async fn admit(&self, bucket: Bucket, own: Option<Rate>) -> Result<Option<Verdict>, LimitError> {
        let Some(default) = self.default else {
            return Ok(None);
        };
        let rate = own.unwrap_or(default);
        let policy = bucket.policy();
        let verdict = match &self.store {
            Store::Memory(limiters) => {
                let limiter = {
                    let mut limiters = limiters.lock().unwrap_or_else(|e| e.into_inner());
                    limiters.entry(rate).or_insert_with(|| Arc::new(keyed(rate))).clone()
                };
                judge(&limiter, &bucket, policy, rate)
            }
            Store::Postgres(db, queues) => take_shared(db, queues, &bucket, policy, rate).await?,
        };
        Ok(Some(verdict))
    }

    /// A refusal for `ip` while it has used up its failed attempts.
    pub fn blocked(&self, ip: IpAddr) -> Option<Verdict> {
        let failed = self.failed_auth.as_ref()?;
        let mut blocked = failed.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let until = *blocked.get(&ip)?;
        let now = Instant::now();
        if until > now {
            return Some(Verdict::refused(FAILED_AUTH_POLICY, failed.rate, until - now));
        }
        blocked.remove(&ip);
        None
    }

    /// Counts a request from `ip` that ended without authenticating.
    pub fn failed(&self, ip: IpAddr) -> Option<Verdict> {
        let failed = self.failed_auth.as_ref()?;
        if failed.limiter.len() > ADDRESSES_KEPT {
            failed.limiter.retain_recent();
        }
        let verdict = judge(&failed.limiter, &ip, FAILED_AUTH_POLICY, failed.rate);
        if let Some(wait) = verdict.retry_after {
            let mut blocked = failed.blocked.lock().unwrap_or_else(|e| e.into_inner());
            if blocked.len() > ADDRESSES_KEPT {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(ip, Instant::now() + wait);
        }
        Some(verdict)
    }
}

fn judge<K: std::hash::Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K, policy: &'static str, rate: Rate) -> Verdict {
    match limiter.check_key(key) {
        Ok(state) => Verdict::allowed(policy, rate, state.remaining_burst_capacity()),
        Err(not_until) => Verdict::refused(policy, rate, wait(limiter, &not_until)),
    }
}

fn wait<K: std::hash::Hash + Eq + Clone>(
    limiter: &Keyed<K>,
    not_until: &NotUntil<<DefaultClock as Clock>::Instant>,
) -> Duration {
    not_until.wait_time_from(limiter.clock().now())
}

/// Takes one request from a shared bucket: from this instance's lease when it holds one, else
/// through the bucket's task. The task is spawned, not run by this request, so that a request
/// dropped midway (its client went away) cannot leave the others waiting.
async fn take_shared(
    db: &DatabaseConnection,
    queues: &Arc<Queues>,
    bucket: &Bucket,
    policy: &'static str,
    rate: Rate,
) -> Result<Verdict, LimitError> {
    let key = bucket.key();
    let (answer, verdict) = tokio::sync::oneshot::channel();
    match queues.join(&key, answer, policy) {
        Joined::Leased(left) => return Ok(Verdict::allowed(policy, rate, u32::try_from(left).unwrap_or(0))),
        Joined::Waiting(true) => {
            tokio::spawn(serve_bucket(db.clone(), queues.clone(), key, rate));
        }
        Joined::Waiting(false) => {}
    }
    verdict
        .await
        .map_err(|_| LimitError::Batch("the bucket's task ended".into()))?
        .map_err(LimitError::Batch)
}

/// Serves a bucket's waiting requests, one statement per batch, until none wait.
async fn serve_bucket(db: DatabaseConnection, queues: Arc<Queues>, key: String, rate: Rate) {
    while let Some((batch, served)) = queues.next_batch(&key) {
        for (answer, policy, left) in served {
            let _ = answer.send(Ok(Verdict::allowed(policy, rate, u32::try_from(left).unwrap_or(0))));
        }
        if batch.is_empty() {
            continue;
        }
        let wanted = batch.len();
        match take_many(&db, &key, rate, wanted.max(chunk(rate))).await {
            Ok((taken, ahead)) => {
                queues.lease(&key, taken.saturating_sub(wanted));
                for (i, (answer, policy)) in batch.into_iter().enumerate() {
                    let _ = answer.send(Ok(verdict_of(policy, rate, i, taken.min(wanted), ahead)));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for (answer, _) in batch {
                    let _ = answer.send(Err(message.clone()));
                }
            }
        }
    }
}

/// One statement taking up to `n` requests: how many it let through, and how far ahead of now
/// (µs) the bucket then is.
async fn take_many(db: &DatabaseConnection, key: &str, rate: Rate, n: usize) -> Result<(usize, i64), DbErr> {
    let (interval, size) = rate.micros();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            TAKE_SQL,
            [
                key.into(),
                interval.into(),
                size.into(),
                i64::try_from(n).unwrap_or(i64::MAX).into(),
                i64::from(rate.burst.get()).into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the rate-limit row".into()))?;
    let taken: i64 = row.try_get_by_index(0)?;
    let ahead: i64 = row.try_get_by_index(1)?;
    Ok((usize::try_from(taken).unwrap_or(0), ahead))
}

/// The verdict of the `i`-th request of a batch of which the first `taken` got through, the
/// bucket being `ahead` µs ahead of now after it.
fn verdict_of(policy: &'static str, rate: Rate, i: usize, taken: usize, ahead: i64) -> Verdict {
    let (interval, size) = rate.micros();
    if i < taken {
        let left_after_batch = (size - ahead.clamp(0, size)) / interval;
        let remaining = left_after_batch + i64::try_from(taken - 1 - i).unwrap_or(0);
        return Verdict::allowed(policy, rate, u32::try_from(remaining).unwrap_or(0));
    }
    // Refused while the bucket is more than (size − interval) ahead.
    let wait = u64::try_from(ahead - (size - interval)).unwrap_or(0).max(1);
    Verdict::refused(policy, rate, Duration::from_micros(wait))
}

/// What authentication found out about the request's limits, for [`guard`].
#[derive(Clone, Debug)]
pub struct Admitted(pub Option<Verdict>);

/// Records that `req` authenticated, with its bucket's verdict (none when unlimited).
pub fn admitted(req: &HttpRequest, verdict: Option<Verdict>) {
    req.extensions_mut().insert(Admitted(verdict));
}

/// The limits of a surface whose paths start with `prefix`; `refuse` is the surface's 429.
/// A request that ends unauthenticated counts as a failed attempt, and its answer becomes the
/// refusal when its address has none left; one that authenticated keeps the answer its
/// organisation's bucket allowed; every answer carries the fields of its bucket.
pub async fn guard<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    prefix: &str,
    refuse: fn(&Verdict) -> HttpResponse,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let limits = match req.app_data::<web::Data<RateLimits>>() {
        Some(limits) if req.path().starts_with(prefix) => limits.clone(),
        _ => return Ok(next.call(req).await?.map_into_left_body()),
    };
    let ip = crate::http::client::address(req.request());
    let mut response = next.call(req).await?;
    let admitted = response.request().extensions().get::<Admitted>().cloned();
    let verdict = match admitted {
        Some(Admitted(verdict)) => verdict,
        None => ip.and_then(|ip| limits.blocked(ip).or_else(|| limits.failed(ip))),
    };
    match verdict {
        Some(verdict) if !verdict.is_allowed() && verdict.is_failed_auth() => {
            let (req, _) = response.into_parts();
            Ok(ServiceResponse::new(req, refusal(refuse, &verdict)).map_into_right_body())
        }
        Some(verdict) => {
            verdict.write_fields(response.headers_mut());
            Ok(response.map_into_left_body())
        }
        None => Ok(response.map_into_left_body()),
    }
}

fn refusal(refuse: fn(&Verdict) -> HttpResponse, verdict: &Verdict) -> HttpResponse {
    let mut response = refuse(verdict);
    verdict.write_fields(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_bounded() {
        assert!(Rate::per_second(0, 5).is_none());
        assert!(Rate::per_second(5, 0).is_none());
        assert!(Rate::per_second(MAX_RATE + 1, 5).is_none());
        assert_eq!(
            Rate::per_second(20, 50).map(|r| (r.per, r.window_secs())),
            Some((Duration::from_millis(50), 3))
        );
        assert_eq!(Rate::per_minute(60, 10).map(|r| r.per), Some(Duration::from_secs(1)));
        let chunks: Vec<usize> = [(1, 3), (20, 50), (MAX_RATE, MAX_RATE)]
            .into_iter()
            .map(|(n, b)| chunk(Rate::per_second(n, b).unwrap()))
            .collect();
        assert_eq!(chunks, [1, 5, 100]);
    }

    #[test]
    fn a_memory_bucket_lets_the_burst_through_then_refuses_with_a_wait() {
        let rate = Rate::per_second(1, 3).unwrap();
        let limiter = keyed::<Bucket>(rate);
        let bucket = Bucket::Recruitment(uuid::Uuid::nil().into());
        let remaining: Vec<u32> = (0..3)
            .map(|_| judge(&limiter, &bucket, "organization", rate).remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = judge(&limiter, &bucket, "organization", rate);
        assert!(!refused.is_allowed());
        assert_eq!(refused.retry_after_secs(), Some(1));
        assert_eq!(refused.policy_field(), "\"organization\";q=3;w=3");
        assert_eq!(refused.limit_field(), "\"organization\";r=0;t=1");
        // Another bucket is untouched.
        let other = Bucket::Recruitment(uuid::Uuid::from_u128(1).into());
        assert_eq!(judge(&limiter, &other, "organization", rate).remaining, 2);
    }

    #[test]
    fn a_shared_batch_lets_the_first_through_and_tells_the_rest_to_wait() {
        // Burst 3, one a second: a batch of 5 into a bucket with 2 left takes 2.
        let rate = Rate::per_second(1, 3).unwrap();
        let ahead = 3_000_000; // full after taking: 3 s ahead
        let verdicts: Vec<Verdict> = (0..5).map(|i| verdict_of("organization", rate, i, 2, ahead)).collect();
        assert_eq!(
            verdicts.iter().map(|v| v.remaining).collect::<Vec<_>>(),
            [1, 0, 0, 0, 0]
        );
        assert!(verdicts[..2].iter().all(Verdict::is_allowed));
        assert!(
            verdicts[2..]
                .iter()
                .all(|v| v.retry_after == Some(Duration::from_secs(1)))
        );
    }

    #[test]
    fn an_allowed_verdict_says_when_the_bucket_is_full() {
        let rate = Rate::per_second(20, 50).unwrap();
        let v = Verdict::allowed("organization", rate, 47);
        assert_eq!(v.limit_field(), "\"organization\";r=47;t=1");
        assert_eq!(v.retry_after_secs(), None);
        let v = Verdict::allowed("organization", rate, 0);
        assert_eq!(v.limit_field(), "\"organization\";r=0;t=3");
    }
}

//! Request rate limits: GCRA buckets (a token bucket without a timer) per organisation on the
//! Recruitment API, per organisation's partner key on the Ashby endpoints, and per client
//! address for requests that fail to authenticate.
//!
//! Where the state lives decides what is guaranteed:
//! - one instance on SQLite: in memory, with `governor`'s GCRA;
//! - PostgreSQL: the organisation buckets in the shared `rate_limits` table (migration 10), one
//!   `INSERT … ON CONFLICT DO UPDATE … WHERE` per request that moves the bucket's theoretical
//!   arrival time only when the request fits, with the database's clock; so instances sharing
//!   the database share each organisation's limit exactly (the statement locks the bucket's row);
//! - failed authentication: in memory on every backend, per instance (a guesser spread over N
//!   instances gets N times the attempts; the bucket is there to slow guessing, not to meter).
//!
//! Surfaces wrap their routes with [`guard`], which answers for an address that has used up its
//! failed attempts, counts every request that ends unauthenticated, and writes the
//! `RateLimit-Policy` and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers on every
//! answer. Authentication calls [`RateLimits::admit`] and records what it said with [`admitted`].
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
    Postgres(DatabaseConnection),
}

/// Addresses remembered at most before the old entries are dropped.
const ADDRESSES_KEPT: usize = 10_000;

/// Failed authentication per client address, in memory.
struct FailedAuth {
    rate: Rate,
    limiter: Keyed<IpAddr>,
    /// Addresses that used up their failed attempts, until when: every request from them is
    /// refused before its key is looked at, so that guessing cannot go on at full speed.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

/// The limits of this instance.
pub struct RateLimits {
    default: Option<Rate>,
    store: Store,
    failed_auth: Option<FailedAuth>,
}

/// The statement that takes one request from a bucket on PostgreSQL: the GCRA with the
/// bucket's theoretical arrival time (`tat`, µs) in `rate_limits`. $2 is the emission interval,
/// $3 the bucket's size in time (interval × burst). The bucket moves only when the request fits;
/// then it returns how far ahead of now the bucket is (0 < ahead ≤ $3).
const TAKE_SQL: &str = "INSERT INTO rate_limits AS r (key, tat) VALUES ($1, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint + $2) \
     ON CONFLICT (key) DO UPDATE SET tat = GREATEST(r.tat, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint) + $2 \
     WHERE GREATEST(r.tat, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint) + $2 \
           <= (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint + $3 \
     RETURNING tat - (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint";

/// After a refusal: how far ahead of now the bucket is (µs).
const AHEAD_SQL: &str =
    "SELECT tat - (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint FROM rate_limits WHERE key = $1";

impl RateLimits {
    /// Limits kept in memory on SQLite and shared through the database on PostgreSQL.
    pub fn new(settings: LimitSettings, db: &DatabaseConnection) -> Self {
        let store = match db.get_database_backend() {
            DbBackend::Postgres => Store::Postgres(db.clone()),
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
    pub async fn admit(&self, bucket: Bucket, own: Option<Rate>) -> Result<Option<Verdict>, DbErr> {
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
            Store::Postgres(db) => take_shared(db, &bucket, policy, rate).await?,
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

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

async fn take_shared(
    db: &DatabaseConnection,
    bucket: &Bucket,
    policy: &'static str,
    rate: Rate,
) -> Result<Verdict, DbErr> {
    let interval = micros(rate.per).max(1);
    let size = interval.saturating_mul(i64::from(rate.burst.get()));
    let key = bucket.key();
    let taken = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            TAKE_SQL,
            [key.clone().into(), interval.into(), size.into()],
        ))
        .await?;
    if let Some(row) = taken {
        let ahead: i64 = row.try_get_by_index(0)?;
        let remaining = (size - ahead.clamp(0, size)) / interval;
        return Ok(Verdict::allowed(policy, rate, u32::try_from(remaining).unwrap_or(0)));
    }
    let ahead: i64 = match db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            AHEAD_SQL,
            [key.into()],
        ))
        .await?
    {
        Some(row) => row.try_get_by_index(0)?,
        None => size,
    };
    // Refused while the bucket is more than (size − interval) ahead.
    let wait = u64::try_from(ahead - (size - interval)).unwrap_or(0).max(1);
    Ok(Verdict::refused(policy, rate, Duration::from_micros(wait)))
}

/// What authentication found out about the request's limits, for [`guard`].
#[derive(Clone, Debug)]
pub struct Admitted(pub Option<Verdict>);

/// Records that `req` authenticated, with its bucket's verdict (none when unlimited).
pub fn admitted(req: &HttpRequest, verdict: Option<Verdict>) {
    req.extensions_mut().insert(Admitted(verdict));
}

/// The limits of a surface whose paths start with `prefix`; `refuse` is the surface's 429.
/// Requests from an address with no failed attempts left are refused before the handler runs;
/// a request that ends unauthenticated counts as a failed attempt (its answer becomes the
/// refusal when it was one too many); every answer carries the fields of its bucket.
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
    let ip = req.peer_addr().map(|a| a.ip());
    if let Some(verdict) = ip.and_then(|ip| limits.blocked(ip)) {
        return Ok(req.into_response(refusal(refuse, &verdict)).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    let admitted = response.request().extensions().get::<Admitted>().cloned();
    let verdict = match admitted {
        Some(Admitted(verdict)) => verdict,
        None => ip.and_then(|ip| limits.failed(ip)),
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
    fn an_allowed_verdict_says_when_the_bucket_is_full() {
        let rate = Rate::per_second(20, 50).unwrap();
        let v = Verdict::allowed("organization", rate, 47);
        assert_eq!(v.limit_field(), "\"organization\";r=47;t=1");
        assert_eq!(v.retry_after_secs(), None);
        let v = Verdict::allowed("organization", rate, 0);
        assert_eq!(v.limit_field(), "\"organization\";r=0;t=3");
    }
}

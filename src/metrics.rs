//! Prometheus metrics, served at `GET /metrics`. One registry per application (no globals), so
//! that several instances in one process (tests) do not mix their counts.
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub kind: String,
    /// `delivered`, `retry` or `dead`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

/// A delivery target: scheme, host and port.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    pub target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route pattern (`/admin/v1/lenses/{id}`), not the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpRouteLabels {
    pub method: String,
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub deliveries: Family<DeliveryLabels, Counter>,
    pub attempt_seconds: Family<KindLabels, Histogram>,
    pub pending: Gauge,
    pub oldest_pending_seconds: Gauge<f64, AtomicU64>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_seconds: Family<HttpRouteLabels, Histogram>,
    /// 401/403 answers from Ashby: the customer's API key is missing, wrong or lacks permission.
    pub ashby_auth_failures: Counter,
    /// Rows held back from a busy or paused target and given back to the outbox for later.
    pub deliveries_deferred: Counter,
    /// Per target (this instance's worker): attempts in flight, rows waiting in memory, and
    /// whether it is paused (1) by a `Retry-After` or its circuit breaker.
    pub target_in_flight: Family<TargetLabels, Gauge>,
    pub target_waiting: Family<TargetLabels, Gauge>,
    pub target_paused: Family<TargetLabels, Gauge>,
    pub target_breaker_open: Family<TargetLabels, Gauge>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("ap");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by kind and outcome",
            deliveries.clone(),
        );
        let attempt_seconds = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "delivery_attempt_seconds",
            "Duration of one delivery attempt",
            attempt_seconds.clone(),
        );
        let pending = Gauge::default();
        registry.register("deliveries_pending", "Deliveries waiting to be sent", pending.clone());
        let oldest_pending_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "delivery_oldest_pending_age_seconds",
            "Age of the oldest pending delivery",
            oldest_pending_seconds.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        let http_seconds = Family::<HttpRouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_request_seconds", "HTTP request duration", http_seconds.clone());
        let ashby_auth_failures = Counter::default();
        registry.register(
            "ashby_auth_failures",
            "Ashby answered 401/403 to assessment.update (check the customer's API key)",
            ashby_auth_failures.clone(),
        );
        let deliveries_deferred = Counter::default();
        registry.register(
            "deliveries_deferred",
            "Deliveries held back from a busy or paused target and made due later",
            deliveries_deferred.clone(),
        );
        let target = |registry: &mut Registry, name: &str, help: &str| {
            let family = Family::<TargetLabels, Gauge>::default();
            registry.register(name, help, family.clone());
            family
        };
        let target_in_flight = target(
            &mut registry,
            "delivery_target_in_flight",
            "Attempts in flight to a target from this instance",
        );
        let target_waiting = target(
            &mut registry,
            "delivery_target_waiting",
            "Rows waiting in this instance's memory for a place at their target",
        );
        let target_paused = target(
            &mut registry,
            "delivery_target_paused",
            "1 while a target is paused (Retry-After or circuit breaker)",
        );
        let target_breaker_open = target(
            &mut registry,
            "delivery_target_breaker_open",
            "1 while a target's circuit breaker is open or half-open",
        );
        Arc::new(Self {
            ashby_auth_failures,
            deliveries_deferred,
            target_in_flight,
            target_waiting,
            target_paused,
            target_breaker_open,
            registry,
            deliveries,
            attempt_seconds,
            pending,
            oldest_pending_seconds,
            http_requests,
            http_seconds,
        })
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn record_delivery(&self, kind: &str, outcome: &str, seconds: f64) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.attempt_seconds
            .get_or_create(&KindLabels { kind: kind.to_owned() })
            .observe(seconds);
    }

    /// Shows one target's state.
    pub fn show_target(&self, target: &str, in_flight: usize, waiting: usize, paused: bool, breaker_open: bool) {
        let labels = TargetLabels {
            target: target.to_owned(),
        };
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.target_in_flight.get_or_create(&labels).set(count(in_flight));
        self.target_waiting.get_or_create(&labels).set(count(waiting));
        self.target_paused.get_or_create(&labels).set(i64::from(paused));
        self.target_breaker_open
            .get_or_create(&labels)
            .set(i64::from(breaker_open));
    }

    /// Stops showing a target that has nothing left to show.
    pub fn forget_target(&self, target: &str) {
        let labels = TargetLabels {
            target: target.to_owned(),
        };
        for family in [
            &self.target_in_flight,
            &self.target_waiting,
            &self.target_paused,
            &self.target_breaker_open,
        ] {
            family.remove(&labels);
        }
    }

    pub fn record_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_seconds
            .get_or_create(&HttpRouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

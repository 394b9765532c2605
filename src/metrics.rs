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
        Arc::new(Self {
            ashby_auth_failures,
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

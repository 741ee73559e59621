//! The server's metrics, served at `GET /metrics` in the Prometheus (OpenMetrics) text format:
//!
//! - `mlp_serve_requests_total{endpoint, code}`: requests answered, by endpoint (`predict`,
//!   any POST under `/v1/models/`; `status`, `metadata`, `health`, `metrics`, `other`) and
//!   HTTP status code;
//! - `mlp_serve_request_duration_seconds`: predict requests' latency (histogram), from the
//!   request's arrival to its answer;
//! - `mlp_serve_batch_size`: examples per batch run through the model (histogram);
//! - `mlp_serve_instances_total`: examples predicted;
//! - `mlp_serve_model_version`: the version being served (0 before the first one loads);
//! - `mlp_serve_loads_total` and `mlp_serve_load_failures_total`: versions loaded and versions
//!   that failed to load (the previous one kept serving).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The labels of a request count.
type RequestLabels = Vec<(String, String)>;

/// Every metric of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histogram,
    batch_size: Histogram,
    instances: Counter,
    version: Gauge,
    loads: Counter,
    load_failures: Counter,
}

impl Metrics {
    /// Fresh metrics; the batch size buckets go up to `max_batch` (1, 2, 4, ...).
    pub fn new(max_batch: usize) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Histogram::new(exponential_buckets(0.000_1, 2.0, 16));
        let steps = (usize::BITS - max_batch.max(1).leading_zeros()) as u16 + 1;
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, steps));
        let instances = Counter::default();
        let version = Gauge::default();
        let loads = Counter::default();
        let load_failures = Counter::default();
        registry.register(
            "mlp_serve_requests",
            "Requests answered, by endpoint and HTTP status code",
            requests.clone(),
        );
        registry.register(
            "mlp_serve_request_duration_seconds",
            "Latency of predict requests, from arrival to answer",
            latency.clone(),
        );
        registry.register("mlp_serve_batch_size", "Examples per batch run through the model", batch_size.clone());
        registry.register("mlp_serve_instances", "Examples predicted", instances.clone());
        registry.register("mlp_serve_model_version", "The version being served (0: none yet)", version.clone());
        registry.register("mlp_serve_loads", "Versions loaded and swapped in", loads.clone());
        registry.register(
            "mlp_serve_load_failures",
            "Versions that failed to load (the previous one kept serving)",
            load_failures.clone(),
        );
        Metrics { registry, requests, latency, batch_size, instances, version, loads, load_failures }
    }

    /// Counts one answered request.
    pub fn request(&self, endpoint: &str, code: u16) {
        self.requests
            .get_or_create(&vec![("endpoint".into(), endpoint.into()), ("code".into(), code.to_string())])
            .inc();
    }

    /// Records a predict request's latency.
    pub fn latency(&self, seconds: f64) {
        self.latency.observe(seconds);
    }

    /// Records one batch of `size` examples.
    pub fn batch(&self, size: usize) {
        self.batch_size.observe(size as f64);
        self.instances.inc_by(size as u64);
    }

    /// Records a version swapped in.
    pub fn loaded(&self, version: u64) {
        self.version.set(i64::try_from(version).unwrap_or(i64::MAX));
        self.loads.inc();
    }

    /// Records a version that failed to load.
    pub fn load_failed(&self) {
        self.load_failures.inc();
    }

    /// The metrics in the text format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut s, &self.registry);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn renders_every_metric_in_the_text_format() {
        let m = Metrics::new(64);
        m.request("predict", 200);
        m.request("predict", 200);
        m.request("predict", 400);
        m.latency(0.002);
        m.batch(3);
        m.batch(1);
        m.loaded(7);
        m.load_failed();
        let text = m.render();
        for line in [
            "mlp_serve_requests_total{endpoint=\"predict\",code=\"200\"} 2",
            "mlp_serve_requests_total{endpoint=\"predict\",code=\"400\"} 1",
            "mlp_serve_request_duration_seconds_count 1",
            "mlp_serve_batch_size_count 2",
            "mlp_serve_batch_size_sum 4.0",
            "mlp_serve_batch_size_bucket{le=\"1.0\"} 1",
            "mlp_serve_batch_size_bucket{le=\"4.0\"} 2",
            "mlp_serve_batch_size_bucket{le=\"128.0\"} 2",
            "mlp_serve_instances_total 4",
            "mlp_serve_model_version 7",
            "mlp_serve_loads_total 1",
            "mlp_serve_load_failures_total 1",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "no line `{line}` in:\n{text}");
        }
    }
}

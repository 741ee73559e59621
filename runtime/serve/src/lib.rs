//! `mlp-serve`: serves the models that a pipeline's `push` step writes to a serving directory,
//! over HTTP in the shape of TF Serving's REST API (`mlp serve DIR`).
//!
//! - [`layout`]: the serving directory (`versions/N/`, `CURRENT`): reading, checking, listing,
//!   writing a version and switching the current one.
//! - [`version`]: one version loaded, checked and tried before it serves; its predictions go
//!   through the transform and the model exactly as batch inference does.
//! - [`request`]: predict requests (`instances` rows or `inputs` columns) to Arrow batches.
//! - `batcher`: concurrent requests merged into batches of up to `max_batch` examples.
//! - [`metrics`]: Prometheus metrics.
//! - [`server`]: the routes, the watcher that swaps versions in without dropping a request, and
//!   graceful shutdown.
//!
//! Endpoints: `POST /v1/models/NAME:predict` (also `/v1/models/NAME/versions/N:predict`),
//! `GET /v1/models/NAME` (version status), `GET /v1/models/NAME/metadata` (the input columns),
//! `GET /healthz` (200 once a version is loaded, 503 before) and `GET /metrics`.

#![warn(missing_docs)]

mod batcher;
pub mod error;
pub mod layout;
pub mod metrics;
pub mod request;
pub mod server;
pub mod version;

pub use error::ServeError;
pub use server::{Options, Server, start};
pub use version::{Loaded, Predictions};

use std::time::Duration;

/// Parses a duration as the command line takes it: a whole number and a unit, `us`, `ms`, `s`
/// or `m` (`500ms`, `2s`, `0ms`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad = || format!("`{text}` is not a duration: write a whole number and a unit, such as 500ms, 2s or 250us");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match unit.trim() {
        "us" | "µs" => Ok(Duration::from_micros(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(
            parse_duration("500").unwrap_err(),
            "`500` is not a duration: write a whole number and a unit, such as 500ms, 2s or 250us"
        );
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("ms").is_err());
    }
}

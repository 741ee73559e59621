//! The server over real HTTP on loopback, with a transform fitted by `mlp-transform` and a
//! logistic regression trained by `mlp-tensor`: predictions in both request formats against
//! `Model::predict` on the transformed rows; bad requests; starting with nothing pushed; a hot
//! swap under continuous load; half-written and mismatched versions never served; batching of
//! concurrent requests; graceful shutdown.

mod common;

use common::*;
use mlp_serve::layout::{self, version_dir};
use mlp_serve::{Options, Server};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn options(dir: &Path) -> Options {
    let mut o = Options::new(dir);
    o.addr = "127.0.0.1:0".parse().unwrap();
    o.name = Some("taxi".into());
    o.poll = Duration::from_millis(20);
    o
}

async fn serve(o: Options) -> (Server, Http) {
    let server = mlp_serve::start(o).await.unwrap();
    let http = Http::new(server.local_addr());
    (server, http)
}

/// Waits until the server serves `version` (at most 10 s).
async fn until_serving(server: &Server, version: u64) {
    let start = Instant::now();
    while server.version() != Some(version) {
        assert!(start.elapsed() < Duration::from_secs(10), "version {version} not loaded: {:?}", server.load_error());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the last load error contains `needle` (at most 10 s).
async fn until_error(server: &Server, needle: &str) -> String {
    let start = Instant::now();
    loop {
        if let Some(e) = server.load_error().filter(|e| e.contains(needle)) {
            return e;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no load error with {needle:?}: {:?}", server.load_error());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The probability of `true` in each prediction of an answer, checking each prediction's shape.
fn probabilities(answer: &Value) -> Vec<f64> {
    answer["predictions"]
        .as_array()
        .unwrap_or_else(|| panic!("no predictions: {answer}"))
        .iter()
        .map(|p| {
            let p0 = p["probabilities"]["0"].as_f64().unwrap();
            let p1 = p["probabilities"]["1"].as_f64().unwrap();
            assert!((p0 + p1 - 1.0).abs() < 1e-6, "{p}");
            assert_eq!(p["prediction"], if p1 > p0 { 1 } else { 0 }, "{p}");
            p1
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-6, "row {i}: served {g}, Model::predict {w}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_equal_the_model_in_both_request_formats() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = make_version(1, 11, 150);
    push(dir.path(), &v1);
    let (server, http) = serve(options(dir.path())).await;
    assert_eq!(server.version(), Some(1));
    // Rows from another seed, with missing values and the label's input `tips` (ignored).
    let raw = raw_batch(99, 40);
    let want = expected(&v1, &raw);
    // The model learned something: card payers are likelier to tip.
    assert!(want.iter().any(|p| *p > 0.5) && want.iter().any(|p| *p < 0.5), "{want:?}");

    let (status, rows) = http.predict("taxi", &instances(&raw)).await;
    assert_eq!(status, 200, "{rows}");
    assert_eq!(rows["model_version"], "1");
    assert_close(&probabilities(&rows), &want);

    let (status, cols) = http.predict("taxi", &columns(&raw)).await;
    assert_eq!(status, 200, "{cols}");
    assert_eq!(cols["model_version"], "1");
    assert_close(&probabilities(&cols), &want);

    // One instance alone gets the same answer as in the batch of 40.
    let one = raw.slice(7, 1);
    let (_, alone) = http.predict("taxi", &instances(&one)).await;
    assert_close(&probabilities(&alone), &want[7..8]);
    let (_, empty) = http.predict("taxi", &json!({ "instances": [] })).await;
    assert_eq!(empty, json!({ "predictions": [], "model_version": "1" }));

    let (status, text) = http.get("/v1/models/taxi").await.unwrap();
    assert_eq!(status, 200);
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["model_version_status"][0]["version"], "1");
    assert_eq!(s["model_version_status"][0]["state"], "AVAILABLE");
    assert_eq!(s["model_version_status"][0]["transform_digest"], v1.info.transform_digest.as_str());
    assert_eq!(s["model_version_status"].as_array().unwrap().len(), 1);

    let (status, text) = http.get("/v1/models/taxi/metadata").await.unwrap();
    assert_eq!(status, 200);
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        m["metadata"]["inputs"],
        json!([
            { "name": "fare", "type": "float64" },
            { "name": "trip_miles", "type": "float64" },
            { "name": "trip_start_hour", "type": "int64" },
            { "name": "payment_type", "type": "string" },
        ])
    );
    assert_eq!(m["metadata"]["ignored_inputs"], json!(["tips"]));
    assert_eq!(m["metadata"]["classes"], json!(["0", "1"]));

    let (status, text) = http.get("/healthz").await.unwrap();
    assert_eq!((status, text.as_str()), (200, r#"{"model_version":"1","status":"ok"}"#));
    let (status, text) = http.post("/v1/models/taxi/versions/1:predict", &instances(&one).to_string()).await.unwrap();
    assert_eq!(status, 200, "{text}");

    let (status, metrics) = http.get("/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(metric(&metrics, "mlp_serve_requests_total{endpoint=\"predict\",code=\"200\"}"), Some(5.0));
    assert_eq!(metric(&metrics, "mlp_serve_request_duration_seconds_count"), Some(5.0));
    assert_eq!(metric(&metrics, "mlp_serve_instances_total"), Some(40.0 + 40.0 + 1.0 + 1.0));
    assert_eq!(metric(&metrics, "mlp_serve_model_version"), Some(1.0));
    assert_eq!(metric(&metrics, "mlp_serve_load_failures_total"), Some(0.0));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    push(dir.path(), &make_version(1, 11, 20));
    let (server, http) = serve(options(dir.path())).await;
    let cases = [
        (
            json!({ "instances": [{ "fare": 10.0 }, { "fare": 12.0, "trip_mile": 3.0 }] }),
            "instance 1: unknown field `trip_mile` (did you mean `trip_miles`?); the model reads fare, payment_type, trip_miles, trip_start_hour",
        ),
        (
            json!({ "instances": [{ "fare": 10.0 }, { "fare": "12.5" }] }),
            "instance 1: field `fare` must be a number (float64; \"NaN\", \"inf\" and \"-inf\" as strings), not the string \"12.5\"",
        ),
        (
            json!({ "instances": [{ "trip_start_hour": 7.5 }] }),
            "instance 0: field `trip_start_hour` must be an integer (int64), not the number 7.5",
        ),
        (
            json!({ "instances": [{ "payment_type": 3 }] }),
            "instance 0: field `payment_type` must be a string, not the number 3",
        ),
        (
            json!({ "inputs": { "fare": [1.0, 2.0], "trip_miles": [1.0] } }),
            "inputs: field `trip_miles` has 1 values but `fare` has 2: every column needs one value per example",
        ),
        (
            json!({ "rows": [] }),
            "unknown key `rows` in the request: use `instances` (one object per example) or `inputs` (one list per column)",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = http.predict("taxi", &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer, json!({ "error": message }), "{body}");
    }
    let (status, text) = http.post("/v1/models/taxi:predict", "{\"instances\": [").await.unwrap();
    assert_eq!(status, 400);
    assert!(text.contains("the request body is not JSON"), "{text}");

    let (status, answer) = http.predict("boats", &json!({ "instances": [{ "fare": 1.0 }] })).await;
    assert_eq!(status, 404);
    assert_eq!(answer["error"], "no model `boats` here: this server serves `taxi`");
    let (status, text) = http.get("/v1/models/boats").await.unwrap();
    assert_eq!(status, 404, "{text}");
    let (status, text) = http.post("/v1/models/taxi:classify", "{}").await.unwrap();
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("`:classify` is not served"), "{text}");
    let (status, text) = http.post("/v1/models/taxi/versions/2:predict", "{\"instances\": []}").await.unwrap();
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("version 2 of `taxi` is not being served (version 1 is)"), "{text}");
    let (status, text) = http.get("/v2/nothing").await.unwrap();
    assert_eq!(status, 404, "{text}");

    let metrics = server.metrics();
    assert_eq!(metric(&metrics, "mlp_serve_requests_total{endpoint=\"predict\",code=\"400\"}"), Some(7.0));
    assert_eq!(metric(&metrics, "mlp_serve_requests_total{endpoint=\"predict\",code=\"404\"}"), Some(3.0));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_pushed_it_answers_503_until_a_version_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let (server, http) = serve(options(dir.path())).await;
    assert_eq!(server.version(), None);
    let (status, text) = http.get("/healthz").await.unwrap();
    assert_eq!(status, 503, "{text}");
    let (status, answer) = http.predict("taxi", &json!({ "instances": [{ "fare": 1.0 }] })).await;
    assert_eq!(status, 503);
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("nothing is pushed to"), "{message}");
    let (status, text) = http.get("/v1/models/taxi").await.unwrap();
    assert_eq!((status, text.as_str()), (200, r#"{"model_version_status":[]}"#));

    let v1 = make_version(1, 11, 50);
    push(dir.path(), &v1);
    until_serving(&server, 1).await;
    let (status, _) = http.get("/healthz").await.unwrap();
    assert_eq!(status, 200);
    let raw = raw_batch(5, 3);
    let (status, answer) = http.predict("taxi", &instances(&raw)).await;
    assert_eq!(status, 200);
    assert_close(&probabilities(&answer), &expected(&v1, &raw));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_under_load_drops_no_request_and_switches_answers() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = make_version(1, 11, 150);
    // Another transform (fitted on other rows) and another model: different answers.
    let v2 = make_version(2, 23, 10);
    let raw = raw_batch(99, 4);
    let (want1, want2) = (expected(&v1, &raw), expected(&v2, &raw));
    assert!(want1.iter().zip(&want2).all(|(a, b)| (a - b).abs() > 1e-3), "{want1:?} {want2:?}");
    push(dir.path(), &v1);
    let (server, http) = serve(options(dir.path())).await;
    let body = instances(&raw);
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (http, body, stop) = (http.clone(), body.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut seen: Vec<(u16, Value)> = Vec::new();
            // Bounded: at most 20,000 requests or until told to stop.
            while !stop.load(Ordering::Relaxed) && seen.len() < 20_000 {
                seen.push(http.predict("taxi", &body).await);
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    layout::write_version(dir.path(), &v2).unwrap();
    layout::set_current(dir.path(), 2).unwrap();
    until_serving(&server, 2).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, Ordering::Relaxed);
    let mut counts = [0usize; 2];
    for c in clients {
        let seen = c.await.unwrap();
        let mut last = 1;
        for (status, answer) in &seen {
            assert_eq!(*status, 200, "{answer}");
            let version: u64 = answer["model_version"].as_str().unwrap().parse().unwrap();
            // Each client sees version 1, then version 2, never back.
            assert!(version >= last, "version {version} after {last}");
            last = version;
            assert_close(&probabilities(answer), if version == 1 { &want1 } else { &want2 });
            counts[version as usize - 1] += 1;
        }
        assert_eq!(last, 2, "a client never saw version 2");
    }
    assert!(counts[0] > 0 && counts[1] > 0, "{counts:?}");
    let metrics = server.metrics();
    assert_eq!(metric(&metrics, "mlp_serve_loads_total"), Some(2.0));
    assert_eq!(metric(&metrics, "mlp_serve_model_version"), Some(2.0));
    assert_eq!(
        metric(&metrics, "mlp_serve_requests_total{endpoint=\"predict\",code=\"200\"}"),
        Some((counts[0] + counts[1]) as f64)
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_versions_are_not_loaded_and_the_old_one_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = make_version(1, 11, 50);
    push(dir.path(), &v1);
    let (server, http) = serve(options(dir.path())).await;
    let raw = raw_batch(3, 2);
    let want1 = expected(&v1, &raw);
    let write_current = |n: u64| std::fs::write(dir.path().join("CURRENT"), format!("{n}\n")).unwrap();
    let still_v1 = |http: Http, raw: arrow_array::RecordBatch, want: Vec<f64>| async move {
        let (status, answer) = http.predict("taxi", &instances(&raw)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["model_version"], "1");
        assert_close(&probabilities(&answer), &want);
    };

    // A version folder without its weights.
    layout::write_version(dir.path(), &make_version(2, 23, 10)).unwrap();
    std::fs::remove_file(version_dir(dir.path(), 2).join("weights.safetensors")).unwrap();
    write_current(2);
    let error = until_error(&server, "version 2 in").await;
    assert!(error.ends_with("is not complete: `weights.safetensors` is missing"), "{error}");
    still_v1(http.clone(), raw.clone(), want1.clone()).await;
    // It is not tried again on every poll (20 ms): once per change of CURRENT.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(metric(&server.metrics(), "mlp_serve_load_failures_total"), Some(1.0));
    let (_, text) = http.get("/v1/models/taxi").await.unwrap();
    let status: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status["model_version_status"][0]["version"], "1");
    assert_eq!(status["model_version_status"][1]["version"], "2");
    assert_eq!(status["model_version_status"][1]["state"], "END");

    // CURRENT naming a version that does not exist.
    write_current(3);
    until_error(&server, "there is no folder `versions/3`").await;
    still_v1(http.clone(), raw.clone(), want1.clone()).await;

    // A model paired with another transform than the one it was trained on.
    let mut v4 = make_version(4, 23, 10);
    v4.transform_json = fit_graph(31, 500).to_json();
    v4.info.transform_digest = digest(v4.transform_json.as_bytes());
    layout::write_version(dir.path(), &v4).unwrap();
    write_current(4);
    let error = until_error(&server, "version 4").await;
    assert!(
        error.starts_with("version 4 cannot be served: the model was trained on the features of transform"),
        "{error}"
    );
    still_v1(http.clone(), raw.clone(), want1.clone()).await;

    // A transform that does not compile.
    let mut v5 = make_version(5, 23, 10);
    v5.transform_json = v5.transform_json.replace("\"version\": 1", "\"version\": 99");
    layout::write_version(dir.path(), &v5).unwrap();
    write_current(5);
    until_error(&server, "newer than this mlp reads").await;
    still_v1(http.clone(), raw.clone(), want1.clone()).await;
    // CURRENT holding something else than a number.
    std::fs::write(dir.path().join("CURRENT"), "five\n").unwrap();
    until_error(&server, "not a version number").await;
    still_v1(http.clone(), raw.clone(), want1.clone()).await;
    assert_eq!(metric(&server.metrics(), "mlp_serve_load_failures_total"), Some(5.0));

    // Back to the served version (a rollback): the failure is over.
    write_current(1);
    let start = Instant::now();
    while server.load_error().is_some() {
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", server.load_error());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    still_v1(http.clone(), raw.clone(), want1.clone()).await;

    // A complete version then loads.
    let v6 = make_version(6, 23, 10);
    push(dir.path(), &v6);
    until_serving(&server, 6).await;
    assert_eq!(server.load_error(), None);
    let (_, answer) = http.predict("taxi", &instances(&raw)).await;
    assert_eq!(answer["model_version"], "6");
    assert_close(&probabilities(&answer), &expected(&v6, &raw));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_batched_with_the_answers_they_get_alone() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = make_version(1, 11, 150);
    push(dir.path(), &v1);
    let mut o = options(dir.path());
    o.batch_wait = Duration::from_millis(20);
    let (server, http) = serve(o).await;
    let raw = raw_batch(77, 50);
    let bodies: Vec<Value> = (0..50).map(|i| instances(&raw.slice(i, 1))).collect();
    let mut alone = Vec::new();
    for b in &bodies {
        let (status, answer) = http.predict("taxi", b).await;
        assert_eq!(status, 200);
        alone.push(probabilities(&answer)[0]);
    }
    let before = server.metrics();
    assert_eq!(metric(&before, "mlp_serve_batch_size_count"), Some(50.0));
    assert_eq!(metric(&before, "mlp_serve_batch_size_bucket{le=\"1.0\"}"), Some(50.0));

    let tasks: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|b| {
            let http = http.clone();
            tokio::spawn(async move { http.predict("taxi", &b).await })
        })
        .collect();
    let mut together = Vec::new();
    for t in tasks {
        let (status, answer) = t.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        together.push(probabilities(&answer)[0]);
    }
    assert_close(&together, &alone);
    assert_close(&alone, &expected(&v1, &raw));
    let after = server.metrics();
    let batches = metric(&after, "mlp_serve_batch_size_count").unwrap() - 50.0;
    let singles = metric(&after, "mlp_serve_batch_size_bucket{le=\"1.0\"}").unwrap() - 50.0;
    assert_eq!(metric(&after, "mlp_serve_batch_size_sum"), Some(100.0));
    assert!(batches < 50.0 && singles < batches, "{batches} batches for 50 requests, {singles} of one request");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_graceful_and_bad_options_are_named() {
    let dir = tempfile::tempdir().unwrap();
    push(dir.path(), &make_version(1, 11, 10));
    let (server, _) = serve(options(dir.path())).await;
    let addr = server.local_addr();
    // A client sends half a request, then the rest once shutdown has begun.
    let body = instances(&raw_batch(1, 3)).to_string();
    let (half_sent, half_sent_rx) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /v1/models/taxi:predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(&body.as_bytes()[..10]).unwrap();
        half_sent.send(()).unwrap();
        go_rx.recv().unwrap();
        c.write_all(&body.as_bytes()[10..]).unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        answer
    });
    tokio::task::spawn_blocking(move || half_sent_rx.recv().unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let shutdown = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!shutdown.is_finished(), "shutdown did not wait for the request in flight");
    go.send(()).unwrap();
    shutdown.await.unwrap().unwrap();
    let answer = client.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"model_version\": \"1\""), "{answer}");
    assert!(Http::new(addr).get("/healthz").await.is_err(), "still listening after shutdown");

    let mut bad = options(dir.path());
    bad.max_batch = 0;
    assert_eq!(mlp_serve::start(bad).await.unwrap_err().to_string(), "--max-batch: must be at least 1");
    let mut bad = options(dir.path());
    bad.name = Some("a:b".into());
    assert!(mlp_serve::start(bad).await.unwrap_err().to_string().starts_with("--name: `a:b` cannot be a model name"));
    // The default name is the folder's.
    let mut named = options(dir.path());
    named.name = None;
    let s = mlp_serve::start(named).await.unwrap();
    assert_eq!(s.name(), dir.path().canonicalize().unwrap().file_name().unwrap().to_str().unwrap());
    s.shutdown().await.unwrap();
}

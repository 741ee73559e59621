//! The model server under load over loopback: the test fixture's transform and logistic
//! regression served in-process on their own tokio runtime, and a load generator on another
//! runtime sending single-example predict requests with hyper's client, a bounded number of
//! requests (default 10,000) from a fixed number of concurrent clients (default 32). Prints
//! the median and 99th-percentile latency, the throughput and the mean batch size of three runs:
//! batching on (the defaults: up to 64 examples, 2 ms wait); the same, repeated until the
//! current version has been switched between two versions every 200 ms at least 10 times (every
//! answer must be a 200 from one of them, and both must answer); and batching off
//! (`--max-batch 1`).
//!
//! `cargo bench -p mlp-serve --bench serve -- [REQUESTS] [CONCURRENCY]`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mlp_serve::{Options, Server, layout};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one run measured.
struct Run {
    latencies: Vec<Duration>,
    errors: usize,
    by_version: [usize; 2],
    elapsed: Duration,
}

/// Sends `requests` predict requests from `concurrency` clients; each body is one example.
fn load(
    client_rt: &tokio::runtime::Runtime,
    server: &Server,
    bodies: &Arc<Vec<Bytes>>,
    requests: usize,
    concurrency: usize,
) -> Run {
    let url = format!("http://{}/v1/models/taxi:predict", server.local_addr());
    client_rt.block_on(async {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (client, next, bodies, url) = (client.clone(), next.clone(), bodies.clone(), url.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    let mut by_version = [0usize; 2];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= requests {
                            break;
                        }
                        let req = hyper::Request::post(&url)
                            .header("content-type", "application/json")
                            .body(Full::new(bodies[i % bodies.len()].clone()))
                            .unwrap();
                        let t = Instant::now();
                        let answer = match client.request(req).await {
                            Ok(resp) => {
                                let ok = resp.status() == 200;
                                match resp.into_body().collect().await {
                                    Ok(b) if ok => Some(b.to_bytes()),
                                    _ => None,
                                }
                            }
                            Err(_) => None,
                        };
                        latencies.push(t.elapsed());
                        let version = answer.as_ref().and_then(|b| {
                            let v: serde_json::Value = serde_json::from_slice(b).ok()?;
                            v["model_version"].as_str()?.parse::<usize>().ok()
                        });
                        match version {
                            Some(v @ 1..=2) => by_version[v - 1] += 1,
                            _ => errors += 1,
                        }
                    }
                    (latencies, errors, by_version)
                })
            })
            .collect();
        let mut run = Run { latencies: Vec::new(), errors: 0, by_version: [0; 2], elapsed: Duration::ZERO };
        for t in tasks {
            let (l, e, v) = t.await.unwrap();
            run.latencies.extend(l);
            run.errors += e;
            run.by_version[0] += v[0];
            run.by_version[1] += v[1];
        }
        run.elapsed = start.elapsed();
        run
    })
}

fn metric_of(server: &Server, name: &str) -> f64 {
    metric(&server.metrics(), name).unwrap_or(0.0)
}

fn report(what: &str, run: &mut Run, batches: (f64, f64)) {
    run.latencies.sort_unstable();
    let at = |q: f64| run.latencies[((run.latencies.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<34} {:>7} requests  errors {:>3}  p50 {:>6.2} ms  p99 {:>6.2} ms  {:>7.0} req/s  mean batch {:>5.2}  answered by v1/v2: {}/{}",
        run.latencies.len(),
        run.errors,
        ms(at(0.5)),
        ms(at(0.99)),
        run.latencies.len() as f64 / run.elapsed.as_secs_f64(),
        batches.1 / batches.0.max(1.0),
        run.by_version[0],
        run.by_version[1],
    );
}

fn start(server_rt: &tokio::runtime::Runtime, dir: &Path, max_batch: usize) -> Server {
    let mut o = Options::new(dir);
    o.addr = "127.0.0.1:0".parse().unwrap();
    o.name = Some("taxi".into());
    o.poll = Duration::from_millis(20);
    o.max_batch = max_batch;
    server_rt.block_on(mlp_serve::start(o)).unwrap()
}

/// Runs `f` and returns the batches and examples the server ran meanwhile.
fn batches_during(server: &Server, f: impl FnOnce() -> Run) -> (Run, (f64, f64)) {
    let (c0, s0) = (metric_of(server, "mlp_serve_batch_size_count"), metric_of(server, "mlp_serve_batch_size_sum"));
    let run = f();
    let (c1, s1) = (metric_of(server, "mlp_serve_batch_size_count"), metric_of(server, "mlp_serve_batch_size_sum"));
    (run, (c1 - c0, s1 - s0))
}

fn main() {
    let numbers: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let requests = numbers.first().copied().unwrap_or(10_000);
    let concurrency = numbers.get(1).copied().unwrap_or(32);
    let dir = tempfile::tempdir().unwrap();
    push(dir.path(), &make_version(1, 11, 150));
    layout::write_version(dir.path(), &make_version(2, 23, 10)).unwrap();
    let raw = raw_batch(99, 1_000);
    let bodies: Arc<Vec<Bytes>> =
        Arc::new((0..raw.num_rows()).map(|i| Bytes::from(instances(&raw.slice(i, 1)).to_string())).collect());

    // The server and the load generator each on a runtime of their own (2 worker threads each).
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("{requests} single-example predict requests, {concurrency} concurrent clients, over loopback");

    let server = start(&server_rt, dir.path(), 64);
    let _ = load(&client_rt, &server, &bodies, 1_000.min(requests), concurrency);
    let (mut run, b) = batches_during(&server, || load(&client_rt, &server, &bodies, requests, concurrency));
    report("batched (max 64, wait 2 ms)", &mut run, b);

    // Switch versions every 200 ms during a run.
    let stop = Arc::new(AtomicBool::new(false));
    let switches = Arc::new(AtomicUsize::new(0));
    let switcher = {
        let (stop, switches, dir) = (stop.clone(), switches.clone(), dir.path().to_path_buf());
        std::thread::spawn(move || {
            let mut v = 1;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                v = 3 - v;
                layout::set_current(&dir, v).unwrap();
                switches.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // The run is repeated until the version has been switched at least 10 times (2 s or more).
    let (mut run, b) = batches_during(&server, || {
        let mut all = Run { latencies: Vec::new(), errors: 0, by_version: [0; 2], elapsed: Duration::ZERO };
        for _ in 0..50 {
            let r = load(&client_rt, &server, &bodies, requests, concurrency);
            all.latencies.extend(r.latencies);
            all.errors += r.errors;
            all.by_version[0] += r.by_version[0];
            all.by_version[1] += r.by_version[1];
            all.elapsed += r.elapsed;
            if switches.load(Ordering::Relaxed) >= 10 {
                break;
            }
        }
        all
    });
    stop.store(true, Ordering::Relaxed);
    switcher.join().unwrap();
    report(&format!("batched, {} version switches", switches.load(Ordering::Relaxed)), &mut run, b);
    // Let the watcher see the last switch (it polls every 20 ms).
    std::thread::sleep(Duration::from_millis(200));
    let loads = metric_of(&server, "mlp_serve_loads_total");
    let failures = metric_of(&server, "mlp_serve_load_failures_total");
    println!("  versions loaded: {loads} (the first and one per switch), load failures: {failures}");
    assert_eq!(run.errors, 0, "requests failed during version switches");
    assert!(run.by_version[0] > 0 && run.by_version[1] > 0, "both versions must have answered");
    server_rt.block_on(server.shutdown()).unwrap();

    layout::set_current(dir.path(), 1).unwrap();
    let server = start(&server_rt, dir.path(), 1);
    let _ = load(&client_rt, &server, &bodies, 1_000.min(requests), concurrency);
    let (mut run, b) = batches_during(&server, || load(&client_rt, &server, &bodies, requests, concurrency));
    report("batching off (max 1)", &mut run, b);
    server_rt.block_on(server.shutdown()).unwrap();
}

//! End-to-end tests of the `mlp` binary: exit codes, output formats, `--set`, `fmt`, `explain`.

use std::path::Path;
use std::process::{Command, Output};

fn mlp(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlp")).args(args).current_dir(dir).env("NO_COLOR", "1").output().expect("run mlp")
}

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_the_example_and_graph_prints_its_dag() {
    let out = mlp(&["check", "examples/taxi/pipeline.mlp"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: examples/taxi/pipeline.mlp checked, "));
    let dot = mlp(&["graph", "examples/taxi/pipeline.mlp", "--format", "dot"], &root());
    assert_eq!(dot.status.code(), Some(0));
    let dot = text(&dot.stdout);
    assert!(dot.starts_with("digraph pipeline {"));
    assert!(dot.contains("\"train\" -> \"eval\" [label=\"Model\"]"), "{dot}");
    let mm = text(&mlp(&["graph", "examples/taxi/pipeline.mlp", "--format", "mermaid"], &root()).stdout);
    assert!(mm.starts_with("flowchart LR\n"));
}

#[test]
fn set_overrides_are_type_checked_and_reach_the_ir() {
    let out = mlp(&["graph", "examples/taxi/pipeline.mlp", "--format", "json", "--set", "epochs=25"], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ir: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ir["params"]["epochs"]["value"], 25);
    let bad = mlp(&["check", "examples/taxi/pipeline.mlp", "--set", "epochs=many"], &root());
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(err.contains("E0403") && err.contains("`many` is not a valid int"), "{err}");
    let unknown = mlp(&["check", "examples/taxi/pipeline.mlp", "--set", "epoch=3"], &root());
    assert!(text(&unknown.stderr).contains("did you mean `epochs`?"));
}

#[test]
fn set_paths_are_relative_to_the_current_folder() {
    let out = mlp(
        &["graph", "pipeline.mlp", "--format", "json", "--set", "data_root=../elsewhere"],
        &root().join("examples/taxi"),
    );
    let ir: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ir["params"]["data_root"]["value"], "../elsewhere");
    let out = mlp(&["graph", "examples/taxi/pipeline.mlp", "--format", "json", "--set", "data_root=mydata"], &root());
    let ir: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ir["params"]["data_root"]["value"], "../../mydata");
}

#[test]
fn json_diagnostics_carry_code_position_and_fix() {
    let dir = tempdir();
    std::fs::write(
        dir.join("p.mlp"),
        "component c {\n  wasm = \"c.wasm\"\n  input examples: Examples\n  output out: Statistics\n}\nstep a = c { exampels = a.out }\n",
    )
    .unwrap();
    let out = mlp(&["check", "p.mlp", "--format", "json"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = v.as_array().unwrap().iter().find(|d| d["code"] == "E0301").expect("E0301");
    assert_eq!(d["file"], "p.mlp");
    assert_eq!(d["line"], 6);
    assert_eq!(d["column"], 14);
    assert_eq!(d["fix"]["edits"][0]["replacement"], "examples");
}

#[test]
fn fmt_rewrites_in_place_and_check_mode_reports() {
    let dir = tempdir();
    let f = dir.join("p.mlp");
    std::fs::write(&f, "param   a:int=1 // keep\n").unwrap();
    let out = mlp(&["fmt", "--check", "p.mlp"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "param   a:int=1 // keep\n");
    assert_eq!(mlp(&["fmt", "p.mlp"], &dir).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "param a: int = 1 // keep\n");
    assert_eq!(mlp(&["fmt", "--check", "p.mlp"], &dir).status.code(), Some(0));
}

#[test]
fn explain_prints_the_page_and_rejects_unknown_codes() {
    let out = mlp(&["explain", "e0301"], &root());
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("# E0301: unknown argument"));
    let bad = mlp(&["explain", "E9999"], &root());
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("not an mlp diagnostic code"));
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = mlp(&["check", "does/not/exist.mlp"], &root());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("E0101"), "{}", text(&out.stderr));
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mlp-cli-test-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u128 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    t + u128::from(N.fetch_add(1, Ordering::Relaxed))
}

#[test]
fn run_executes_the_quickstart_and_shows_an_artifact() {
    let store = tempdir().join("store");
    let out = mlp(
        &[
            "run",
            "examples/quickstart/pipeline.mlp",
            "--set",
            "rows=2000",
            "--show",
            "stats.out",
            "--rows",
            "2",
            "--store",
            store.to_str().unwrap(),
        ],
        &root(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("ok    data ("), "{err}");
    assert!(err.contains("out: Examples [eval: 400 rows, train: 1600 rows]"), "{err}");
    assert!(err.contains("  stats | info: described 2 splits"), "{err}");
    assert!(err.contains("done: 3 steps succeeded, 0 cached, 0 failed, 0 skipped in "), "{err}");
    let shown = text(&out.stdout);
    assert!(shown.starts_with("stats.out: Statistics blake3:"), "{shown}");
    assert!(shown.contains("\n[train] 5 rows\ncolumn  count"), "{shown}");
    assert!(shown.contains("... 3 more rows"), "{shown}");
}

#[test]
fn run_rejects_an_unknown_show_target_before_running() {
    let out = mlp(&["run", "examples/quickstart/pipeline.mlp", "--show", "stats.nope"], &root());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(
            "error: --show stats.nope: no such step output (the pipeline has: data.out, kept.out, stats.out)"
        ),
        "{err}"
    );
}

#[test]
fn run_reports_a_failing_step_and_exits_1() {
    let store = tempdir().join("store");
    let out = mlp(
        &["run", "examples/quickstart/pipeline.mlp", "--set", "keep=\"x >\"", "--store", store.to_str().unwrap()],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("FAIL  kept: "), "{err}");
    assert!(err.contains("skip  stats: its input `examples` was not produced (`kept` failed)"), "{err}");
    assert!(err.contains("failed: 1 step succeeded, 0 cached, 1 failed, 1 skipped"), "{err}");
}

#[test]
fn run_of_a_standard_component_this_mlp_lacks_names_it_before_running() {
    let dir = tempdir();
    std::fs::write(
        dir.join("pipeline.mlp"),
        "component nope {\n  wasm = \"std/components/no_such_step.wasm\"\n  output out: Examples\n}\n\nstep x = nope {}\n",
    )
    .unwrap();
    let out = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("the standard-library component `std/components/no_such_step.wasm`"), "{err}");
    assert!(err.contains("the standard components it carries are: batch_infer, csv_examples, evaluate"), "{err}");
    assert!(err.contains("1 problem found before running"), "{err}");
}

#[test]
fn plugin_new_rejects_bad_names_and_existing_folders() {
    let dir = tempdir();
    let out = mlp(&["plugin", "new", "Row-Count"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`Row-Count` is not a valid plugin name"), "{}", text(&out.stderr));
    std::fs::create_dir_all(dir.join("taken")).unwrap();
    std::fs::write(dir.join("taken/file"), "x").unwrap();
    let out = mlp(&["plugin", "new", "taken"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already exists and is not empty"));
}

/// The scaffold builds into a component and runs in its pipeline, end to end.
#[test]
fn plugin_new_scaffolds_a_crate_that_builds_and_runs() {
    let dir = tempdir();
    let out = mlp(&["plugin", "new", "row_count"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let crate_dir = dir.join("row_count");
    assert!(text(&out.stdout).contains("created "), "{}", text(&out.stdout));
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
    assert!(lib.lines().count() <= 30, "the minimal plugin stays short:\n{lib}");
    // Share the guest workspace's build of the SDK's dependencies.
    let target = root().join("plugins/target");
    let build = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build.stderr));
    let wasm = target.join("wasm32-wasip2/release/row_count.wasm");
    let decl = std::fs::read_to_string(crate_dir.join("row_count.mlp")).unwrap();
    std::fs::write(
        crate_dir.join("row_count.mlp"),
        decl.replace("target/wasm32-wasip2/release/row_count.wasm", &wasm.to_string_lossy()),
    )
    .unwrap();
    let run = mlp(&["run", "pipeline.mlp", "--show", "count.out"], &crate_dir);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("  count | info: counted 2 splits"), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("[rows.json]\n{\"eval\": 200, \"train\": 800}"), "{}", text(&run.stdout));
}

#[test]
fn serve_starts_with_nothing_pushed_and_stops_on_ctrl_c() {
    use std::io::{BufRead, Read, Write};
    let dir = tempdir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(["serve", dir.to_str().unwrap(), "--port", "0", "--name", "taxi"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mlp serve");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let prefix = format!("serving model `taxi` from {} at http://", dir.display());
    let addr = first
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_suffix("/v1/models/taxi:predict"))
        .unwrap_or_else(|| panic!("{first}"));
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!("no version loaded yet: nothing is pushed to {}; waiting for a push", dir.display())
    );
    // Nothing pushed: the server runs and says it is not ready.
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("nothing is pushed to"), "{answer}");
    // Ctrl-C (SIGINT) stops it gracefully, with exit code 0.
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("mlp serve did not stop on SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "stopping: answering the requests in flight"), "{rest:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

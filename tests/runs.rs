//! Runs recorded in a store, end to end through the `mlp` binary: caching and early cutoff,
//! resuming after `kill -9`, Ctrl-C, and the commands that read the store (`runs`, `lineage`,
//! `artifacts`, `doctor`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn mlp(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlp")).args(args).current_dir(dir).env("NO_COLOR", "1").output().expect("run mlp")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The declaration of the `probe` test plugin, for `PROBE` in a pipeline.
const PROBE: &str = r#"component probe {
  wasm = "GUESTS/probe.wasm"
  input examples: Examples?
  param mode: string
  param n: int = 0
  output out: Statistics
}"#;

/// A folder holding `pipeline.mlp` (with `PROBE`, `EXAMPLES` and `GUESTS` filled in) and its
/// store.
fn project(name: &str, pipeline: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-runs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let examples = repo().join("plugins/examples/components.mlp");
    let text = pipeline
        .replace("PROBE", PROBE)
        .replace("EXAMPLES", &examples.to_string_lossy())
        .replace("GUESTS", &repo().join("plugins/target/wasm32-wasip2/release").to_string_lossy());
    std::fs::write(dir.join("pipeline.mlp"), text).unwrap();
    dir
}

/// Lines `ok`, `cache`, `skip`, `FAIL` of a run's progress, as `(status, step)`.
fn statuses(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let (status, rest) = l.split_once(' ')?;
            matches!(status, "ok" | "cache" | "skip" | "FAIL")
                .then(|| (status.to_string(), rest.trim_start().split([' ', ':']).next().unwrap_or("").to_string()))
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

const QUICK: &str = r#"
import "EXAMPLES" as ex
param rows: int = 2000
param keep: string = "x > 2.5"
step data = ex.generate { rows = rows }
step kept = ex.filter_rows { examples = data.out, where = keep }
step stats = ex.column_stats { examples = kept.out }
"#;

#[test]
fn an_unchanged_step_is_not_run_again_and_a_change_reruns_only_what_depends_on_it() {
    let dir = project("cache", QUICK);
    let first = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(statuses(&text(&first.stderr)), pairs(&[("ok", "data"), ("ok", "kept"), ("ok", "stats")]));

    let second = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(statuses(&text(&second.stderr)), pairs(&[("cache", "data"), ("cache", "kept"), ("cache", "stats")]));
    assert!(text(&second.stderr).contains("done: 0 steps succeeded, 3 cached, 0 failed, 0 skipped"));

    let changed = mlp(&["run", "pipeline.mlp", "--set", "keep=\"x > 5\""], &dir);
    assert_eq!(statuses(&text(&changed.stderr)), pairs(&[("cache", "data"), ("ok", "kept"), ("ok", "stats")]));

    let forced = mlp(&["run", "pipeline.mlp", "--no-cache"], &dir);
    assert_eq!(statuses(&text(&forced.stderr)), pairs(&[("ok", "data"), ("ok", "kept"), ("ok", "stats")]));

    // Four runs, all complete; the cached run's executions point at the ones they reused.
    let runs = mlp(&["runs", "--json"], &dir);
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r["state"] == "complete"), "{runs:?}");
    let second_run = runs.iter().find(|r| r["name"] == "pipeline.mlp#2").unwrap()["id"].as_i64().unwrap();
    let detail = mlp(&["runs", "show", &second_run.to_string(), "--json"], &dir);
    let detail: serde_json::Value = serde_json::from_slice(&detail.stdout).unwrap();
    let execs = detail["executions"].as_array().unwrap();
    assert_eq!(execs.len(), 3);
    assert!(execs.iter().all(|e| e["state"] == "cached" && e["cached_from"].is_i64()), "{execs:?}");
}

/// Early cutoff: a step that must run (`cache off`) but produces the same bytes leaves its
/// dependents cached.
#[test]
fn a_rerun_step_with_identical_output_keeps_its_dependents_cached() {
    let dir = project(
        "cutoff",
        r#"
import "EXAMPLES" as ex
step data = ex.generate {
  rows = 500
  cache off
}
step stats = ex.column_stats { examples = data.out }
"#,
    );
    let first = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(statuses(&text(&first.stderr)), pairs(&[("ok", "data"), ("ok", "stats")]), "{}", text(&first.stderr));
    let second = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(
        statuses(&text(&second.stderr)),
        pairs(&[("ok", "data"), ("cache", "stats")]),
        "{}",
        text(&second.stderr)
    );
}

const SLOW: &str = r#"
import "EXAMPLES" as ex
PROBE
param spins: int = 2000000000
step data = ex.generate { rows = 1000 }
step slow = probe { examples = data.out, mode = "calls", n = spins }
step stats = ex.column_stats { examples = data.out }
"#;

/// Starts `mlp run` and waits until `data` has finished, returning the running child.
fn start_until_data_done(dir: &Path) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(["run", "pipeline.mlp", "-j", "1"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("mlp ended before `data` finished").unwrap();
        seen.push(line.clone());
        if line.starts_with("ok    data") {
            break;
        }
        assert!(!line.starts_with("FAIL"), "{seen:?}");
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

#[test]
fn after_kill_9_a_new_run_reuses_completed_steps_and_the_store_is_clean() {
    let dir = project("kill", SLOW);
    let mut child = start_until_data_done(&dir);
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The doctor sees the interrupted run; nothing is damaged.
    let doctor = mlp(&["doctor", "--json"], &dir);
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let damaged: Vec<_> = report["issues"].as_array().unwrap().iter().filter(|i| i["severity"] == "error").collect();
    assert!(damaged.is_empty(), "{report}");

    // Running again (with a shorter slow step) reuses `data`, settles the killed run, and
    // leaves a clean store.
    let again = mlp(&["run", "pipeline.mlp", "--set", "spins=1000"], &dir);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let got = statuses(&text(&again.stderr));
    assert!(got.contains(&("cache".into(), "data".into())), "{got:?}");
    assert!(got.contains(&("ok".into(), "slow".into())), "{got:?}");
    let runs: serde_json::Value = serde_json::from_slice(&mlp(&["runs", "--json"], &dir).stdout).unwrap();
    let states: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert!(states.contains(&"canceled") && states.contains(&"complete"), "{states:?}");
    let doctor = mlp(&["doctor"], &dir);
    assert_eq!(doctor.status.code(), Some(0), "{}", text(&doctor.stdout));
    assert!(text(&doctor.stdout).contains("clean: "), "{}", text(&doctor.stdout));
}

#[test]
fn ctrl_c_cancels_the_run_and_records_it_as_canceled() {
    let dir = project("sigint", SLOW);
    let mut child = start_until_data_done(&dir);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let runs: serde_json::Value = serde_json::from_slice(&mlp(&["runs", "--json"], &dir).stdout).unwrap();
    assert_eq!(runs[0]["state"], "canceled", "{runs}");
    let id = runs[0]["id"].as_i64().unwrap().to_string();
    let detail: serde_json::Value =
        serde_json::from_slice(&mlp(&["runs", "show", &id, "--json"], &dir).stdout).unwrap();
    let state = |step: &str| {
        detail["executions"].as_array().unwrap().iter().find(|e| e["step"] == step).map(|e| e["state"].clone())
    };
    assert_eq!(state("data"), Some(serde_json::json!("complete")));
    assert_eq!(state("slow"), Some(serde_json::json!("canceled")));
    let doctor = mlp(&["doctor"], &dir);
    assert_eq!(doctor.status.code(), Some(0), "{}", text(&doctor.stdout));
}

fn last_run(dir: &Path) -> String {
    let runs: serde_json::Value = serde_json::from_slice(&mlp(&["runs", "--json"], dir).stdout).unwrap();
    runs[0]["id"].to_string()
}

#[test]
fn lineage_artifacts_and_doctor_read_the_store() {
    let dir = project("read", QUICK);
    let run = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));

    let ls = text(&mlp(&["artifacts", "ls"], &dir).stdout);
    let stats_line = ls.lines().find(|l| l.contains("Statistics")).expect("a Statistics artifact");
    let digest = stats_line.split_whitespace().next().unwrap().to_string();
    assert_eq!(ls.lines().count(), 3, "{ls}");

    let tree = text(&mlp(&["lineage", &digest[7..19]], &dir).stdout);
    let order: Vec<&str> = ["step `stats`", "step `kept`", "step `data`"].into_iter().collect();
    let at: Vec<usize> = order.iter().map(|s| tree.find(s).unwrap_or_else(|| panic!("{s} in {tree}"))).collect();
    assert!(at[0] < at[1] && at[1] < at[2], "{tree}");
    let dot = text(&mlp(&["lineage", &digest, "--format", "dot"], &dir).stdout);
    assert!(dot.starts_with("digraph lineage {"), "{dot}");

    let show = text(&mlp(&["artifacts", "show", &digest, "--rows", "1"], &dir).stdout);
    assert!(show.starts_with(&format!("{digest}: Statistics")), "{show}");
    assert!(show.contains("[train] 5 rows\ncolumn"), "{show}");

    let out = dir.join("export");
    let export = mlp(&["artifacts", "export", &digest, out.to_str().unwrap(), "--format", "csv"], &dir);
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let csv = std::fs::read_to_string(out.join("train.csv")).unwrap();
    assert!(csv.starts_with("column,count,nulls,mean,std_dev,min,max,zeros,avg_length,median,distinct\nid,"), "{csv}");

    let unknown = mlp(&["lineage", "ffffffffffff"], &dir);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("no artifact with id or digest `ffffffffffff`"),
        "{}",
        text(&unknown.stderr)
    );

    let missing = mlp(&["runs", "--store", "nowhere"], &dir);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no mlp store at `nowhere`"), "{}", text(&missing.stderr));

    let show = text(&mlp(&["runs", "show", &last_run(&dir)], &dir).stdout);
    let steps: Vec<&str> = show.lines().filter(|l| l.contains(" attempt 1 ")).collect();
    assert_eq!(steps.len(), 3, "{show}");
    assert!(steps.iter().all(|l| l.contains(" complete ")), "{show}");
    assert!(show.contains(&format!("output out          artifact 3 {digest}")), "{show}");

    let doctor = mlp(&["doctor"], &dir);
    assert_eq!(doctor.status.code(), Some(0), "{}", text(&doctor.stdout));
}

const RESOLVING: &str = r#"
import "EXAMPLES" as ex
PROBE
param rows: int = 100
param span: int = 1
step data = ex.generate { rows = rows, span = span }
step latest = probe { examples = latest(Examples), mode = "echo" }
step previous = probe { examples = previous_span(data.out), mode = "echo" }
"#;

/// The artifact digest a `probe` step in `echo` mode saw, from `--show STEP.out`.
fn seen(stdout: &str, step: &str) -> String {
    let at = stdout.find(&format!("{step}.out:")).unwrap_or_else(|| panic!("no {step}.out in {stdout}"));
    let line = stdout[at..].lines().find(|l| l.trim_start().starts_with("input = ")).unwrap();
    line.trim_start().trim_start_matches("input = ").trim_matches('"').to_string()
}

fn data_digest(stdout: &str) -> String {
    let line = stdout.lines().find(|l| l.starts_with("data.out: Examples ")).unwrap();
    line.trim_start_matches("data.out: Examples ").to_string()
}

#[test]
fn resolvers_find_artifacts_of_earlier_runs() {
    let dir = project("resolve", RESOLVING);
    let run = |set: &[&str]| {
        let mut args =
            vec!["run", "pipeline.mlp", "--show", "data.out", "--show", "latest.out", "--show", "previous.out"];
        for s in set {
            args.extend(["--set", s]);
        }
        let out = mlp(&args, &dir);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // A first run has nothing earlier.
    let first = run(&["span=1"]);
    assert_eq!(seen(&first, "latest"), "none");
    assert_eq!(seen(&first, "previous"), "none");
    let d1 = data_digest(&first);
    // The second run sees the first run's examples as the latest, not its own, and span 1 as
    // the span before its span 2.
    let second = run(&["span=2", "rows=200"]);
    let d2 = data_digest(&second);
    assert_ne!(d1, d2);
    assert_eq!(seen(&second, "latest"), d1);
    assert_eq!(seen(&second, "previous"), d1);
    // The third, with span 3, sees the second's.
    let third = run(&["span=3", "rows=300"]);
    assert_eq!(seen(&third, "latest"), d2);
    assert_eq!(seen(&third, "previous"), d2);
}

#[test]
fn two_runs_at_once_on_one_store_both_complete_and_leave_it_clean() {
    let dir = project("concurrent", QUICK);
    let spawn = |rows: &str| {
        Command::new(env!("CARGO_BIN_EXE_mlp"))
            .args(["run", "pipeline.mlp", "--set", &format!("rows={rows}")])
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("3000"), spawn("4000"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let runs: serde_json::Value = serde_json::from_slice(&mlp(&["runs", "--json"], &dir).stdout).unwrap();
    let states: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["complete", "complete"]);
    let ls = text(&mlp(&["artifacts", "ls"], &dir).stdout);
    assert_eq!(ls.lines().count(), 6, "two runs, three artifacts each: {ls}");
    let doctor = mlp(&["doctor"], &dir);
    assert_eq!(doctor.status.code(), Some(0), "{}", text(&doctor.stdout));
}

const HOSTILE: &str = r#"component reader {
  wasm = "GUESTS/hostile.wasm"
  param attack: string
  param path: path
  param address: string = ""
  output out: Examples
}
step read = reader {
  attack = "read"
  path = "data.csv"
  grant read "data.csv"
}
"#;

#[test]
fn one_changed_byte_in_a_granted_file_is_a_cache_miss() {
    let dir = project("input-byte", HOSTILE);
    std::fs::write(dir.join("data.csv"), "a,b\n1,2\n").unwrap();
    let first = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(statuses(&text(&first.stderr)), pairs(&[("ok", "read")]), "{}", text(&first.stderr));
    let again = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(statuses(&text(&again.stderr)), pairs(&[("cache", "read")]));
    std::fs::write(dir.join("data.csv"), "a,b\n1,3\n").unwrap();
    let changed = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(statuses(&text(&changed.stderr)), pairs(&[("ok", "read")]), "{}", text(&changed.stderr));
}

#[test]
fn a_changed_component_is_a_cache_miss() {
    let dir = project(
        "component",
        "component generate {\n  wasm = \"generate.wasm\"\n  param rows: int = 10\n  output out: Examples\n}\nstep data = generate { rows = 50 }\n",
    );
    let wasm = dir.join("generate.wasm");
    std::fs::copy(repo().join("plugins/target/wasm32-wasip2/release/generate.wasm"), &wasm).unwrap();
    let first = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(statuses(&text(&first.stderr)), pairs(&[("ok", "data")]), "{}", text(&first.stderr));
    let again = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(statuses(&text(&again.stderr)), pairs(&[("cache", "data")]));
    // The same code with one more custom section: other bytes, so another component.
    let mut bytes = std::fs::read(&wasm).unwrap();
    bytes.extend_from_slice(&[0, 6, 5, b'n', b'o', b't', b'e', b'!']);
    std::fs::write(&wasm, bytes).unwrap();
    let changed = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(statuses(&text(&changed.stderr)), pairs(&[("ok", "data")]), "{}", text(&changed.stderr));
}

/// Kills `mlp run` at several points (while loading, while a step runs, while outputs are
/// written), then checks the store and that running again completes with the same results as an
/// uninterrupted run.
#[test]
fn kill_9_at_several_points_then_resume_gives_the_uninterrupted_result() {
    let reference = project("kill-reference", QUICK);
    let clean = mlp(&["run", "pipeline.mlp", "--show", "stats.out", "--set", "rows=50000"], &reference);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));
    let expected = text(&clean.stdout).lines().next().unwrap().to_string();
    for (n, delay_ms) in [0u64, 20, 60, 120, 200].into_iter().enumerate() {
        let dir = project(&format!("kill-{n}"), QUICK);
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlp"))
            .args(["run", "pipeline.mlp", "--set", "rows=50000"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        if dir.join(".mlp/lineage.db").exists() {
            let doctor = mlp(&["doctor", "--json"], &dir);
            let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
            let errors: Vec<_> =
                report["issues"].as_array().unwrap().iter().filter(|i| i["severity"] == "error").collect();
            assert!(errors.is_empty(), "killed after {delay_ms} ms: {report}");
        }
        let resumed = mlp(&["run", "pipeline.mlp", "--show", "stats.out", "--set", "rows=50000"], &dir);
        assert_eq!(resumed.status.code(), Some(0), "killed after {delay_ms} ms: {}", text(&resumed.stderr));
        assert_eq!(text(&resumed.stdout).lines().next().unwrap(), expected, "killed after {delay_ms} ms");
        let fixed = mlp(&["doctor", "--fix"], &dir);
        assert!(fixed.status.code().is_some());
        let doctor = mlp(&["doctor"], &dir);
        assert_eq!(doctor.status.code(), Some(0), "killed after {delay_ms} ms: {}", text(&doctor.stdout));
    }
}

#[test]
fn json_events_describe_every_step_and_the_run() {
    let dir = project("json", QUICK);
    let out = mlp(&["run", "pipeline.mlp", "--json"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("one JSON object a line")).collect();
    let kinds: Vec<(&str, &str)> =
        events.iter().map(|e| (e["event"].as_str().unwrap(), e["step"].as_str().unwrap_or(""))).collect();
    assert_eq!(
        kinds,
        [
            ("started", "data"),
            ("finished", "data"),
            ("started", "kept"),
            ("finished", "kept"),
            ("started", "stats"),
            ("finished", "stats"),
            ("run", "")
        ]
    );
    assert_eq!(events[1]["status"], "succeeded");
    assert_eq!(events[1]["outputs"]["out"]["parts"]["train"]["rows"], 1600);
    let logs = events[5]["events"].as_array().unwrap();
    assert!(logs.iter().any(|e| e["log"] == "info" && e["message"] == "described 2 splits"), "{logs:?}");
    assert!(logs.iter().any(|e| e["progress"] == 1.0 && e["note"] == "train"), "{logs:?}");
    assert_eq!(events[6]["state"], "complete");
    // The text view ends by saying where the final outputs are.
    let again = mlp(&["run", "pipeline.mlp", "--no-cache"], &dir);
    let err = text(&again.stderr);
    assert!(err.contains("outputs:\n  stats.out: Statistics in "), "{err}");
    assert!(err.contains("/.mlp/artifacts/"), "{err}");
}

/// Regression: `mlp run --json | head -1` panicked on the closed pipe instead of finishing the
/// run.
#[test]
fn json_events_to_a_closed_pipe_do_not_panic() {
    let dir = project("closed-pipe", QUICK);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(["run", "pipeline.mlp", "--json"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&mlp(&["runs", "--json"], &dir).stdout).unwrap();
    assert_eq!(runs[0]["state"], "complete");
}

#[test]
fn log_level_turns_on_tracing_and_rejects_unknown_levels() {
    let dir = project("log", QUICK);
    let out = mlp(&["run", "pipeline.mlp", "--log-level", "info"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("step started step=data attempt=1"), "{err}");
    assert!(err.contains("step finished step=stats"), "{err}");
    let bad = mlp(&["run", "pipeline.mlp", "--log-level", "loud"], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--log-level loud: use error, warn, info, debug, trace or off"));
}

#[test]
fn two_independent_slow_steps_run_at_the_same_time() {
    let dir = project(
        "overlap",
        r#"
PROBE
step one = probe { mode = "calls", n = 300000 }
step two = probe { mode = "calls", n = 300000 }
"#,
    );
    let out = mlp(&["run", "pipeline.mlp", "-j", "2"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&mlp(&["runs", "--json"], &dir).stdout).unwrap();
    let id = runs[0]["id"].to_string();
    let detail: serde_json::Value =
        serde_json::from_slice(&mlp(&["runs", "show", &id, "--json"], &dir).stdout).unwrap();
    let span = |step: &str| {
        let e = detail["executions"].as_array().unwrap().iter().find(|e| e["step"] == step).unwrap();
        (e["started_at"].as_i64().unwrap(), e["ended_at"].as_i64().unwrap())
    };
    let (a, b) = (span("one"), span("two"));
    // Each started before the other ended: their executions overlap.
    assert!(a.0 <= b.1 && b.0 <= a.1, "one {a:?}, two {b:?}");
}

#[test]
fn lineage_of_the_example_is_exactly_its_graph() {
    let dir = project("exact-lineage", QUICK);
    let run = mlp(&["run", "pipeline.mlp"], &dir);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let tree = text(&mlp(&["lineage", "3"], &dir).stdout);
    // Artifact 1 is `data`'s output and 2 is `kept`'s: both Examples; read them off the run.
    let run: serde_json::Value = serde_json::from_slice(&mlp(&["runs", "show", "2", "--json"], &dir).stdout).unwrap();
    let art = |step: &str| -> i64 {
        let e = run["executions"].as_array().unwrap().iter().find(|e| e["step"] == step).unwrap();
        e["events"].as_array().unwrap().iter().find(|v| v["kind"] == "output").unwrap()["artifact"].as_i64().unwrap()
    };
    assert_eq!((art("data"), art("kept"), art("stats")), (1, 2, 3));
    let digest_of = |id: i64| {
        let line = text(&mlp(&["lineage", &id.to_string()], &dir).stdout);
        line.lines().next().unwrap().split_whitespace().nth(1).unwrap().to_string()
    };
    // The short digests, as the tree prints them.
    let (d1, d2, d3) = (digest_of(1), digest_of(2), digest_of(3));
    let examples = repo().join("plugins/examples/components.mlp");
    let c = |name: &str| format!("{}#{name}", examples.display());
    let expected = format!(
        "Statistics {d3} (artifact 3)\n\
         └─ step `stats` ({}, execution 3, run 2)\n   \
            └─ examples: Examples {d2} (artifact 2)\n      \
               └─ step `kept` ({}, execution 2, run 2)\n         \
                  └─ examples: Examples {d1} (artifact 1)\n            \
                     └─ step `data` ({}, execution 1, run 2)\n",
        c("column_stats"),
        c("filter_rows"),
        c("generate")
    );
    assert_eq!(tree, expected);
    let down = text(&mlp(&["lineage", "1", "--downstream"], &dir).stdout);
    let expected_down = format!(
        "Examples {d1} (artifact 1)\n\
         └─ step `kept` ({}, execution 2, run 2)\n   \
            └─ out: Examples {d2} (artifact 2)\n      \
               └─ step `stats` ({}, execution 3, run 2)\n         \
                  └─ out: Statistics {d3} (artifact 3)\n",
        c("filter_rows"),
        c("column_stats")
    );
    assert_eq!(down, expected_down);
}

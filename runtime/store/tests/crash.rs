//! Crash safety, end to end: a child process (this test binary, started in a writer mode)
//! writes artifacts and lineage in a loop and is killed with SIGKILL at a random moment, several
//! times over one store. Afterwards the doctor must list every leftover in `tmp/` (and remove
//! them), find nothing damaged, and every committed artifact must read back as it was written.

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mlp_kernels::data::{ArtifactData, Part, Table};
use mlp_store::artifacts::ArtifactStore;
use mlp_store::doctor::{DoctorOptions, IssueKind, Severity, doctor};
use mlp_store::lineage::{ArtifactState, ExecutionSpec, ExecutionState, LineageStore, RunState};
use mlp_store::{ArtifactId, artifact_digest};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Set in the child: the store root to write to.
const CHILD_ROOT: &str = "MLP_STORE_CRASH_CHILD_ROOT";
/// Set in the child: which round it is (its run and its artifacts' seeds).
const CHILD_ROUND: &str = "MLP_STORE_CRASH_CHILD_ROUND";
const ROUNDS: u64 = 6;

/// The artifact the writer makes for `seed`: a table big enough that writing it takes a while
/// (so kills land inside writes too), a blob, and the seed as a property.
fn content(seed: i64) -> ArtifactData {
    let rows = 20_000 + (seed % 7) as usize * 1000;
    let ids: Vec<i64> = (0..rows as i64).map(|i| i * seed).collect();
    let fares: Vec<Option<f64>> = (0..rows).map(|i| (i % 5 != 0).then_some(i as f64 + seed as f64 / 3.0)).collect();
    let names: Vec<Option<String>> = (0..rows).map(|i| (i % 3 != 0).then(|| format!("{seed}-{i}"))).collect();
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("fare", Arc::new(Float64Array::from(fares)) as ArrayRef),
        ("name", Arc::new(StringArray::from(names)) as ArrayRef),
    ])
    .unwrap();
    let half = batch.num_rows() / 2;
    let table =
        Table::new(batch.schema(), vec![batch.slice(0, half), batch.slice(half, batch.num_rows() - half)]).unwrap();
    let mut a = ArtifactData { artifact_type: "Examples".into(), ..Default::default() };
    a.parts.insert("train".into(), Part::Table(table));
    a.parts.insert("model.bin".into(), Part::Blob(Arc::from(seed.to_le_bytes().repeat(1000))));
    a.properties.insert("seed".into(), json!(seed));
    a
}

/// The writer: one run, then steps forever, each reading the previous step's output; every
/// fifth step fails after writing its artifact. Touches `marker` after its first commit.
fn writer(root: &Path, round: i64, marker: &Path) -> ! {
    let artifacts = ArtifactStore::open(root).unwrap();
    let mut lineage = LineageStore::open(root).unwrap();
    let run = lineage.begin_run("crash", &json!({"round": round})).unwrap();
    let mut previous: Option<ArtifactId> = None;
    for i in 0.. {
        let seed = round * 1_000_000 + i + 1;
        let key = format!("key-{seed}");
        let inputs: Vec<(&str, ArtifactId)> = previous.iter().map(|a| ("examples", *a)).collect();
        let spec = ExecutionSpec {
            step: "transform",
            component: "components.mlp#transform",
            component_digest: "blake3:transform",
            parameters: r#"{"factor": 2}"#,
            cache_key: Some(&key),
            attempt: 1,
            inputs: &inputs,
        };
        let x = lineage.start_execution(run, &spec).unwrap();
        let stored = artifacts.put(&content(seed)).unwrap();
        if i % 5 == 4 {
            lineage.fail_execution(x, "planned failure").unwrap();
        } else {
            previous = Some(lineage.complete_execution(x, &[("examples", &stored)]).unwrap()[0]);
        }
        if i == 0 {
            std::fs::write(marker, "committed").unwrap();
        }
    }
    unreachable!()
}

/// xorshift64*, seeded from the clock; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn marker(dir: &Path, round: u64) -> PathBuf {
    dir.join(format!("committed-{round}"))
}

#[test]
fn a_store_survives_kill_9() {
    if let (Ok(root), Ok(round)) = (std::env::var(CHILD_ROOT), std::env::var(CHILD_ROUND)) {
        let round: u64 = round.parse().unwrap();
        let root = PathBuf::from(root);
        let marker = marker(root.parent().unwrap(), round);
        writer(&root, round as i64, &marker);
    }

    if !Path::new("/proc/self").exists() {
        eprintln!("skipped: telling a dead writer from a live one needs /proc");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".mlp");
    let seed = std::env::var("MLP_STORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    eprintln!("kill delays from MLP_STORE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "a_store_survives_kill_9", "--test-threads", "1", "--nocapture"])
            .env(CHILD_ROOT, &root)
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !marker(dir.path(), round).exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the writer of round {round} exited with {status} before committing anything");
            }
            assert!(started.elapsed() < Duration::from_secs(120), "the writer of round {round} made no progress");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.below(400)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
    }

    // What the crashes left in tmp/, before anything cleans it.
    let leftovers: BTreeSet<PathBuf> =
        std::fs::read_dir(root.join("tmp")).unwrap().map(|e| e.unwrap().path()).collect();
    eprintln!("{} leftovers in tmp/", leftovers.len());

    let report = doctor(&root, DoctorOptions { fix: true, deep: false });
    let listed: BTreeSet<PathBuf> =
        report.of_kind(IssueKind::TmpLeftover).filter(|i| i.fixed).filter_map(|i| i.path.clone()).collect();
    assert_eq!(listed, leftovers, "the doctor must list and remove every leftover: {:#?}", report.issues);
    for issue in &report.issues {
        let expected = matches!(issue.kind, IssueKind::TmpLeftover | IssueKind::StaleRun)
            || (issue.kind == IssueKind::UnreferencedArtifact && issue.severity == Severity::Info);
        assert!(expected, "unexpected issue after the crashes: {issue:#?}");
    }
    // Every writer died with its run open.
    assert_eq!(
        report.of_kind(IssueKind::StaleRun).filter(|i| i.fixed).count(),
        ROUNDS as usize,
        "{:#?}",
        report.issues
    );

    let after = doctor(&root, DoctorOptions { fix: false, deep: true });
    assert!(after.is_clean(), "{:#?}", after.issues);
    assert!(after.issues.iter().all(|i| i.kind == IssueKind::UnreferencedArtifact), "{:#?}", after.issues);
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);

    // Every committed artifact reads back as written, and the lineage is whole.
    let artifacts = ArtifactStore::open(&root).unwrap();
    let lineage = LineageStore::open(&root).unwrap();
    let rows = lineage.artifacts(Some(ArtifactState::Live)).unwrap();
    assert!(rows.len() >= ROUNDS as usize, "each round committed at least one artifact");
    for row in &rows {
        let seed = row.properties["seed"].as_i64().unwrap();
        let data = artifacts.get(&row.digest).unwrap();
        assert_eq!(artifact_digest(&data), row.digest);
        assert_eq!(row.digest, artifact_digest(&content(seed)), "artifact {} is not what was written", row.id);
    }
    let runs = lineage.runs(Some("crash")).unwrap();
    assert_eq!(runs.len(), ROUNDS as usize);
    for run in runs {
        assert_eq!(run.state, RunState::Canceled);
        let detail = lineage.run(run.id).unwrap();
        assert!(detail.executions.iter().all(|x| x.state != ExecutionState::Running));
        for x in detail.executions.iter().filter(|x| x.state == ExecutionState::Complete) {
            let outputs: Vec<_> = x.artifacts(mlp_store::lineage::EventKind::Output).collect();
            assert_eq!(outputs.len(), 1, "complete execution {} has its output", x.id);
            assert_eq!(lineage.lookup_cache(x.cache_key.as_deref().unwrap()).unwrap().unwrap().execution, x.id);
        }
    }
    eprintln!("{} artifacts committed over {ROUNDS} crashes", rows.len());
}

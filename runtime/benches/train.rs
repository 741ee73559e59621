//! The guest training loop against the same kernels called directly from Rust: the example's
//! logistic regression (`examples/taxi/train.mlp`) runs as a pipeline, sandboxed (its loop in
//! the `train_logistic` component, every kernel a host call); then the same work (the same
//! data preparation, batch order, model, optimizer and epochs) runs here in plain Rust over
//! `mlp-transform` and `mlp-tensor`. Prints both times and their ratio (target: 1.1 or less),
//! and checks that both reach the same evaluation loss (the same arithmetic in the same order).
//!
//!   cargo bench -p mlp-runtime --bench train -- [ROWS] [EPOCHS]     (default 200000 rows, 3 epochs)

use mlp_kernels::data::{ArtifactData, Part};
use mlp_runtime::host::{Host, HostConfig};
use mlp_runtime::run::{RunOptions, StepStatus, pipeline_dir};
use mlp_tensor::init::Init;
use mlp_tensor::optim::Adam;
use mlp_tensor::{Params, Tape, Tensor};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LABEL: &str = "big_tipper";
const BATCH: usize = 512;
const LEARNING_RATE: f32 = 0.05;
const L2: f32 = 1e-5;

/// The trainers' batch order (`mlp-std-common`'s `Rng`): SplitMix64 and Fisher-Yates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle(&mut self, v: &mut [u64]) {
        for i in (1..v.len()).rev() {
            let j = ((u128::from(self.next()) * (i as u128 + 1)) >> 64) as usize;
            v.swap(i, j);
        }
    }
}

struct Split {
    rows: usize,
    x: Tensor,
    y: Tensor,
    categories: Vec<Vec<usize>>,
}

fn table(a: &ArtifactData, part: &str) -> mlp_kernels::Table {
    match &a.parts[part] {
        Part::Table(t) => t.clone(),
        Part::Blob(_) => panic!("{part} is a blob"),
    }
}

/// The trainers' preparation (`mlp-std-common::train::prepare`), in Rust.
fn prepare(t: &mlp_kernels::Table, numeric: &[String], categorical: &[(String, u64)]) -> Split {
    let t = mlp_kernels::filter::filter(t, &format!("not is_null({LABEL})")).unwrap();
    let call = |f: &str, args: Vec<Value>| json!({ "call": { "func": f, "args": args, "named": {} } });
    let col = |n: &str| json!({ "column": n });
    let mut spec = Vec::new();
    for (i, f) in numeric.iter().enumerate() {
        spec.push(json!({ "name": format!("n{i}"), "expr": call("fill_null", vec![call("float", vec![col(f)]), json!({ "lit": { "type": "float", "value": 0.0 } })]) }));
    }
    for (j, (f, n)) in categorical.iter().enumerate() {
        spec.push(json!({ "name": format!("c{j}"), "expr": call("fill_null", vec![col(f), json!({ "lit": { "type": "int", "value": n } })]) }));
    }
    spec.push(json!({ "name": "y", "expr": call("float", vec![col(LABEL)]) }));
    let spec = mlp_transform::parse_spec(&Value::Array(spec).to_string()).unwrap();
    let prep =
        mlp_transform::CompiledTransform::new(mlp_transform::fit(&spec, t.schema(), t.batches()).unwrap()).unwrap();
    let batches: Vec<_> = t.batches().iter().map(|b| prep.apply(b).unwrap()).collect();
    let out = mlp_kernels::Table::new(batches[0].schema(), batches).unwrap();
    let tensor = |cols: &[String]| {
        let k = mlp_kernels::tensor_from_columns(&out, cols).unwrap();
        Tensor::new(&k.shape, k.values.to_vec()).unwrap()
    };
    let names: Vec<String> = (0..numeric.len()).map(|i| format!("n{i}")).collect();
    let categories = (0..categorical.len())
        .map(|j| tensor(&[format!("c{j}")]).data().iter().map(|x| *x as usize).collect())
        .collect();
    Split { rows: out.num_rows(), x: tensor(&names), y: tensor(&["y".to_string()]), categories }
}

/// The logistic regression's loss of rows `idx` (all when `None`), as `train_logistic` builds it.
fn loss(
    tape: &mut Tape,
    p: &Params,
    s: &Split,
    idx: Option<&[usize]>,
    ids: (mlp_tensor::ParamId, mlp_tensor::ParamId, &[mlp_tensor::ParamId]),
    l2: f32,
) -> mlp_tensor::Var {
    let (w, b, emb) = ids;
    let xb = match idx {
        Some(i) => s.x.gather_rows(i).unwrap(),
        None => s.x.clone(),
    };
    let xv = tape.input(xb);
    let wv = tape.param(p, w).unwrap();
    let mut penalized = vec![wv];
    let mut z = tape.matmul(xv, wv).unwrap();
    for (j, e) in emb.iter().enumerate() {
        let ev = tape.param(p, *e).unwrap();
        penalized.push(ev);
        let rows = match idx {
            Some(i) => i.iter().map(|&r| s.categories[j][r]).collect(),
            None => s.categories[j].clone(),
        };
        let g = tape.gather(ev, rows).unwrap();
        z = tape.add(z, g).unwrap();
    }
    let bv = tape.param(p, b).unwrap();
    let z = tape.add_row(z, bv).unwrap();
    let y = match idx {
        Some(i) => s.y.gather_rows(i).unwrap(),
        None => s.y.clone(),
    };
    let mut l = tape.bce_with_logits(z, y, None).unwrap();
    if l2 > 0.0 {
        for v in penalized {
            let sq = tape.sum_squares(v).unwrap();
            let sq = tape.scale(sq, l2 / 2.0).unwrap();
            l = tape.add(l, sq).unwrap();
        }
    }
    l
}

/// `train_logistic`'s work, directly: preparation, epochs, evaluation, the weights file.
fn direct(features: &ArtifactData, graph: &Value, epochs: usize) -> (Duration, f64) {
    let start = Instant::now();
    let mut numeric = Vec::new();
    let mut categorical = Vec::new();
    for f in graph["features"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap().to_string();
        if name == LABEL {
            continue;
        }
        match f["categories"].as_u64() {
            Some(n) => categorical.push((name, n)),
            None => numeric.push(name),
        }
    }
    let train = prepare(&table(features, "train"), &numeric, &categorical);
    let eval = prepare(&table(features, "eval"), &numeric, &categorical);
    let mut p = Params::new(0);
    let w = p.add("weights", &[numeric.len(), 1], Init::Zeros).unwrap();
    let b = p.add("bias", &[1], Init::Zeros).unwrap();
    let emb: Vec<_> = categorical
        .iter()
        .map(|(n, c)| p.add(&format!("embedding.{n}"), &[*c as usize + 1, 1], Init::Zeros).unwrap())
        .collect();
    let mut opt = Adam::new(LEARNING_RATE, 0.0).unwrap();
    let mut rng = Rng(0);
    let mut order: Vec<u64> = (0..train.rows as u64).collect();
    let mut eval_loss = f64::NAN;
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        for batch in order.chunks(BATCH) {
            let idx: Vec<usize> = batch.iter().map(|&i| i as usize).collect();
            p.zero_grads();
            let mut tape = Tape::new();
            let l = loss(&mut tape, &p, &train, Some(&idx), (w, b, &emb), L2);
            let _ = tape.value(l).unwrap().item().unwrap();
            tape.backward(l, &mut p).unwrap();
            opt.step(&mut p);
        }
        let mut tape = Tape::new();
        let l = loss(&mut tape, &p, &eval, None, (w, b, &emb), 0.0);
        eval_loss = f64::from(tape.value(l).unwrap().item().unwrap());
    }
    let _weights = mlp_tensor::weights::to_safetensors(&p, &Default::default()).unwrap();
    (start.elapsed(), eval_loss)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let rows: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let epochs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("mlp-bench-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data/span-1")).unwrap();
    for f in ["train.mlp", "features.mlp", "describe.mlp"] {
        std::fs::copy(repo.join("examples/taxi").join(f), dir.join(f)).unwrap();
    }
    let mut csv = Vec::new();
    mlp_example_data::write_csv(mlp_example_data::Spec { rows, seed: 1, drift: false }, &mut csv).unwrap();
    std::fs::write(dir.join("data/span-1/trips.csv"), csv).unwrap();

    let pfile = dir.join("train.mlp");
    let ir = mlp_runtime::check_file(&pfile, &[format!("epochs={epochs}")]).unwrap().ir.expect("the pipeline checks");
    let host = Arc::new(Host::new(HostConfig::default()).unwrap());
    let options = RunOptions { store: Some(dir.join(".mlp")), use_cache: false, ..RunOptions::default() };
    let report = mlp_runtime::run::run(&host, &ir, &pipeline_dir(&pfile), &options, &mut |_| {}).unwrap();
    for s in &report.steps {
        assert!(matches!(s.status, StepStatus::Succeeded), "{}: {:?}\n{}", s.id, s.status, s.stderr);
    }
    let step = |id: &str| report.steps.iter().find(|s| s.id == id).unwrap();
    let train_step = step("train");
    let guest_loss = train_step.outputs["model"].data.properties["eval_loss"].as_f64().unwrap();
    let features = &step("features/transform").outputs["out"].data;
    let graph: Value = match &step("features/transform").outputs["graph"].data.parts["graph.json"] {
        Part::Blob(b) => serde_json::from_slice(b).unwrap(),
        Part::Table(_) => panic!("graph.json is a table"),
    };
    println!("logistic regression, {rows} rows ({} train), {epochs} epochs, batch {BATCH}, single process", {
        table(features, "train").num_rows()
    });
    let (mut best_direct, mut direct_loss) = (Duration::MAX, f64::NAN);
    for _ in 0..3 {
        let (t, l) = direct(features, &graph, epochs);
        best_direct = best_direct.min(t);
        direct_loss = l;
    }
    let guest = train_step.elapsed;
    println!("  train step, sandboxed (loop in the guest):   {:>8.1} ms", guest.as_secs_f64() * 1e3);
    println!("  the same, directly in Rust (best of 3):      {:>8.1} ms", best_direct.as_secs_f64() * 1e3);
    println!(
        "  guest / direct:                              {:>8.2} (target: 1.1 or less)",
        guest.as_secs_f64() / best_direct.as_secs_f64()
    );
    println!("  eval loss: guest {guest_loss:.6}, direct {direct_loss:.6}");
    assert!((guest_loss - direct_loss).abs() < 1e-4, "the two runs should compute the same model");
    let _ = std::fs::remove_dir_all(&dir);
}

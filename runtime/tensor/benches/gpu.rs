//! The CUDA backend against the CPU kernels, side by side: a 4096 × 4096 `f32` matrix product
//! (the CPU on one thread, as the host runs it, and on every core), and one epoch of MLP
//! training on synthetic data (a tape on the CPU, then one on the GPU with the default
//! thresholds). Prints the times and their ratios, and the two epochs' last losses, which must
//! agree up to rounding. Without a CUDA device it says so and exits successfully.
//!
//!   cargo bench -p mlp-tensor --features cuda --bench gpu -- [ROWS] [HIDDEN]
//!   (default 65536 rows, two hidden layers of 512)

use mlp_tensor::cuda::Gpu;
use mlp_tensor::init::{Init, Rng};
use mlp_tensor::optim::Adam;
use mlp_tensor::{Device, Params, Tape, Tensor, kernels};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZE: usize = 4096;
const FEATURES: usize = 64;
const BATCH: usize = 1024;

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The fastest of `runs` runs of `f`.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// One epoch of a two-hidden-layer relu MLP with a logistic output, Adam, over `x`/`y` in
/// batches of [`BATCH`]; returns the last batch's loss.
fn epoch(device: &Device, params: &mut Params, opt: &mut Adam, x: &Tensor, y: &Tensor) -> f32 {
    let rows = x.shape()[0];
    let ids: Vec<_> = params.ids().collect();
    let mut last = f32::NAN;
    for start in (0..rows).step_by(BATCH) {
        let len = BATCH.min(rows - start);
        let mut t = Tape::with_device(device.clone());
        let xb = t.input(x.rows(start, len).unwrap());
        let p: Vec<_> = ids.iter().map(|id| t.param(params, *id).unwrap()).collect();
        let mut h = xb;
        for layer in p.chunks(2) {
            h = t.matmul(h, layer[0]).unwrap();
            h = t.add_row(h, layer[1]).unwrap();
            if layer[0] != p[p.len() - 2] {
                h = t.relu(h).unwrap();
            }
        }
        let loss = t.bce_with_logits(h, y.rows(start, len).unwrap(), None).unwrap();
        last = t.value(loss).unwrap().item().unwrap();
        params.zero_grads();
        t.backward(loss, params).unwrap();
        opt.step(params);
    }
    last
}

fn model(hidden: usize) -> Params {
    let mut p = Params::new(7);
    p.add("layer0.weight", &[FEATURES, hidden], Init::HeUniform).unwrap();
    p.add("layer0.bias", &[hidden], Init::Zeros).unwrap();
    p.add("layer1.weight", &[hidden, hidden], Init::HeUniform).unwrap();
    p.add("layer1.bias", &[hidden], Init::Zeros).unwrap();
    p.add("output.weight", &[hidden, 1], Init::XavierUniform).unwrap();
    p.add("output.bias", &[1], Init::Zeros).unwrap();
    p
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(65_536);
    let hidden = args.get(1).copied().unwrap_or(512);
    let gpu = match Gpu::open(0) {
        Ok(g) => Arc::new(g),
        Err(e) => {
            println!("no CUDA device: {e}");
            println!("(nothing to compare; run this on a machine with an NVIDIA GPU)");
            return;
        }
    };
    println!("device: {}", gpu.describe());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);

    // The matrix product.
    let mut rng = Rng::new(1);
    let a = random(&mut rng, SIZE * SIZE);
    let b = random(&mut rng, SIZE * SIZE);
    let mut cpu_out = vec![0f32; SIZE * SIZE];
    let mut gpu_out = vec![0f32; SIZE * SIZE];
    let mm = |out: &mut [f32]| kernels::matmul(&a, &b, out, SIZE, SIZE, SIZE, false, false, false);
    kernels::set_threads(1);
    let cpu1 = best(1, || mm(&mut cpu_out));
    kernels::set_threads(cores);
    let cpun = best(3, || mm(&mut cpu_out));
    kernels::set_threads(1);
    gpu.matmul(&a, &b, &mut gpu_out, SIZE, SIZE, SIZE, false, false, false).unwrap();
    let gpu_t = best(3, || gpu.matmul(&a, &b, &mut gpu_out, SIZE, SIZE, SIZE, false, false, false).unwrap());
    let worst = cpu_out.iter().zip(&gpu_out).map(|(c, g)| (c - g).abs()).fold(0f32, f32::max);
    println!("matmul {SIZE} x {SIZE} x {SIZE} (f32, with the copies both ways):");
    println!("  cpu, 1 thread:      {}", ms(cpu1));
    println!("  cpu, {cores} threads:   {}", ms(cpun));
    println!("  gpu:                {}", ms(gpu_t));
    println!(
        "  ratio cpu/gpu:      {:.1} (1 thread), {:.1} ({cores} threads); largest difference {worst:e}",
        cpu1.as_secs_f64() / gpu_t.as_secs_f64(),
        cpun.as_secs_f64() / gpu_t.as_secs_f64()
    );

    // One epoch of MLP training, the CPU kernels on one thread (as the host runs them).
    let mut rng = Rng::new(2);
    let xs = random(&mut rng, rows * FEATURES);
    let ys: Vec<f32> = xs.chunks(FEATURES).map(|r| if r[0] + r[1] * r[2] > 0.0 { 1.0 } else { 0.0 }).collect();
    let x = Tensor::new(&[rows, FEATURES], xs).unwrap();
    let y = Tensor::new(&[rows, 1], ys).unwrap();
    let run = |device: &Device| {
        let mut params = model(hidden);
        let mut opt = Adam::new(1e-3, 0.0).unwrap();
        let t = Instant::now();
        let loss = epoch(device, &mut params, &mut opt, &x, &y);
        (t.elapsed(), loss)
    };
    let (cpu_epoch, cpu_loss) = run(&Device::Cpu);
    let cuda = Device::Cuda(gpu.clone());
    run(&cuda);
    let (gpu_epoch, gpu_loss) = run(&cuda);
    println!("one MLP epoch ({rows} rows x {FEATURES} features, hidden {hidden}-{hidden}, batch {BATCH}, Adam):");
    println!("  cpu:                {} (last loss {cpu_loss:.6})", ms(cpu_epoch));
    println!("  gpu:                {} (last loss {gpu_loss:.6})", ms(gpu_epoch));
    println!("  ratio cpu/gpu:      {:.1}", cpu_epoch.as_secs_f64() / gpu_epoch.as_secs_f64());
}

//! The CUDA backend (feature `cuda`) against the CPU kernels: opening without a driver is an
//! error, never a panic; with a device, every matrix product transpose combination, every
//! elementwise kernel and short training runs (a logistic regression and an MLP) agree with
//! the CPU up to float rounding. Without a device, the device tests print
//! `skipped: no CUDA device` and pass.

#![cfg(feature = "cuda")]

use mlp_tensor::cuda::{Gpu, Thresholds};
use mlp_tensor::init::{Init, Rng};
use mlp_tensor::kernels::{self, Activation};
use mlp_tensor::optim::{Adam, Sgd};
use mlp_tensor::{Device, Params, Tape, Tensor, TensorError};
use std::sync::{Arc, OnceLock};

/// The first GPU with every operation sent to it, opened once for all tests; `None` (after a
/// `skipped` line naming the test) without one.
fn gpu(test: &str) -> Option<Arc<Gpu>> {
    static GPU: OnceLock<Result<Arc<Gpu>, TensorError>> = OnceLock::new();
    match GPU.get_or_init(|| Gpu::open(0).map(|g| Arc::new(g.with_thresholds(Thresholds::ALWAYS)))) {
        Ok(g) => Some(g.clone()),
        Err(e) => {
            println!("skipped: no CUDA device ({test}): {e}");
            None
        }
    }
}

fn random(rng: &mut Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| lo + (hi - lo) * rng.unit()).collect()
}

/// `got` against `want`, value by value, within `tol` scaled by the value's size.
fn close(what: &str, want: &[f32], got: &[f32], tol: f32) {
    assert_eq!(want.len(), got.len(), "{what}: lengths");
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        assert!((w - g).abs() <= tol * w.abs().max(1.0), "{what}[{i}]: cpu {w}, gpu {g}");
    }
}

#[test]
fn opening_never_panics() {
    // Without a driver (or a device) this is an error naming what is missing; with one, a GPU.
    match Gpu::open(0) {
        Ok(g) => println!("a CUDA device is present: {}", g.describe()),
        Err(e) => {
            assert!(matches!(e, TensorError::Device(_)), "{e:?}");
            let m = e.to_string();
            assert!(m.contains("CUDA") || m.contains("cuBLAS") || m.contains("NVRTC"), "{m}");
            println!("no CUDA device, as expected on this machine: {m}");
        }
    }
    // No machine has a thousand and one GPUs: always an error, never a panic.
    let e = Gpu::open(1000).unwrap_err();
    assert!(matches!(e, TensorError::Device(_)), "{e:?}");
}

#[test]
fn devices_describe_themselves() {
    assert_eq!(Device::Cpu.describe(), "cpu");
    assert!(!Device::Cpu.is_gpu());
    let Some(g) = gpu("devices_describe_themselves") else { return };
    let d = Device::Cuda(g);
    assert!(d.is_gpu());
    assert!(d.describe().starts_with("cuda:0 ("), "{}", d.describe());
}

#[test]
fn matmul_matches_the_cpu_in_every_transpose_combination() {
    let Some(g) = gpu("matmul_matches_the_cpu_in_every_transpose_combination") else { return };
    let mut rng = Rng::new(3);
    for (m, k, n) in [(1, 1, 1), (3, 5, 7), (7, 1, 4), (64, 33, 17), (130, 257, 65), (1, 300, 1)] {
        for ta in [false, true] {
            for tb in [false, true] {
                for accumulate in [false, true] {
                    let a = random(&mut rng, m * k, -1.0, 1.0);
                    let b = random(&mut rng, k * n, -1.0, 1.0);
                    let start = random(&mut rng, m * n, -1.0, 1.0);
                    let (mut want, mut got) = (start.clone(), start);
                    kernels::matmul(&a, &b, &mut want, m, k, n, ta, tb, accumulate);
                    g.matmul(&a, &b, &mut got, m, k, n, ta, tb, accumulate).unwrap();
                    let what = format!("{m}x{k}x{n} ta={ta} tb={tb} accumulate={accumulate}");
                    close(&what, &want, &got, 1e-5 * k as f32 + 1e-5);
                }
            }
        }
    }
}

#[test]
fn matmul_handles_empty_sizes_and_refuses_bad_lengths() {
    let Some(g) = gpu("matmul_handles_empty_sizes_and_refuses_bad_lengths") else { return };
    let mut out = vec![5.0; 6];
    g.matmul(&[], &[], &mut out, 2, 0, 3, false, false, true).unwrap();
    assert_eq!(out, vec![5.0; 6]);
    g.matmul(&[], &[], &mut out, 2, 0, 3, false, false, false).unwrap();
    assert_eq!(out, vec![0.0; 6]);
    g.matmul(&[], &[1.0, 2.0], &mut [], 0, 1, 2, false, false, false).unwrap();
    assert!(g.matmul(&[1.0], &[1.0], &mut out, 2, 1, 3, false, false, false).is_err());
}

#[test]
fn activations_match_the_cpu_forward_and_backward() {
    let Some(g) = gpu("activations_match_the_cpu_forward_and_backward") else { return };
    let mut rng = Rng::new(4);
    let n = 10_003;
    let mut x = random(&mut rng, n, -8.0, 8.0);
    x[0] = 0.0;
    x[1] = -0.0;
    x[2] = 90.0;
    x[3] = -90.0;
    let grad = random(&mut rng, n, -2.0, 2.0);
    for act in Activation::ALL {
        let mut want = vec![0f32; n];
        let mut got = vec![0f32; n];
        kernels::activation(act, &x, &mut want);
        g.activation(act, &x, &mut got).unwrap();
        close(&format!("{act:?}"), &want, &got, 1e-6);
        let saved = if act.saves_output() { &want } else { &x };
        let mut dwant = vec![0f32; n];
        let mut dgot = vec![0f32; n];
        kernels::activation_backward(act, &grad, saved, &mut dwant);
        g.activation_backward(act, &grad, saved, &mut dgot).unwrap();
        close(&format!("{act:?} backward"), &dwant, &dgot, 1e-6);
    }
}

#[test]
fn bias_and_its_gradient_match_the_cpu() {
    let Some(g) = gpu("bias_and_its_gradient_match_the_cpu") else { return };
    let mut rng = Rng::new(5);
    for (rows, cols) in [(1, 1), (5, 1), (1000, 1), (31, 33), (1001, 37), (64, 100), (3, 2000)] {
        let x = random(&mut rng, rows * cols, -1.0, 1.0);
        let b = random(&mut rng, cols, -1.0, 1.0);
        let mut want = vec![0f32; rows * cols];
        let mut got = vec![0f32; rows * cols];
        kernels::add_row(&x, &b, &mut want);
        g.add_row(&x, &b, &mut got).unwrap();
        close(&format!("add_row {rows}x{cols}"), &want, &got, 0.0);
        let mut swant = vec![0f32; cols];
        let mut sgot = vec![0f32; cols];
        kernels::col_sum(&x, &mut swant);
        g.col_sum(&x, &mut sgot).unwrap();
        close(&format!("col_sum {rows}x{cols}"), &swant, &sgot, 1e-6 * rows as f32 + 1e-6);
    }
}

/// Synthetic data: `rows` rows of `features` values in [-1, 1] and a 0/1 label of a nonlinear
/// rule.
fn data(rows: usize, features: usize) -> (Tensor, Tensor) {
    let mut rng = Rng::new(6);
    let xs = random(&mut rng, rows * features, -1.0, 1.0);
    let ys = xs.chunks(features).map(|r| if r[0] * r[1] + 0.5 * r[2] > 0.0 { 1.0 } else { 0.0 }).collect();
    (Tensor::new(&[rows, features], xs).unwrap(), Tensor::new(&[rows, 1], ys).unwrap())
}

/// Trains a model (`hidden` empty: a logistic regression; otherwise an MLP with relu, sigmoid
/// and tanh layers in turn) on `device` and returns every step's loss and the final weights.
fn train(device: &Device, hidden: &[usize]) -> (Vec<f32>, Vec<Vec<f32>>) {
    let (rows, features, batch) = (512, 8, 128);
    let (x, y) = data(rows, features);
    let mut params = Params::new(11);
    let mut width = features;
    let mut layers = Vec::new();
    for (i, &h) in hidden.iter().chain([1].iter()).enumerate() {
        let w = params.add(&format!("w{i}"), &[width, h], Init::XavierUniform).unwrap();
        let b = params.add(&format!("b{i}"), &[h], Init::Uniform(0.1)).unwrap();
        layers.push((w, b));
        width = h;
    }
    let mut adam = Adam::new(0.01, 1e-4).unwrap();
    let mut sgd = Sgd::new(0.1, 0.9, 0.0).unwrap();
    let mut losses = Vec::new();
    for epoch in 0..4 {
        for start in (0..rows).step_by(batch) {
            let mut t = Tape::with_device(device.clone());
            let mut h = t.input(x.rows(start, batch).unwrap());
            for (i, (w, b)) in layers.iter().enumerate() {
                let (w, b) = (t.param(&params, *w).unwrap(), t.param(&params, *b).unwrap());
                h = t.matmul(h, w).unwrap();
                h = t.add_row(h, b).unwrap();
                if i + 1 < layers.len() {
                    h = match i % 3 {
                        0 => t.relu(h).unwrap(),
                        1 => t.sigmoid(h).unwrap(),
                        _ => t.tanh(h).unwrap(),
                    };
                }
            }
            let loss = t.bce_with_logits(h, y.rows(start, batch).unwrap(), None).unwrap();
            losses.push(t.value(loss).unwrap().item().unwrap());
            params.zero_grads();
            t.backward(loss, &mut params).unwrap();
            if epoch % 2 == 0 {
                adam.step(&mut params);
            } else {
                sgd.step(&mut params);
            }
        }
    }
    let weights = params.ids().map(|id| params.value(id).unwrap().data().to_vec()).collect();
    (losses, weights)
}

#[test]
fn logistic_regression_trains_the_same_on_both_devices() {
    let Some(g) = gpu("logistic_regression_trains_the_same_on_both_devices") else { return };
    let (cpu, cpu_w) = train(&Device::Cpu, &[]);
    let (gpu, gpu_w) = train(&Device::Cuda(g), &[]);
    close("losses", &cpu, &gpu, 1e-4);
    assert!(cpu.last() < cpu.first(), "the loss went down: {cpu:?}");
    for (c, g) in cpu_w.iter().zip(&gpu_w) {
        close("weights", c, g, 1e-3);
    }
}

#[test]
fn mlp_trains_the_same_on_both_devices() {
    let Some(g) = gpu("mlp_trains_the_same_on_both_devices") else { return };
    let (cpu, cpu_w) = train(&Device::Cpu, &[32, 16, 8]);
    let (gpu, gpu_w) = train(&Device::Cuda(g), &[32, 16, 8]);
    close("losses", &cpu, &gpu, 1e-3);
    assert!(cpu.last() < cpu.first(), "the loss went down: {cpu:?}");
    for (c, g) in cpu_w.iter().zip(&gpu_w) {
        close("weights", c, g, 1e-2);
    }
}

#[test]
fn small_operations_stay_on_the_cpu_under_the_default_thresholds() {
    let Some(_) = gpu("small_operations_stay_on_the_cpu_under_the_default_thresholds") else { return };
    // A second context with the default thresholds: this model's operations are all below
    // them, so every one runs on the CPU and the results are the CPU's, bit for bit.
    let g = Arc::new(Gpu::open(0).unwrap());
    assert_eq!(g.thresholds(), Thresholds::DEFAULT);
    let (cpu, cpu_w) = train(&Device::Cpu, &[32, 16, 8]);
    let (gpu, gpu_w) = train(&Device::Cuda(g), &[32, 16, 8]);
    assert_eq!(cpu, gpu);
    assert_eq!(cpu_w, gpu_w);
}

//! The device switch on the CPU, which every build has: a tape is on the CPU unless told
//! otherwise, `with_device(Device::Cpu)` computes exactly what `Tape::new` does, and the slice
//! kernels the dispatchers share with the GPU backend (activations, bias, column sums) compute
//! what their definitions say.

use mlp_tensor::init::{Init, Rng};
use mlp_tensor::kernels::{self, Activation};
use mlp_tensor::{Device, Params, Tape, Tensor};

#[test]
fn tapes_are_on_the_cpu_by_default() {
    let mut t = Tape::new();
    assert!(matches!(t.device(), Device::Cpu));
    assert_eq!(t.device().describe(), "cpu");
    assert!(!t.device().is_gpu());
    t.set_device(Device::default());
    assert!(matches!(t.device(), Device::Cpu));
}

fn step(mut t: Tape) -> (f32, Vec<Vec<f32>>) {
    let mut rng = Rng::new(9);
    let mut p = Params::new(3);
    let w0 = p.add("w0", &[5, 7], Init::HeUniform).unwrap();
    let b0 = p.add("b0", &[7], Init::Uniform(0.3)).unwrap();
    let w1 = p.add("w1", &[7, 1], Init::XavierUniform).unwrap();
    let x: Vec<f32> = (0..20).map(|_| rng.unit() * 2.0 - 1.0).collect();
    let xv = t.input(Tensor::new(&[4, 5], x).unwrap());
    let (w0v, b0v, w1v) = (t.param(&p, w0).unwrap(), t.param(&p, b0).unwrap(), t.param(&p, w1).unwrap());
    let h = t.matmul(xv, w0v).unwrap();
    let h = t.add_row(h, b0v).unwrap();
    let a = t.relu(h).unwrap();
    let s = t.sigmoid(h).unwrap();
    let th = t.tanh(h).unwrap();
    let h = t.add(a, s).unwrap();
    let h = t.mul(h, th).unwrap();
    let z = t.matmul(h, w1v).unwrap();
    let loss = t.bce_with_logits(z, Tensor::new(&[4, 1], vec![1.0, 0.0, 1.0, 0.0]).unwrap(), None).unwrap();
    t.backward(loss, &mut p).unwrap();
    let grads = p.ids().map(|id| p.grad(id).unwrap().data().to_vec()).collect();
    (t.value(loss).unwrap().item().unwrap(), grads)
}

#[test]
fn a_cpu_device_computes_what_a_plain_tape_does() {
    assert_eq!(step(Tape::new()), step(Tape::with_device(Device::Cpu)));
}

#[test]
fn slice_kernels_follow_their_definitions() {
    let x = [-2.0f32, -0.5, 0.0, 0.5, 2.0, 30.0];
    let mut y = [0f32; 6];
    kernels::activation(Activation::Relu, &x, &mut y);
    assert_eq!(y, [0.0, 0.0, 0.0, 0.5, 2.0, 30.0]);
    kernels::activation(Activation::Sigmoid, &x, &mut y);
    for (xi, yi) in x.iter().zip(&y) {
        assert!((yi - 1.0 / (1.0 + (-xi).exp())).abs() < 1e-6);
    }
    let g = [1.0f32; 6];
    let mut d = [0f32; 6];
    kernels::activation_backward(Activation::Sigmoid, &g, &y, &mut d);
    for (yi, di) in y.iter().zip(&d) {
        assert_eq!(*di, yi * (1.0 - yi));
    }
    kernels::activation_backward(Activation::Relu, &g, &x, &mut d);
    assert_eq!(d, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    kernels::activation(Activation::Tanh, &x, &mut y);
    kernels::activation_backward(Activation::Tanh, &g, &y, &mut d);
    for (yi, di) in y.iter().zip(&d) {
        assert_eq!(*di, 1.0 - yi * yi);
    }
    assert!(!Activation::Relu.saves_output() && Activation::Sigmoid.saves_output() && Activation::Tanh.saves_output());

    // A 3 × 2 matrix: the bias on every row, and the column sums.
    let m = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut out = [0f32; 6];
    kernels::add_row(&m, &[10.0, 20.0], &mut out);
    assert_eq!(out, [11.0, 22.0, 13.0, 24.0, 15.0, 26.0]);
    let mut sums = [7f32; 2];
    kernels::col_sum(&m, &mut sums);
    assert_eq!(sums, [9.0, 12.0]);
}

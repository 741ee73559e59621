//! Every operation's gradient against central finite differences (computed in f64 from the
//! f32 forward kernels, on small random inputs), matrix products against a naive triple loop,
//! the optimizers on problems with known minima, and training a logistic regression and a
//! small MLP end to end.

use mlp_tensor::init::{Init, Rng};
use mlp_tensor::optim::{Adam, Sgd};
use mlp_tensor::{Params, Tape, Tensor, TensorError, Var};

fn random(rng: &mut Rng, shape: &[usize], lo: f32, hi: f32) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| lo + (hi - lo) * rng.unit()).collect()).unwrap()
}

/// Checks `d f / d x` for every value of every parameter of `params`, where `f` builds a scalar
/// on a tape from the parameters.
fn check_grad(name: &str, params: &mut Params, f: &dyn Fn(&mut Tape, &Params) -> Var) {
    params.zero_grads();
    let mut t = Tape::new();
    let loss = f(&mut t, params);
    t.backward(loss, params).unwrap();
    let eval = |p: &Params| {
        let mut t = Tape::new();
        let l = f(&mut t, p);
        f64::from(t.value(l).unwrap().item().unwrap())
    };
    for id in params.ids().collect::<Vec<_>>() {
        let analytic = params.grad(id).unwrap().clone();
        let base = params.value(id).unwrap().clone();
        for k in 0..base.len() {
            let h = 1e-2f32 * base.data()[k].abs().max(1.0);
            let mut plus = base.clone();
            plus.data_mut()[k] += h;
            let mut minus = base.clone();
            minus.data_mut()[k] -= h;
            let mut p = params.clone();
            p.set(id, plus).unwrap();
            let fp = eval(&p);
            p.set(id, minus).unwrap();
            let fm = eval(&p);
            let numeric = (fp - fm) / (2.0 * f64::from(h));
            let a = f64::from(analytic.data()[k]);
            let tol = 2e-2 * numeric.abs().max(a.abs()).max(1e-2);
            assert!(
                (a - numeric).abs() <= tol,
                "{name}: d/d{}[{k}]: analytic {a}, numeric {numeric}",
                params.name(id).unwrap()
            );
        }
    }
}

fn two(rng: &mut Rng, shape: &[usize]) -> (Params, mlp_tensor::ParamId, mlp_tensor::ParamId) {
    let mut p = Params::new(1);
    let a = p.add("a", shape, Init::Zeros).unwrap();
    let b = p.add("b", shape, Init::Zeros).unwrap();
    p.set(a, random(rng, shape, -1.5, 1.5)).unwrap();
    p.set(b, random(rng, shape, 0.5, 2.0)).unwrap();
    (p, a, b)
}

#[test]
fn elementwise_gradients_match_finite_differences() {
    let mut rng = Rng::new(7);
    type Bin = fn(&mut Tape, Var, Var) -> mlp_tensor::Result<Var>;
    let binaries: [(&str, Bin); 4] = [("add", Tape::add), ("sub", Tape::sub), ("mul", Tape::mul), ("div", Tape::div)];
    for (name, op) in binaries {
        let (mut p, a, b) = two(&mut rng, &[3, 4]);
        // A weighted sum so that every output value has its own gradient.
        let w = random(&mut rng, &[3, 4], -1.0, 1.0);
        check_grad(name, &mut p, &|t, p| {
            let (x, y) = (t.param(p, a).unwrap(), t.param(p, b).unwrap());
            let z = op(t, x, y).unwrap();
            let wv = t.input(w.clone());
            let zw = t.mul(z, wv).unwrap();
            t.sum(zw).unwrap()
        });
    }
    type Un = fn(&mut Tape, Var) -> mlp_tensor::Result<Var>;
    let unaries: [(&str, Un); 6] = [
        ("relu", Tape::relu),
        ("sigmoid", Tape::sigmoid),
        ("tanh", Tape::tanh),
        ("exp", Tape::exp),
        ("softmax", Tape::softmax),
        ("sum_squares", Tape::sum_squares),
    ];
    for (name, op) in unaries {
        let (mut p, a, _) = two(&mut rng, &[4, 3]);
        let w = random(&mut rng, &[4, 3], -1.0, 1.0);
        check_grad(name, &mut p, &|t, p| {
            let x = t.param(p, a).unwrap();
            let z = op(t, x).unwrap();
            if t.value(z).unwrap().len() == 1 {
                return z;
            }
            let wv = t.input(w.clone());
            let zw = t.mul(z, wv).unwrap();
            t.sum(zw).unwrap()
        });
    }
    // log on positive values; scale, add_scalar and mean.
    let (mut p, _, b) = two(&mut rng, &[2, 5]);
    let w = random(&mut rng, &[2, 5], -1.0, 1.0);
    check_grad("log, scale, add_scalar, mean", &mut p, &|t, p| {
        let x = t.param(p, b).unwrap();
        let l = t.log(x).unwrap();
        let s = t.scale(l, -2.5).unwrap();
        let s = t.add_scalar(s, 3.0).unwrap();
        let wv = t.input(w.clone());
        let z = t.mul(s, wv).unwrap();
        t.mean(z).unwrap()
    });
}

#[test]
fn matmul_and_bias_gradients_match_finite_differences() {
    let mut rng = Rng::new(11);
    let mut p = Params::new(2);
    let x = p.add("x", &[5, 3], Init::Uniform(1.0)).unwrap();
    let w = p.add("w", &[3, 4], Init::Uniform(1.0)).unwrap();
    let b = p.add("b", &[4], Init::Uniform(1.0)).unwrap();
    let r = random(&mut rng, &[5, 4], -1.0, 1.0);
    check_grad("matmul + add_row", &mut p, &|t, p| {
        let (xv, wv, bv) = (t.param(p, x).unwrap(), t.param(p, w).unwrap(), t.param(p, b).unwrap());
        let h = t.matmul(xv, wv).unwrap();
        let h = t.add_row(h, bv).unwrap();
        let rv = t.input(r.clone());
        let z = t.mul(h, rv).unwrap();
        t.sum(z).unwrap()
    });
}

#[test]
fn gather_gradients_add_into_the_rows_looked_up() {
    let mut rng = Rng::new(13);
    let mut p = Params::new(4);
    let table = p.add("embedding", &[5, 2], Init::Uniform(1.0)).unwrap();
    // Row 3 twice, row 4 never.
    let idx = vec![3, 0, 3, 1, 2];
    let r = random(&mut rng, &[5, 2], -1.0, 1.0);
    check_grad("gather", &mut p, &|t, p| {
        let e = t.param(p, table).unwrap();
        let g = t.gather(e, idx.clone()).unwrap();
        let rv = t.input(r.clone());
        let z = t.mul(g, rv).unwrap();
        t.sum(z).unwrap()
    });
    assert_eq!(&p.grad(table).unwrap().data()[8..10], &[0.0, 0.0], "row 4 was not looked up");
    let mut t = Tape::new();
    let e = t.param(&p, table).unwrap();
    assert!(t.gather(e, vec![5]).unwrap_err().to_string().contains("row 5 of a table with 5 rows"));
}

#[test]
fn dropout_gradients_use_the_same_mask() {
    let mut rng = Rng::new(17);
    let mut p = Params::new(5);
    let a = p.add("a", &[6, 5], Init::Uniform(1.0)).unwrap();
    let r = random(&mut rng, &[6, 5], -1.0, 1.0);
    check_grad("dropout", &mut p, &|t, p| {
        let x = t.param(p, a).unwrap();
        let d = t.dropout(x, 0.4, 99).unwrap();
        let rv = t.input(r.clone());
        let z = t.mul(d, rv).unwrap();
        t.sum(z).unwrap()
    });
    let mut t = Tape::new();
    let x = t.input(Tensor::full(&[1000], 1.0));
    let d = t.dropout(x, 0.25, 1).unwrap();
    let v = t.value(d).unwrap().data().to_vec();
    let zeros = v.iter().filter(|x| **x == 0.0).count();
    assert!((200..300).contains(&zeros), "{zeros} of 1000 dropped at rate 0.25");
    assert!(v.iter().all(|x| *x == 0.0 || (*x - 1.0 / 0.75).abs() < 1e-6));
    assert!(t.dropout(x, 1.0, 1).is_err());
}

#[test]
fn loss_gradients_match_finite_differences() {
    let mut rng = Rng::new(5);
    let mut p = Params::new(3);
    let z = p.add("z", &[6, 1], Init::Uniform(3.0)).unwrap();
    let targets = Tensor::new(&[6, 1], vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0]).unwrap();
    let weights = Tensor::new(&[6], vec![1.0, 3.0, 1.0, 0.5, 2.0, 1.0]).unwrap();
    for w in [None, Some(weights.clone())] {
        check_grad("bce_with_logits", &mut p, &|t, p| {
            let zv = t.param(p, z).unwrap();
            t.bce_with_logits(zv, targets.clone(), w.clone()).unwrap()
        });
    }
    let logits = p.add("logits", &[6, 3], Init::Uniform(2.0)).unwrap();
    let labels = vec![0, 2, 1, 1, 0, 2];
    for w in [None, Some(weights.clone())] {
        check_grad("softmax_cross_entropy", &mut p, &|t, p| {
            let zv = t.param(p, logits).unwrap();
            t.softmax_cross_entropy(zv, labels.clone(), w.clone()).unwrap()
        });
    }
    let target = random(&mut rng, &[6, 1], -2.0, 2.0);
    check_grad("mse", &mut p, &|t, p| {
        let zv = t.param(p, z).unwrap();
        t.mse(zv, target.clone()).unwrap()
    });
    // Both sides of Huber's threshold: residuals up to about 5 with delta 1.
    check_grad("huber", &mut p, &|t, p| {
        let zv = t.param(p, z).unwrap();
        t.huber(zv, target.clone(), 1.0).unwrap()
    });
}

#[test]
fn matmul_matches_a_naive_product_for_every_transpose() {
    let mut rng = Rng::new(3);
    for (m, k, n) in [(1, 1, 1), (3, 5, 2), (17, 9, 33), (64, 65, 3)] {
        let a = random(&mut rng, &[m, k], -1.0, 1.0);
        let b = random(&mut rng, &[k, n], -1.0, 1.0);
        let mut want = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|l| a.data()[i * k + l] * b.data()[l * n + j]).sum();
            }
        }
        let mut t = Tape::new();
        let (av, bv) = (t.input(a.clone()), t.input(b.clone()));
        let c = t.matmul(av, bv).unwrap();
        for (x, y) in t.value(c).unwrap().data().iter().zip(&want) {
            assert!((x - y).abs() < 1e-4, "{m}x{k}x{n}: {x} vs {y}");
        }
        // Transposed operands through the kernel directly.
        let at: Vec<f32> = (0..k * m).map(|idx| a.data()[(idx % m) * k + idx / m]).collect();
        let bt: Vec<f32> = (0..n * k).map(|idx| b.data()[(idx % k) * n + idx / k]).collect();
        let mut out = vec![0f32; m * n];
        mlp_tensor::kernels::matmul(&at, &bt, &mut out, m, k, n, true, true, false);
        for (x, y) in out.iter().zip(&want) {
            assert!((x - y).abs() < 1e-4);
        }
        mlp_tensor::kernels::matmul(&at, &bt, &mut out, m, k, n, true, true, true);
        for (x, y) in out.iter().zip(&want) {
            assert!((x - 2.0 * y).abs() < 2e-4, "accumulate");
        }
    }
}

#[test]
fn shape_errors_name_the_operation_and_shapes() {
    let mut t = Tape::new();
    let a = t.input(Tensor::zeros(&[2, 3]));
    let b = t.input(Tensor::zeros(&[2, 3]));
    let e = t.matmul(a, b).unwrap_err();
    assert!(matches!(e, TensorError::Shape { op: "matmul", .. }), "{e}");
    assert!(e.to_string().contains("[2, 3] · [2, 3]"), "{e}");
    let c = t.input(Tensor::zeros(&[3, 2]));
    assert!(t.add(a, c).unwrap_err().to_string().contains("[2, 3] and [3, 2] differ"));
    let bias = t.input(Tensor::zeros(&[2]));
    assert!(t.add_row(a, bias).is_err());
    assert!(t.softmax_cross_entropy(a, vec![0, 3], None).unwrap_err().to_string().contains("class 3 with 3 classes"));
    assert!(t.bce_with_logits(a, Tensor::zeros(&[5]), None).unwrap_err().to_string().contains("5 targets for 6"));
    let mut p = Params::new(0);
    assert!(t.backward(a, &mut p).unwrap_err().to_string().contains("single value"));
    assert!(Tensor::new(&[2, 2], vec![1.0]).is_err());
    assert!(Sgd::new(-1.0, 0.0, 0.0).is_err());
    assert!(Sgd::new(0.1, 1.0, 0.0).is_err());
    assert!(Adam::new(f32::NAN, 0.0).is_err());
    assert!(p.add("w", &[1], Init::Zeros).is_ok());
    assert!(p.add("w", &[1], Init::Zeros).unwrap_err().to_string().contains("exists already"));
}

#[test]
fn initializers_are_deterministic_and_in_range() {
    let a = Init::XavierUniform.tensor(&[50, 30], &mut Rng::new(9));
    let b = Init::XavierUniform.tensor(&[50, 30], &mut Rng::new(9));
    let c = Init::XavierUniform.tensor(&[50, 30], &mut Rng::new(10));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let limit = (6.0f32 / 80.0).sqrt();
    assert!(a.data().iter().all(|x| x.abs() <= limit));
    let he = Init::HeUniform.tensor(&[8, 4], &mut Rng::new(1));
    assert!(he.data().iter().all(|x| x.abs() <= (6.0f32 / 8.0).sqrt()));
}

/// Minimizes `sum((p - c)^2)` with each optimizer; all reach `c`.
#[test]
fn optimizers_reach_the_minimum_of_a_quadratic() {
    let c = Tensor::new(&[4], vec![1.0, -2.0, 0.5, 3.0]).unwrap();
    let run = |step: &mut dyn FnMut(&mut Params), steps: usize| {
        let mut p = Params::new(0);
        let id = p.add("p", &[4], Init::Zeros).unwrap();
        for _ in 0..steps {
            p.zero_grads();
            let mut t = Tape::new();
            let x = t.param(&p, id).unwrap();
            let cv = t.input(c.clone());
            let d = t.sub(x, cv).unwrap();
            let l = t.sum_squares(d).unwrap();
            t.backward(l, &mut p).unwrap();
            step(&mut p);
        }
        p.value(id).unwrap().clone()
    };
    let mut sgd = Sgd::new(0.1, 0.0, 0.0).unwrap();
    let mut momentum = Sgd::new(0.05, 0.9, 0.0).unwrap();
    let mut adam = Adam::new(0.1, 0.0).unwrap();
    let mut adamw = Adam::adamw(0.1, 0.0).unwrap();
    for (name, got) in [
        ("sgd", run(&mut |p| sgd.step(p), 200)),
        ("momentum", run(&mut |p| momentum.step(p), 300)),
        ("adam", run(&mut |p| adam.step(p), 500)),
        ("adamw", run(&mut |p| adamw.step(p), 500)),
    ] {
        for (x, y) in got.data().iter().zip(c.data()) {
            assert!((x - y).abs() < 1e-2, "{name}: {:?}", got.data());
        }
    }
    // L2 decay pulls the minimum toward zero: p* = c / (1 + λ) for SGD's `g + λ p` with loss
    // sum((p - c)^2), whose gradient is 2 (p - c): 2 (p - c) + λ p = 0 → p = 2c / (2 + λ).
    let mut decayed = Sgd::new(0.05, 0.0, 1.0).unwrap();
    let got = run(&mut |p| decayed.step(p), 500);
    for (x, y) in got.data().iter().zip(c.data()) {
        assert!((x - 2.0 * y / 3.0).abs() < 1e-3, "{:?}", got.data());
    }
}

/// Logistic regression on a separable-in-expectation problem recovers the direction of the
/// true weights; an MLP fits XOR, which a linear model cannot.
#[test]
fn logistic_regression_and_an_mlp_learn() {
    let mut rng = Rng::new(42);
    let (n, d) = (2_000, 3);
    let true_w = [2.0f32, -1.0, 0.5];
    let mut xs = Vec::with_capacity(n * d);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let x: Vec<f32> = (0..d).map(|_| rng.unit() * 4.0 - 2.0).collect();
        let z: f32 = x.iter().zip(&true_w).map(|(a, b)| a * b).sum::<f32>() + 0.3;
        ys.push(if rng.unit() < mlp_tensor::kernels::sigmoid(z) { 1.0 } else { 0.0 });
        xs.extend(x);
    }
    let x = Tensor::new(&[n, d], xs).unwrap();
    let y = Tensor::new(&[n, 1], ys).unwrap();
    let mut p = Params::new(0);
    let w = p.add("w", &[d, 1], Init::Zeros).unwrap();
    let b = p.add("b", &[1], Init::Zeros).unwrap();
    let mut opt = Adam::new(0.05, 0.0).unwrap();
    for _ in 0..300 {
        p.zero_grads();
        let mut t = Tape::new();
        let (xv, wv, bv) = (t.input(x.clone()), t.param(&p, w).unwrap(), t.param(&p, b).unwrap());
        let z = t.matmul(xv, wv).unwrap();
        let z = t.add_row(z, bv).unwrap();
        let l = t.bce_with_logits(z, y.clone(), None).unwrap();
        t.backward(l, &mut p).unwrap();
        opt.step(&mut p);
    }
    let got = p.value(w).unwrap().data().to_vec();
    for (g, t) in got.iter().zip(&true_w) {
        assert!((g - t).abs() < 0.35, "weights {got:?} vs {true_w:?}");
    }

    // XOR with a 2-8-1 tanh network.
    let x = Tensor::new(&[4, 2], vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).unwrap();
    let y = Tensor::new(&[4, 1], vec![0.0, 1.0, 1.0, 0.0]).unwrap();
    let mut p = Params::new(3);
    let w1 = p.add("w1", &[2, 8], Init::XavierUniform).unwrap();
    let b1 = p.add("b1", &[8], Init::Zeros).unwrap();
    let w2 = p.add("w2", &[8, 1], Init::XavierUniform).unwrap();
    let b2 = p.add("b2", &[1], Init::Zeros).unwrap();
    let mut opt = Adam::new(0.05, 0.0).unwrap();
    let mut last = f32::INFINITY;
    for _ in 0..800 {
        p.zero_grads();
        let mut t = Tape::new();
        let xv = t.input(x.clone());
        let (w1v, b1v, w2v, b2v) =
            (t.param(&p, w1).unwrap(), t.param(&p, b1).unwrap(), t.param(&p, w2).unwrap(), t.param(&p, b2).unwrap());
        let h = t.matmul(xv, w1v).unwrap();
        let h = t.add_row(h, b1v).unwrap();
        let h = t.tanh(h).unwrap();
        let z = t.matmul(h, w2v).unwrap();
        let z = t.add_row(z, b2v).unwrap();
        let l = t.bce_with_logits(z, y.clone(), None).unwrap();
        last = t.value(l).unwrap().item().unwrap();
        t.backward(l, &mut p).unwrap();
        opt.step(&mut p);
    }
    assert!(last < 0.05, "XOR loss {last}");
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let train = |seed: u64| {
        let mut p = Params::new(seed);
        let w = p.add("w", &[3, 2], Init::HeUniform).unwrap();
        let x = Tensor::new(&[2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0]).unwrap();
        let mut opt = Sgd::new(0.1, 0.9, 1e-3).unwrap();
        for _ in 0..5 {
            p.zero_grads();
            let mut t = Tape::new();
            let (xv, wv) = (t.input(x.clone()), t.param(&p, w).unwrap());
            let z = t.matmul(xv, wv).unwrap();
            let l = t.softmax_cross_entropy(z, vec![0, 1], None).unwrap();
            t.backward(l, &mut p).unwrap();
            opt.step(&mut p);
        }
        p.value(w).unwrap().clone()
    };
    assert_eq!(train(4), train(4));
    assert_ne!(train(4), train(5));
}

#[test]
fn weights_round_trip_through_safetensors() {
    let mut p = Params::new(21);
    p.add("layer1.weight", &[3, 4], Init::XavierUniform).unwrap();
    p.add("layer1.bias", &[4], Init::Uniform(0.5)).unwrap();
    p.add("scalar", &[], Init::Uniform(1.0)).unwrap();
    let meta: std::collections::HashMap<String, String> =
        [("kind".to_string(), "mlp".to_string()), ("features".to_string(), "[\"a\",\"b\"]".to_string())].into();
    let bytes = mlp_tensor::weights::to_safetensors(&p, &meta).unwrap();
    // The header is JSON after an 8-byte little-endian length, as the format says.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(header.contains("\"layer1.weight\"") && header.contains("\"F32\"") && header.contains("__metadata__"));
    let (tensors, back_meta) = mlp_tensor::weights::from_safetensors(&bytes).unwrap();
    assert_eq!(back_meta, meta);
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["layer1.bias", "layer1.weight", "scalar"]);
    for (name, t) in &tensors {
        assert_eq!(t, p.value(p.find(name).unwrap()).unwrap(), "{name}");
    }
    assert!(
        mlp_tensor::weights::from_safetensors(b"not a file")
            .unwrap_err()
            .to_string()
            .contains("not a safetensors file")
    );
}

#[test]
fn a_trained_set_reloads_from_its_weights_file() {
    let mut p = Params::new(8);
    p.add("w", &[2, 3], Init::HeUniform).unwrap();
    p.add("b", &[3], Init::Uniform(0.1)).unwrap();
    let bytes = mlp_tensor::weights::to_safetensors(&p, &Default::default()).unwrap();
    let (tensors, _) = mlp_tensor::weights::from_safetensors(&bytes).unwrap();
    let q = Params::from_tensors(tensors).unwrap();
    for name in ["w", "b"] {
        assert_eq!(q.value(q.find(name).unwrap()).unwrap(), p.value(p.find(name).unwrap()).unwrap());
    }
}

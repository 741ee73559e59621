//! Loading a trained model from its artifact's two files and applying it: the predictions
//! against the model's definition computed by hand, and the errors of a damaged artifact.

use mlp_tensor::init::Init;
use mlp_tensor::model::{Model, Task};
use mlp_tensor::weights::to_safetensors;
use mlp_tensor::{Params, Tensor};

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn a_logistic_regression_predicts_by_its_definition() {
    let mut p = Params::new(1);
    let w = p.add("weights", &[2, 1], Init::Uniform(1.0)).unwrap();
    let b = p.add("bias", &[1], Init::Uniform(1.0)).unwrap();
    let e = p.add("embedding.color", &[4, 1], Init::Uniform(1.0)).unwrap();
    let weights = to_safetensors(&p, &Default::default()).unwrap();
    let spec = r#"{"format": "mlp.model", "version": 1, "kind": "logistic_regression", "label": "y",
        "inputs": {"numeric": ["a", "b"], "categorical": [{"name": "color", "categories": 3}]},
        "transform": {"digest": "blake3:abc"}}"#;
    let m = Model::load(spec, &weights).unwrap();
    assert_eq!(m.numeric(), ["a", "b"]);
    assert_eq!(m.transform_digest(), Some("blake3:abc"));
    assert_eq!(m.task(), &Task::Classification(vec![0.0, 1.0]));
    let x = Tensor::new(&[3, 2], vec![1.0, 2.0, -1.0, 0.5, 0.0, 0.0]).unwrap();
    let cats = vec![vec![0, 2, 3]];
    let out = m.predict(3, Some(&x), &cats).unwrap();
    assert_eq!(out.shape(), [3, 2]);
    let (wv, bv, ev) = (p.value(w).unwrap().data(), p.value(b).unwrap().data()[0], p.value(e).unwrap().data());
    for r in 0..3 {
        let z = x.data()[2 * r] * wv[0] + x.data()[2 * r + 1] * wv[1] + ev[cats[0][r]] + bv;
        let want = sigmoid(z);
        assert!((out.data()[2 * r + 1] - want).abs() < 1e-6, "row {r}");
        assert!((out.data()[2 * r] + out.data()[2 * r + 1] - 1.0).abs() < 1e-6);
    }
    // A category past the count reads the missing-category row.
    let far = m.predict(1, Some(&x.rows(0, 1).unwrap()), &[vec![99]]).unwrap();
    let z = x.data()[0] * wv[0] + x.data()[1] * wv[1] + ev[3] + bv;
    assert!((far.data()[1] - sigmoid(z)).abs() < 1e-6);
}

#[test]
fn an_mlp_classifier_and_regressor_predict_by_their_definition() {
    let mut p = Params::new(2);
    let w0 = p.add("layer0.weight", &[1, 3], Init::Uniform(1.0)).unwrap();
    let b0 = p.add("layer0.bias", &[3], Init::Uniform(1.0)).unwrap();
    let wo = p.add("output.weight", &[3, 2], Init::Uniform(1.0)).unwrap();
    let bo = p.add("output.bias", &[2], Init::Uniform(1.0)).unwrap();
    let weights = to_safetensors(&p, &Default::default()).unwrap();
    let spec = r#"{"format": "mlp.model", "version": 1, "kind": "mlp", "task": "classification", "classes": [0.0, 1.0],
        "hidden": [3], "label": "y", "inputs": {"numeric": ["a"], "categorical": []}}"#;
    let m = Model::load(spec, &weights).unwrap();
    let x = Tensor::new(&[2, 1], vec![0.7, -1.3]).unwrap();
    let out = m.predict(2, Some(&x), &[]).unwrap();
    let v = |id| p.value(id).unwrap().data().to_vec();
    let (w0, b0, wo, bo) = (v(w0), v(b0), v(wo), v(bo));
    for r in 0..2 {
        let h: Vec<f32> = (0..3).map(|j| (x.data()[r] * w0[j] + b0[j]).max(0.0)).collect();
        let z: Vec<f32> = (0..2).map(|k| (0..3).map(|j| h[j] * wo[j * 2 + k]).sum::<f32>() + bo[k]).collect();
        let m = z[0].max(z[1]);
        let s = (z[0] - m).exp() + (z[1] - m).exp();
        for (k, zk) in z.iter().enumerate() {
            assert!((out.data()[r * 2 + k] - (zk - m).exp() / s).abs() < 1e-6);
        }
    }
    // The same weights as a regressor with one output.
    let mut q = Params::new(3);
    q.add("output.weight", &[1, 1], Init::Zeros).unwrap();
    let bias = q.add("output.bias", &[1], Init::Zeros).unwrap();
    q.set(bias, Tensor::new(&[1], vec![0.5]).unwrap()).unwrap();
    let spec = r#"{"format": "mlp.model", "version": 1, "kind": "mlp", "task": "regression", "hidden": [],
        "label_scaling": {"mean": 10.0, "std": 2.0}, "label": "y", "inputs": {"numeric": ["a"], "categorical": []}}"#;
    let r = Model::load(spec, &to_safetensors(&q, &Default::default()).unwrap()).unwrap();
    let out = r.predict(2, Some(&x), &[]).unwrap();
    assert_eq!(out.data(), [11.0, 11.0], "0.5 standard deviations above the mean");
}

#[test]
fn damaged_artifacts_are_refused_with_the_reason() {
    let mut p = Params::new(1);
    p.add("bias", &[1], Init::Zeros).unwrap();
    let weights = to_safetensors(&p, &Default::default()).unwrap();
    let spec = |kind: &str| {
        format!(
            r#"{{"format": "mlp.model", "version": 1, "kind": "{kind}", "label": "y", "inputs": {{"numeric": ["a"], "categorical": []}}}}"#
        )
    };
    let e = Model::load(&spec("logistic_regression"), &weights).unwrap_err().to_string();
    assert!(e.contains("lacks `weights`"), "{e}");
    let e = Model::load(&spec("forest"), &weights).unwrap_err().to_string();
    assert!(e.contains("kind `forest`"), "{e}");
    let e = Model::load(r#"{"format": "mlp.model", "version": 2}"#, &weights).unwrap_err().to_string();
    assert!(e.contains("version 1"), "{e}");
    assert!(Model::load("{", &weights).unwrap_err().to_string().contains("not JSON"));
    assert!(Model::load(&spec("logistic_regression"), b"nope").is_err());
}

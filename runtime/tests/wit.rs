//! The WIT package in `wit/` parses, and has the shape the host and the SDKs rely on.

use wit_parser::{Resolve, WorldItem, WorldKey};

fn load() -> (Resolve, wit_parser::PackageId) {
    let mut resolve = Resolve::default();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let (pkg, _files) = resolve.push_dir(&dir).unwrap_or_else(|e| panic!("wit/ does not parse: {e:?}"));
    (resolve, pkg)
}

fn names(resolve: &Resolve, keys: &[WorldKey]) -> Vec<String> {
    keys.iter().map(|k| resolve.name_world_key(k)).collect()
}

#[test]
fn the_package_is_versioned_and_the_step_world_has_the_contract() {
    let (resolve, pkg) = load();
    let package = &resolve.packages[pkg];
    assert_eq!(package.name.to_string(), "mlp:plugin@0.1.3");
    let world = resolve.select_world(&[pkg], Some("step")).expect("world `step`");
    let w = &resolve.worlds[world];
    let imports: Vec<WorldKey> = w.imports.keys().cloned().collect();
    let exports: Vec<WorldKey> = w.exports.keys().cloned().collect();
    let imports = names(&resolve, &imports);
    let exports = names(&resolve, &exports);
    for i in
        ["mlp:plugin/tables@0.1.3", "mlp:plugin/blobs@0.1.3", "mlp:plugin/tensors@0.1.3", "mlp:plugin/context@0.1.3"]
    {
        assert!(imports.iter().any(|x| x == i), "missing import {i}: {imports:?}");
    }
    assert_eq!(exports, ["mlp:plugin/plugin@0.1.3"]);
    // Only mlp's own interfaces: a step imports no WASI interface unless the host grants one.
    assert!(imports.iter().all(|i| i.starts_with("mlp:plugin/")), "{imports:?}");
    // The plugin interface exports exactly `describe` and `run`.
    let (_, plugin) = w.exports.iter().next().unwrap();
    let WorldItem::Interface { id, .. } = plugin else { panic!("plugin is not an interface") };
    let mut funcs: Vec<&str> = resolve.interfaces[*id].functions.keys().map(String::as_str).collect();
    funcs.sort();
    assert_eq!(funcs, ["describe", "run"]);
}

#[test]
fn the_table_resource_offers_the_general_kernels() {
    let (resolve, pkg) = load();
    let tables = resolve.packages[pkg].interfaces["tables"];
    let funcs: Vec<&str> = resolve.interfaces[tables].functions.keys().map(String::as_str).collect();
    for k in [
        "[static]table.from-ipc",
        "[method]table.to-ipc",
        "[method]table.column-stats",
        "[method]table.histogram",
        "[method]table.quantiles",
        "[method]table.top-k",
        "[method]table.distinct-count",
        "[method]table.filter",
        "[method]table.take",
        "[method]table.sort",
        "[method]table.group-by",
        "[method]table.cast",
        "[static]table.concat",
        "[method]table.slice",
        "[method]table.append-columns",
        "[static]transform.fit",
        "[static]transform.load",
        "[method]transform.graph-json",
        "[method]transform.apply",
        "[method]transform.apply-one-hot",
        "[method]transform.without",
    ] {
        assert!(funcs.contains(&k), "tables lacks {k}: {funcs:?}");
    }
}

#[test]
fn tensors_offer_the_training_kernels() {
    let (resolve, pkg) = load();
    let tensors = resolve.packages[pkg].interfaces["tensors"];
    let funcs: Vec<&str> = resolve.interfaces[tensors].functions.keys().map(String::as_str).collect();
    for k in [
        "[method]tensor.gather-rows",
        "[constructor]params",
        "[method]params.add",
        "[method]params.to-safetensors",
        "[static]params.from-safetensors",
        "[method]params.find",
        "[constructor]tape",
        "[method]tape.matmul",
        "[method]tape.unary",
        "[method]tape.binary",
        "[method]tape.gather",
        "[method]tape.bce-with-logits",
        "[method]tape.softmax-cross-entropy",
        "[method]tape.mse",
        "[method]tape.backward",
        "[static]model.load",
        "[method]model.predict",
        "[static]optimizer.open",
        "[method]optimizer.step",
    ] {
        assert!(funcs.contains(&k), "tensors lacks {k}: {funcs:?}");
    }
}

#[test]
fn the_invocation_reports_a_trainers_objective_to_a_search() {
    let (resolve, pkg) = load();
    let context = resolve.packages[pkg].interfaces["context"];
    let funcs = &resolve.interfaces[context].functions;
    let report = &funcs["[method]invocation.report"];
    let params: Vec<&str> = report.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(params, ["self", "epoch", "objective"]);
    assert_eq!(report.result, Some(wit_parser::Type::Bool));
    for k in ["[method]invocation.log", "[method]invocation.progress", "[method]invocation.metric"] {
        assert!(funcs.contains_key(k), "context lacks {k}");
    }
}

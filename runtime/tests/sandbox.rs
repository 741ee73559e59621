//! The sandbox: hostile plugins, each a real component built by the test build, run one after
//! another in one process and one host. Each must fail its own step with a clear error, and a
//! healthy plugin run right after it must still succeed.

use mlp_kernels::data::Part;
use mlp_lang::ir::Value;
use mlp_runtime::host::{Grant, Host, HostConfig, LoadError, StepError, StepErrorKind, StepEvent, StepOutput, StepRun};
use mlp_runtime::run::params_json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlp-sandbox-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn host(cache: &Path) -> Host {
    Host::new(HostConfig { cache_dir: Some(cache.to_path_buf()), ..HostConfig::default() }).unwrap()
}

fn attack(attack: &str, extra: &[(&str, &str)]) -> StepRun {
    let mut params = BTreeMap::new();
    params.insert("attack".to_string(), Value::String(attack.into()));
    for (k, v) in extra {
        params.insert(k.to_string(), Value::String(v.to_string()));
    }
    StepRun {
        step_id: format!("hostile_{attack}"),
        params_json: params_json(&params, Path::new("/")),
        outputs: [("out".to_string(), ("Examples".to_string(), false))].into(),
        ..StepRun::default()
    }
}

/// Runs the healthy `generate` plugin and checks its output, proving the host still works.
fn healthy(host: &Host) {
    let c = host.load(&mlp_guests::component("generate"), None).unwrap();
    let mut params = BTreeMap::new();
    params.insert("rows".to_string(), Value::Int(10));
    let out = host
        .run(
            &c,
            StepRun {
                step_id: "healthy".into(),
                params_json: params_json(&params, Path::new("/")),
                outputs: [("out".to_string(), ("Examples".to_string(), false))].into(),
                ..StepRun::default()
            },
        )
        .unwrap_or_else(|e| panic!("the healthy plugin failed after a hostile one: {e}"));
    let rows = |part: &str| match &out.outputs["out"].parts[part] {
        Part::Table(t) => t.num_rows(),
        Part::Blob(_) => panic!("{part} is not a table"),
    };
    assert_eq!((rows("train"), rows("eval")), (8, 2));
}

#[allow(clippy::result_large_err)]
fn run_hostile(host: &Host, run: StepRun) -> Result<StepOutput, StepError> {
    let c = host.load(&mlp_guests::component("hostile"), None).unwrap();
    let r = host.run(&c, run);
    healthy(host);
    r
}

fn fails(r: Result<StepOutput, StepError>) -> StepError {
    match r {
        Ok(out) => panic!("the hostile step succeeded: {:?}", out.outputs.get("out").map(|a| &a.properties)),
        Err(e) => e,
    }
}

#[test]
fn an_infinite_loop_times_out() {
    let dir = scratch("loop");
    let host = host(&dir);
    let mut run = attack("loop", &[]);
    run.time_limit = Some(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let e = fails(run_hostile(&host, run));
    eprintln!("loop stopped after {:?} (limit 200 ms)", started.elapsed());
    assert_eq!(e.kind, StepErrorKind::Timeout, "{e:?}");
    assert_eq!(e.message, "the step ran past its time limit of 200ms");
    assert_eq!(e.step, "hostile_loop");
}

#[test]
fn allocating_past_the_memory_limit_is_a_memory_error() {
    let dir = scratch("alloc");
    let host = host(&dir);
    let mut run = attack("alloc", &[]);
    run.memory_limit = Some(64 << 20);
    let e = fails(run_hostile(&host, run));
    assert_eq!(e.kind, StepErrorKind::Memory, "{e:?}");
    assert!(e.message.starts_with("the step needed more than its memory limit of 64.0 MiB"), "{}", e.message);
}

#[test]
fn reading_etc_passwd_is_denied() {
    let dir = scratch("passwd");
    let host = host(&dir);
    let e = fails(run_hostile(&host, attack("read", &[("path", "/etc/passwd")])));
    assert_eq!(e.kind, StepErrorKind::Plugin("denied".into()), "{e:?}");
    assert!(e.message.starts_with("reading `/etc/passwd`:"), "{}", e.message);
    assert!(!e.stderr.contains("root:"));
}

#[test]
fn reads_see_the_grant_and_nothing_beside_it() {
    let dir = scratch("grant-read");
    let host = host(&dir);
    let granted = dir.join("granted");
    let secret = dir.join("secret");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(granted.join("data.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(secret.join("key.txt"), "hunter2").unwrap();
    let with_grant = |mut run: StepRun| {
        run.grants = vec![Grant::Read(granted.clone())];
        run
    };

    // Inside the grant: allowed, and the bytes are right.
    let inside = granted.join("data.csv");
    let ok = run_hostile(&host, with_grant(attack("read", &[("path", inside.to_str().unwrap())]))).unwrap();
    assert_eq!(ok.outputs["out"].properties["bytes_read"], serde_json::json!(8));

    // A sibling folder, directly and through `..`: denied.
    let outside = secret.join("key.txt");
    let e = fails(run_hostile(&host, with_grant(attack("read", &[("path", outside.to_str().unwrap())]))));
    assert_eq!(e.kind, StepErrorKind::Plugin("denied".into()), "{e:?}");
    let dotdot = format!("{}/../secret/key.txt", granted.display());
    let e = fails(run_hostile(&host, with_grant(attack("read", &[("path", &dotdot)]))));
    assert_eq!(e.kind, StepErrorKind::Plugin("denied".into()), "{e:?}");

    // A read grant does not allow writing.
    let e = fails(run_hostile(&host, with_grant(attack("write", &[("path", inside.to_str().unwrap())]))));
    assert_eq!(e.kind, StepErrorKind::Plugin("denied".into()), "{e:?}");
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "a,b\n1,2\n");
}

#[test]
fn a_granted_file_exposes_only_that_file() {
    let dir = scratch("grant-file");
    let host = host(&dir);
    std::fs::write(dir.join("one.txt"), "one").unwrap();
    std::fs::write(dir.join("two.txt"), "two!").unwrap();
    let grant = |mut run: StepRun| {
        run.grants = vec![Grant::Read(dir.join("one.txt"))];
        run
    };
    let ok = run_hostile(&host, grant(attack("read", &[("path", dir.join("one.txt").to_str().unwrap())]))).unwrap();
    assert_eq!(ok.outputs["out"].properties["bytes_read"], serde_json::json!(3));
    let e = fails(run_hostile(&host, grant(attack("read", &[("path", dir.join("two.txt").to_str().unwrap())]))));
    assert_eq!(e.kind, StepErrorKind::Plugin("denied".into()), "{e:?}");
    let listed = run_hostile(&host, grant(attack("list", &[("path", dir.to_str().unwrap())]))).unwrap();
    assert_eq!(listed.outputs["out"].properties["entries"], serde_json::json!(1));
}

#[test]
fn writes_land_only_inside_a_write_grant() {
    let dir = scratch("grant-write");
    let host = host(&dir);
    let out_dir = dir.join("out");
    let grant = |mut run: StepRun| {
        run.grants = vec![Grant::Write(out_dir.clone())];
        run
    };
    let inside = out_dir.join("model.bin");
    run_hostile(&host, grant(attack("write", &[("path", inside.to_str().unwrap())]))).unwrap();
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "written by a plugin");

    let outside = dir.join("escaped.bin");
    let e = fails(run_hostile(&host, grant(attack("write", &[("path", outside.to_str().unwrap())]))));
    assert_eq!(e.kind, StepErrorKind::Plugin("denied".into()), "{e:?}");
    assert!(!outside.exists());
    let tmp = format!("/tmp/mlp-escape-{}", std::process::id());
    let e = fails(run_hostile(&host, attack("write", &[("path", &tmp)])));
    assert_eq!(e.kind, StepErrorKind::Plugin("denied".into()), "{e:?}");
    assert!(!Path::new(&tmp).exists());
}

#[test]
fn sockets_are_denied_without_a_net_grant() {
    let dir = scratch("socket");
    let host = host(&dir);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let e = fails(run_hostile(&host, attack("socket", &[("address", &addr)])));
    assert_eq!(e.kind, StepErrorKind::Plugin("denied".into()), "{e:?}");
    assert!(e.message.starts_with(&format!("connecting to {addr}:")), "{}", e.message);
    assert!(listener.accept().is_err(), "the plugin reached the listener");

    // With the grant, the same plugin connects.
    let mut run = attack("socket", &[("address", &addr)]);
    run.grants = vec![Grant::Net(addr.clone())];
    let ok = run_hostile(&host, run).unwrap();
    assert_eq!(ok.outputs["out"].properties["connected"], serde_json::json!(true));
}

#[test]
fn a_trap_is_a_step_error_with_a_backtrace() {
    let dir = scratch("trap");
    let host = host(&dir);
    let e = fails(run_hostile(&host, attack("trap", &[])));
    assert_eq!(e.kind, StepErrorKind::Trap, "{e:?}");
    assert!(e.message.starts_with("the plugin trapped"), "{}", e.message);
    let backtrace = e.detail.unwrap_or_default();
    assert!(backtrace.contains("hostile"), "no guest frames in the backtrace: {backtrace}");
}

#[test]
fn a_panic_surfaces_its_message() {
    let dir = scratch("panic");
    let host = host(&dir);
    let e = fails(run_hostile(&host, attack("panic", &[])));
    assert_eq!(e.kind, StepErrorKind::Trap, "{e:?}");
    assert!(
        e.message.starts_with("the plugin panicked: the hostile plugin panicked on purpose: 42 (at "),
        "{}",
        e.message
    );
}

#[test]
fn outputs_that_do_not_match_the_declaration_are_errors() {
    let dir = scratch("outputs");
    let host = host(&dir);
    let e = fails(run_hostile(&host, attack("undeclared_output", &[])));
    assert_eq!(e.kind, StepErrorKind::Plugin("not-found".into()), "{e:?}");
    assert_eq!(e.message, "the step declares no output `secret`");
    assert_eq!(e.detail.as_deref(), Some("its outputs: out"));

    let e = fails(run_hostile(&host, attack("missing_output", &[])));
    assert_eq!(e.kind, StepErrorKind::Outputs, "{e:?}");
    assert_eq!(e.message, "the step finished without writing its output `out` (Examples)");
}

#[test]
fn a_component_importing_a_forbidden_interface_is_refused_at_load() {
    let dir = scratch("import");
    let host = host(&dir);
    let path = mlp_guests::component("forbidden_import");
    match host.load(&path, None) {
        Err(e @ LoadError::Import { .. }) => {
            let LoadError::Import { import, .. } = &e else { unreachable!() };
            assert_eq!(import, "evil:net/raw");
            assert!(e.to_string().ends_with("imports `evil:net/raw`, which mlp plugins may not use"), "{e}");
            assert!(e.help().contains("mlp:plugin/tables"), "{}", e.help());
        }
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("a component importing evil:net/raw was loaded"),
    }
    healthy(&host);
}

#[test]
fn a_digest_mismatch_is_refused() {
    let dir = scratch("digest");
    let host = host(&dir);
    let wrong = format!("blake3:{}", "0".repeat(64));
    let e = host.load(&mlp_guests::component("generate"), Some(&wrong)).unwrap_err();
    assert!(matches!(e, LoadError::Digest { .. }), "{e}");
    assert!(e.to_string().contains(&wrong), "{e}");
}

#[test]
fn a_missing_or_corrupt_component_is_a_load_error_not_a_panic() {
    let dir = scratch("corrupt");
    let host = host(&dir);
    let e = host.load(&dir.join("nope.wasm"), None).unwrap_err();
    assert_eq!(e.to_string(), format!("cannot read component `{}`: file not found", dir.join("nope.wasm").display()));
    let bad = dir.join("bad.wasm");
    std::fs::write(&bad, b"\0asm\x0d\0\x01\0garbage").unwrap();
    let e = host.load(&bad, None).unwrap_err();
    assert!(matches!(e, LoadError::Invalid { .. }), "{e}");
    healthy(&host);
}

#[test]
fn precompiled_components_are_reused_from_the_disk_cache() {
    let dir = scratch("cache");
    let first = host(&dir);
    let c = first.load(&mlp_guests::component("generate"), None).unwrap();
    assert!(!c.from_cache);
    drop(first);
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(Result::ok).collect();
    assert_eq!(entries.len(), 1, "one entry per component and engine");
    let second = host(&dir);
    let c = second.load(&mlp_guests::component("generate"), None).unwrap();
    assert!(c.from_cache);
    healthy(&second);

    // A corrupted entry is not trusted: the component is compiled again.
    let entry = entries[0].path();
    let mut bytes = std::fs::read(&entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&entry, bytes).unwrap();
    let third = host(&dir);
    let c = third.load(&mlp_guests::component("generate"), None).unwrap();
    assert!(!c.from_cache);
    healthy(&third);
}

#[test]
fn a_plugin_built_against_a_newer_wit_version_is_refused_at_load() {
    let dir = scratch("abi");
    let host = host(&dir);
    match host.load(&mlp_guests::component("future_abi"), None) {
        Err(e @ LoadError::Abi { .. }) => {
            assert!(e.to_string().ends_with("was built against mlp:plugin 0.9.0; this mlp provides 0.1.3"), "{e}");
            assert!(e.help().contains("upgrade mlp"), "{}", e.help());
        }
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("a plugin built for mlp:plugin 0.9.0 was loaded"),
    }
    healthy(&host);
}

/// A plugin built against an older minor version of the WIT package (0.1.2, before
/// `invocation.report`) imports the old interface versions; the host's newer ones serve it.
#[test]
fn a_plugin_built_against_an_older_minor_wit_version_loads_and_runs() {
    let dir = scratch("old-abi");
    let host = host(&dir);
    let c = host.load(&mlp_guests::component("old_abi"), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.info.abi_version, "0.1.2");
    let out = host
        .run(
            &c,
            StepRun {
                step_id: "old".into(),
                params_json: "{}".into(),
                outputs: [("out".to_string(), ("Examples".to_string(), false))].into(),
                ..StepRun::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.outputs["out"].properties["step"], "old");
    assert_eq!(out.events, [StepEvent::Metric { name: "loss".into(), step: 1, value: 0.5 }]);
    healthy(&host);
}

/// Regression: file grants were once served from a shared folder of links that were never
/// refreshed, so a file replaced between runs (written elsewhere and renamed into place, as
/// editors and atomic writers do) was still read with its old content.
#[test]
fn a_file_grant_serves_the_current_file_not_a_stale_link() {
    let dir = scratch("grant-fresh");
    let host = host(&dir);
    let file = dir.join("config.json");
    std::fs::write(&file, "{}").unwrap();
    let run = || {
        let mut r = attack("read", &[("path", file.to_str().unwrap())]);
        r.grants = vec![Grant::Read(file.clone())];
        run_hostile(&host, r).unwrap().outputs["out"].properties["bytes_read"].clone()
    };
    assert_eq!(run(), serde_json::json!(2));
    let tmp = dir.join("config.json.tmp");
    std::fs::write(&tmp, r#"{"epochs": 10}"#).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    assert_eq!(run(), serde_json::json!(14));
}

//! Builds the guest workspaces `plugins/` and `stdlib/components/` for `wasm32-wasip2` with a
//! nested cargo, into one target directory of their own (`plugins/target`), so that a plain
//! `cargo build` or `cargo test` of mlp also builds every plugin component the examples and tests
//! use, and the standard components the `mlp` binary embeds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..").canonicalize().expect("the repository root exists");
    let plugins = root.join("plugins");
    for watched in ["Cargo.toml", "Cargo.lock", "sdk", "examples", "testing"] {
        println!("cargo:rerun-if-changed={}", plugins.join(watched).display());
    }
    let stdlib = root.join("stdlib");
    for watched in ["components", "data"] {
        println!("cargo:rerun-if-changed={}", stdlib.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=MLP_SKIP_GUEST_BUILD");
    println!("cargo:rerun-if-env-changed=CI");

    let target_dir = plugins.join("target");
    let out = target_dir.join("wasm32-wasip2").join("release");
    println!("cargo:rustc-env=MLP_GUESTS_DIR={}", out.display());
    println!("cargo:rustc-env=MLP_SDK_DIR={}", plugins.join("sdk").display());
    if std::env::var_os("MLP_SKIP_GUEST_BUILD").is_none() {
        build(&plugins, &target_dir);
        build(&stdlib.join("components"), &target_dir);
    }
    embed_stdlib(&stdlib.join("components"), &out);
}

/// Writes `stdlib.rs` into OUT_DIR: the standard components' bytes, embedded with
/// `include_bytes!`, so the `mlp` binary carries them. A component not built (only possible
/// with MLP_SKIP_GUEST_BUILD) is left out, and running a step that uses it says so.
fn embed_stdlib(components: &Path, wasm_dir: &Path) {
    let mut names: Vec<String> = std::fs::read_dir(components)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("Cargo.toml").is_file() && e.file_name() != "common")
                .filter_map(|e| e.file_name().to_str().map(|n| n.replace('-', "_")))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut code = String::from(
        "/// The standard components: (name, component bytes).\npub static STDLIB: &[(&str, &[u8])] = &[\n",
    );
    for name in &names {
        let path = wasm_dir.join(format!("{name}.wasm"));
        if path.is_file() {
            code.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", path.display().to_string()));
        }
    }
    code.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(e) = std::fs::write(out_dir.join("stdlib.rs"), code) {
        fail(&format!("cannot write {}: {e}", out_dir.display()));
    }
}

fn build(plugins: &Path, target_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugins)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    // CI builds exactly the committed lock file; a developer adding a plugin crate gets the
    // lock file updated, as with any cargo build.
    if std::env::var_os("CI").is_some() {
        cmd.arg("--locked");
    }
    // The outer build's settings are for the host target; the guests get a clean slate (the
    // jobserver in CARGO_MAKEFLAGS is kept, so both builds share the same job slots).
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        let outer =
            k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_MAKEFLAGS" && !k.starts_with("CARGO_NET");
        if outer
            || matches!(
                k,
                "RUSTFLAGS"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTDOCFLAGS"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "NUM_JOBS"
            )
        {
            cmd.env_remove(k);
        }
    }
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => fail(&format!("cannot start cargo to build the plugins: {e}")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip2")
            && (stderr.contains("target may not be installed")
                || stderr.contains("can't find crate for `core`")
                || stderr.contains("can't find crate for `std`"))
        {
            "\nthe wasm32-wasip2 target is missing: run `rustup toolchain install` in the repository (rust-toolchain.toml names the target)"
        } else {
            ""
        };
        fail(&format!("building the plugins in {} failed:\n{stderr}{hint}", plugins.display()));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

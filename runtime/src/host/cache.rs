//! The disk cache of precompiled components.
//!
//! Compiling a component with Cranelift takes about 100 ms; loading its precompiled code takes
//! about 0.1 ms. Entries are keyed by the component's BLAKE3 digest and the engine's
//! compatibility hash (wasmtime version, target, and every setting that changes code), so a
//! new mlp or a different machine never reads an entry it did not write. Each entry ends with the
//! BLAKE3 hash of its body, checked before the body is handed to wasmtime, and is written to a
//! temporary file and renamed into place, so a torn or tampered file is recompiled, never loaded.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::Component;

const TAG: &[u8] = b"mlp-precompiled-v1";

/// Compiles `bytes` (digest `digest`), or loads the compiled code from `dir`. Returns the
/// component and whether it came from the cache. Cache failures fall back to compiling.
pub(crate) fn compile(
    engine: &Engine,
    dir: Option<&Path>,
    digest: &str,
    bytes: &[u8],
) -> Result<(Component, bool), String> {
    let Some(dir) = dir else {
        return Component::new(engine, bytes).map(|c| (c, false)).map_err(|e| format!("{e:#}"));
    };
    let file = dir.join(format!("{}.cwasm", key(engine, digest)));
    if let Some(c) = read_entry(engine, &file) {
        return Ok((c, true));
    }
    let component = Component::new(engine, bytes).map_err(|e| format!("{e:#}"))?;
    if let Ok(body) = component.serialize() {
        // A cache that cannot be written only costs time; the component is still good.
        let _ = write_entry(dir, &file, &body);
    }
    Ok((component, false))
}

fn key(engine: &Engine, digest: &str) -> String {
    let mut h = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let mut k = blake3::Hasher::new();
    k.update(TAG);
    k.update(digest.as_bytes());
    k.update(&h.finish().to_le_bytes());
    k.finalize().to_hex().to_string()
}

fn read_entry(engine: &Engine, file: &Path) -> Option<Component> {
    let data = std::fs::read(file).ok()?;
    let split = data.len().checked_sub(32)?;
    let (body, sum) = data.split_at(split);
    // Mapping the file (below) is three times faster than deserializing from these bytes.
    if blake3::hash(body).as_bytes() != sum {
        return None;
    }
    // SAFETY: `Component::deserialize_file` requires a file produced by `Component::serialize`
    // of a compatible engine that stays unchanged while mapped, because it maps the code as
    // executable without validating it. The file was written by `write_entry` below from
    // `Component::serialize` (the trailing hash is past the end of the ELF image and ignored),
    // and its BLAKE3 hash, checked just above, proves it is unchanged since: a torn or corrupted
    // entry never gets here. Entries are only ever created whole and renamed into place, never
    // modified, and a concurrent writer of the same key writes the same bytes. The file name
    // includes this engine's `precompile_compatibility_hash`, and wasmtime checks it again.
    // (The hash guards against corruption, not against someone who can write the user's cache;
    // such a person could as well replace the `mlp` binary.)
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize_file(engine, file) };
    component.ok()
}

fn write_entry(dir: &Path, file: &Path, body: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp =
        dir.join(format!(".{}.{}.tmp", std::process::id(), file.file_name().and_then(|n| n.to_str()).unwrap_or("x")));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.write_all(blake3::hash(body).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, file)
}

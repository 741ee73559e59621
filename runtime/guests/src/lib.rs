//! `mlp-guests`: where the plugin components of the guest workspace (`plugins/`) are, once its
//! build script has built them for `wasm32-wasip2`, and the standard components
//! (`stdlib/components/`), embedded in the binary.
//!
//! Tests and the CLI depend on this crate so that `cargo build` and `cargo test` build every
//! component they run. Set `MLP_SKIP_GUEST_BUILD=1` to skip the nested build (the paths below
//! then point at whatever was built before).

use std::path::{Path, PathBuf};

/// Folder holding the built components (`NAME.wasm`).
pub const GUESTS_DIR: &str = env!("MLP_GUESTS_DIR");

/// Folder of the Rust SDK crate, for scaffolding new plugins.
pub const SDK_DIR: &str = env!("MLP_SDK_DIR");

/// Components built from `plugins/examples`.
pub const EXAMPLES: &[&str] = &["column_stats", "filter_rows", "generate"];

/// Components built from `plugins/testing`.
pub const TESTING: &[&str] = &["forbidden_import", "future_abi", "hostile", "old_abi", "probe"];

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));

/// The bytes of the standard component `name` (`csv_examples`, `statistics`, ...), as built
/// into this binary.
pub fn stdlib_component(name: &str) -> Option<&'static [u8]> {
    STDLIB.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// The built component named `name` (`column_stats`, `hostile`, ...).
pub fn component(name: &str) -> PathBuf {
    Path::new(GUESTS_DIR).join(format!("{name}.wasm"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_listed_component_was_built_and_is_a_component() {
        for name in super::EXAMPLES.iter().chain(super::TESTING) {
            let bytes = std::fs::read(super::component(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            // The component-model binary header: magic, then layer 1 (component) version 0x0d.
            assert_eq!(&bytes[..8], b"\0asm\x0d\0\x01\0", "{name} is not a component");
        }
    }
}

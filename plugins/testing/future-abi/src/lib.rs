//! `future_abi`: a plugin that says it was built against a newer `mlp:plugin` than the host
//! provides. The host must refuse to load it, naming both versions.

use mlp_sdk::*;

struct FutureAbi;

impl Plugin for FutureAbi {
    fn describe() -> ComponentInfo {
        let mut info = info("future_abi", "0.1.0").output("out", "Examples").build();
        info.abi_version = "0.9.0".into();
        info
    }

    fn run(_ctx: &Invocation) -> Result<(), Error> {
        Ok(())
    }
}

export!(FutureAbi);

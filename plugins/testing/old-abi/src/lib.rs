//! `old_abi`: a plugin built against an older minor version of the WIT package
//! (`mlp:plugin@0.1.2`, kept in `wit/` as it was released), without the SDK. The host, which
//! provides a newer 0.1.x, must load and run it unchanged: its imports name the old version, and
//! the functions it uses have not changed.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "step" });
}

use bindings::exports::mlp::plugin::plugin::Guest;
use bindings::mlp::plugin::context::Invocation;
use bindings::mlp::plugin::types::{ComponentInfo, Error, Port};

struct OldAbi;

impl Guest for OldAbi {
    fn describe() -> ComponentInfo {
        ComponentInfo {
            name: "old_abi".into(),
            version: "0.1.0".into(),
            abi_version: "0.1.2".into(),
            doc: "Built against mlp:plugin 0.1.2.".into(),
            inputs: Vec::new(),
            params: Vec::new(),
            outputs: vec![Port {
                name: "out".into(),
                artifact_type: "Examples".into(),
                optional: false,
                doc: String::new(),
            }],
        }
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        ctx.metric("loss", 1, 0.5);
        ctx.output("out")?.set_property("step", &format!("\"{}\"", ctx.step_id()))
    }
}

bindings::export!(OldAbi with_types_in bindings);

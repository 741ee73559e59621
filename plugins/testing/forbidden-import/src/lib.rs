//! `forbidden_import`: a plugin that imports an interface outside mlp's allow-list. The host
//! must refuse to load it, naming the import.

mod evil {
    wit_bindgen::generate!({
        inline: "
            package evil:net;
            interface raw {
                send: func(bytes: list<u8>);
            }
            world evil {
                import raw;
            }
        ",
        world: "evil",
    });
}

use mlp_sdk::*;

struct Forbidden;

impl Plugin for Forbidden {
    fn describe() -> ComponentInfo {
        info("forbidden_import", "0.1.0").output("out", "Examples").build()
    }

    fn run(_ctx: &Invocation) -> Result<(), Error> {
        evil::evil::net::raw::send(b"exfiltrated");
        Ok(())
    }
}

export!(Forbidden);

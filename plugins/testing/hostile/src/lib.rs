//! `hostile`: a plugin that misbehaves on request, for the host's sandbox tests.
//!
//! The `attack` parameter picks what it does: loop forever, allocate without bound, read or write
//! outside its grants, open a socket, trap, panic, or break its output contract. `ok` behaves.
//! Each attack must fail only its own step, with a clear error.

use mlp_sdk::*;
use std::hint::black_box;

struct Hostile;

fn io_denied(what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Denied, format!("{what}: {e}"))
}

impl Plugin for Hostile {
    fn describe() -> ComponentInfo {
        info("hostile", "0.1.0")
            .doc("Misbehaves on request.")
            .param("attack", "string")
            .param_default("path", "string", r#"{"type":"string","value":""}"#)
            .param_default("address", "string", r#"{"type":"string","value":""}"#)
            .output("out", "Examples")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let attack = p.string("attack")?;
        let path = p.opt_string("path")?.unwrap_or_default();
        let out = ctx.output("out")?;
        match attack.as_str() {
            "ok" => {}
            "loop" => {
                let mut i = 0u64;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 16 << 20]));
                }
            }
            "read" => {
                let text = std::fs::read_to_string(&path).map_err(|e| io_denied(&format!("reading `{path}`"), e))?;
                out.set_property("bytes_read", &text.len().to_string())?;
            }
            "list" => {
                let n = std::fs::read_dir(&path).map_err(|e| io_denied(&format!("listing `{path}`"), e))?.count();
                out.set_property("entries", &n.to_string())?;
            }
            "write" => {
                std::fs::write(&path, b"written by a plugin")
                    .map_err(|e| io_denied(&format!("writing `{path}`"), e))?;
                out.set_property("wrote", "true")?;
            }
            "socket" => {
                let address = p.string("address")?;
                let s = std::net::TcpStream::connect(&address)
                    .map_err(|e| io_denied(&format!("connecting to {address}"), e))?;
                drop(s);
                out.set_property("connected", "true")?;
            }
            "trap" => std::process::abort(),
            "panic" => panic!("the hostile plugin panicked on purpose: {}", 6 * 7),
            "undeclared_output" => {
                ctx.output("secret")?;
            }
            "missing_output" => return Ok(()),
            other => return Err(Error::invalid(format!("unknown attack `{other}`"))),
        }
        out.put_table("data", &Table::from_values(&[i64_column("n", [1, 2, 3])])?)?;
        Ok(())
    }
}

export!(Hostile);

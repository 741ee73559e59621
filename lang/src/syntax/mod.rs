//! The syntax layer: grammar (`mlp.pest`), syntax tree ([`ast`]) and the parser that never
//! fails ([`parser`]). Knows nothing of names, types or files beyond the text it is given.

pub mod ast;
pub mod parser;

pub use parser::{Parsed, parse, parse_expr};

//! The stable diagnostic codes, their default severity, title and documentation page.
//!
//! Each code has a page `docs/errors/CODE.md`, compiled into the binary for `mlp explain`.
//! Codes are never renumbered or reused; a retired code keeps its page.

use crate::diag::Severity;
use serde::Serialize;

macro_rules! codes {
    ($($code:ident $sev:ident $title:literal),* $(,)?) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $(#[doc = $title] $code),* }
        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$code),*];
            /// The code as written, e.g. `E0301`.
            pub fn as_str(self) -> &'static str { match self { $(Code::$code => stringify!($code)),* } }
            /// The default severity.
            pub fn severity(self) -> Severity { match self { $(Code::$code => Severity::$sev),* } }
            /// A short title.
            pub fn title(self) -> &'static str { match self { $(Code::$code => $title),* } }
            /// The documentation page (Markdown).
            pub fn page(self) -> &'static str { match self { $(Code::$code => include_str!(concat!("../../docs/errors/", stringify!($code), ".md"))),* } }
        }
    };
}

codes! {
    E0000 Error "internal error in the compiler",
    E0001 Error "syntax error",
    E0002 Error "unclosed block",
    E0003 Error "unterminated string",
    E0004 Error "invalid number, duration or size literal",
    E0005 Error "invalid escape sequence in a string",
    E0006 Error "nesting too deep",
    E0101 Error "imported file not found",
    E0102 Error "import cycle",
    E0103 Error "duplicate namespace",
    E0104 Error "unknown namespace",
    E0105 Error "name not found in namespace",
    E0106 Error "imported file declares steps or parameters",
    E0107 Error "invalid namespace name",
    E0201 Error "duplicate definition",
    E0202 Error "unknown name",
    E0203 Error "unknown component or pipeline",
    E0204 Error "unknown type",
    E0205 Error "unknown output",
    E0206 Error "step used without naming an output",
    E0207 Error "not a component or pipeline",
    E0301 Error "unknown argument",
    E0302 Error "missing argument",
    E0303 Error "duplicate argument",
    E0304 Error "type mismatch",
    E0305 Error "artifact type mismatch",
    E0306 Error "expected an artifact reference",
    E0307 Error "artifact given where a value is expected",
    E0308 Error "optional artifact used where one is required",
    E0309 Error "list or map elements of different types",
    E0310 Error "value out of range",
    E0311 Error "invalid artifact resolver",
    E0401 Error "parameter has no value",
    E0402 Error "unknown parameter in --set",
    E0403 Error "invalid value in --set",
    E0404 Error "malformed --set",
    E0501 Error "component without a WebAssembly file",
    E0502 Error "unknown component attribute",
    E0503 Error "port type must be an artifact type",
    E0504 Error "parameter type must be a value type",
    E0505 Error "invalid digest",
    E0506 Error "misplaced or missing port value",
    E0601 Error "cycle between steps",
    E0602 Error "recursive sub-pipeline",
    E0603 Error "condition is not boolean",
    E0604 Error "pipeline output type mismatch",
    E0701 Error "unknown grant",
    E0702 Error "invalid grant target",
    E0703 Error "unknown limit",
    E0704 Error "invalid limit value",
    E0705 Error "invalid retry count",
    E0706 Error "invalid cache setting",
    E0707 Error "duplicate step option",
    E0801 Error "operator applied to wrong types",
    E0802 Error "unknown function",
    E0803 Error "wrong number of arguments",
    E0804 Error "function argument has the wrong type",
    E0805 Error "if branches have different types",
    E0806 Error "if condition is not boolean",
    E0807 Error "cycle between features",
    E0808 Error "analyzer used where it cannot be fitted",
    E0809 Error "division by zero",
    E0810 Error "unknown named argument",
    E0811 Error "column used outside a feature block",
    E0812 Error "column not in the pinned schema",
    E0813 Error "name not provided by the component",
    E0901 Error "invalid search space",
    E0902 Error "not a component",
    E0903 Error "search space names no parameter of the trainer",
    E0904 Error "search dimension does not fit the trainer parameter",
    E0905 Error "trainer cannot be searched",
    E0906 Error "search cannot be expanded",
    W0001 Warning "unused import",
    W0002 Warning "unused parameter or input",
    W0003 Warning "unused step",
    W0004 Warning "unused pipeline output",
    W0005 Warning "doc comment documents nothing",
    W0006 Warning "push without a gate",
}

impl Code {
    /// Look a code up by its text (case-insensitive).
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_page_that_names_it() {
        for c in Code::ALL {
            let page = c.page();
            assert!(page.starts_with(&format!("# {}", c.as_str())), "{c}: page must start with `# {c}`");
            assert!(page.len() > 200, "{c}: page too short");
        }
    }

    #[test]
    fn parse_round_trips() {
        for c in Code::ALL {
            assert_eq!(Code::parse(&c.as_str().to_lowercase()), Some(*c));
        }
        assert_eq!(Code::parse("E9999"), None);
    }
}

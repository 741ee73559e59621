//! The front end never panics, and the formatter is idempotent and keeps every comment.
//!
//! Every prefix (by character) of every example, stdlib and test file goes through the parser,
//! the checker and the formatter; random token soup does the same under proptest.

use mlp_lang::diag::FileId;
use mlp_lang::syntax::parse;
use mlp_tests::{Case, check_case, corpus, read_case};
use proptest::prelude::*;

fn comments(text: &str) -> Vec<String> {
    parse(text, FileId(0)).file.comments.into_iter().map(|c| c.text).collect()
}

fn codes(text: &str) -> Vec<&'static str> {
    let mut v: Vec<&str> = parse(text, FileId(0)).diagnostics.iter().map(|d| d.code.as_str()).collect();
    v.sort();
    v
}

#[test]
fn every_prefix_of_every_file_parses_and_checks_without_panic() {
    let files = corpus();
    assert!(files.len() >= 3, "corpus too small: {files:?}");
    let mut checked = 0usize;
    for path in files {
        let case = read_case(&path);
        let main = case.files[0].1.clone();
        let mut ends: Vec<usize> = main.char_indices().map(|(i, _)| i).collect();
        ends.push(main.len());
        for end in ends {
            let mut c: Case = case.clone();
            c.files[0].1 = main[..end].to_string();
            let result = check_case(&c);
            // Diagnostics always point inside their file.
            for d in &result.diagnostics {
                for l in &d.labels {
                    let len = result.sources.get(l.file).text.len() as u32;
                    assert!(
                        l.span.start <= l.span.end && l.span.end <= len,
                        "{}: label out of range at prefix {end}",
                        path.display()
                    );
                }
            }
            let _ = mlp_lang::fmt::format(&c.files[0].1);
            checked += 1;
        }
    }
    assert!(checked > 1000);
}

#[test]
fn fmt_is_idempotent_and_keeps_comments_on_every_file() {
    for path in corpus() {
        let case = read_case(&path);
        for (name, text) in &case.files {
            let once = mlp_lang::fmt::format(text);
            let twice = mlp_lang::fmt::format(&once);
            assert_eq!(once, twice, "{}#{name}: formatting is not idempotent", path.display());
            assert_eq!(comments(text), comments(&once), "{}#{name}: comments changed", path.display());
            assert_eq!(codes(text), codes(&once), "{}#{name}: formatting changed the syntax errors", path.display());
        }
    }
}

/// The IR as JSON with source lines zeroed (formatting moves lines, nothing else).
fn ir_without_lines(case: &Case) -> Option<serde_json::Value> {
    let ir = check_case(case).ir?;
    let mut v: serde_json::Value = serde_json::from_str(&ir.to_json()).ok()?;
    for s in v["steps"].as_array_mut()? {
        s["source"][1] = serde_json::json!(0);
    }
    Some(v)
}

#[test]
fn formatting_keeps_the_meaning_of_valid_files() {
    for path in corpus().into_iter().filter(|p| p.to_string_lossy().contains("cases/valid")) {
        let case = read_case(&path);
        let mut formatted = case.clone();
        for f in &mut formatted.files {
            f.1 = mlp_lang::fmt::format(&f.1);
        }
        let before = ir_without_lines(&case);
        assert!(before.is_some(), "{}: valid case has no IR", path.display());
        assert_eq!(before, ir_without_lines(&formatted), "{}: formatting changed the IR", path.display());
    }
}

/// Tokens for random programs: every keyword plus punctuation, literals and broken pieces.
fn tokens() -> Vec<&'static str> {
    let mut t: Vec<&'static str> = mlp_lang::syntax::parser::KEYWORDS.to_vec();
    t.extend([
        "input",
        "output",
        "grant",
        "limit",
        "retry",
        "cache",
        "x",
        "y",
        "tab",
        ".",
        "=",
        "==",
        ":",
        ",",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        "<",
        ">",
        "?",
        "??",
        "+",
        "-",
        "*",
        "/",
        "\"s\"",
        "\"",
        "1",
        "2.5",
        "5m",
        "2GiB",
        "10xb",
        "\n",
        " ",
        "//c",
        "///d",
        "int",
        "list<int>",
        "Examples",
        "\\",
        "é",
    ]);
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_token_soup_never_panics(toks in proptest::collection::vec(0..tokens().len(), 0..80)) {
        let all = tokens();
        let text: String = toks.iter().map(|&i| all[i]).collect::<Vec<_>>().join(" ");
        let case = mlp_tests::parse_case("soup.mlp", &text);
        let _ = check_case(&case);
        let once = mlp_lang::fmt::format(&text);
        prop_assert_eq!(comments(&text), comments(&once));
    }

    #[test]
    fn random_bytes_never_panic(text in "\\PC{0,200}") {
        let case = mlp_tests::parse_case("bytes.mlp", &text);
        let _ = check_case(&case);
        let _ = mlp_lang::fmt::format(&text);
    }
}

#[test]
fn parsing_in_halves_matches_one_parse_on_every_file_and_line_prefix() {
    use mlp_lang::syntax::parser::parse_with;
    for path in corpus() {
        let case = read_case(&path);
        for (name, text) in &case.files {
            let ends = text.match_indices('\n').map(|(i, _)| i + 1).chain([text.len()]);
            for end in ends {
                let t = &text[..end];
                let whole = parse_with(t, FileId(0), usize::MAX);
                let halves = parse_with(t, FileId(0), 0);
                assert!(whole.file == halves.file, "{}#{name}: halves differ at prefix {end}", path.display());
                assert!(
                    whole.diagnostics == halves.diagnostics,
                    "{}#{name}: diagnostics differ at {end}",
                    path.display()
                );
            }
        }
    }
}

/// Regression: feature ordering was a recursive search, so a long chain of features that each
/// read the previous one could overflow the stack of the checking thread.
#[test]
fn a_long_chain_of_features_does_not_overflow_the_stack() {
    let mut text = String::from(
        "component t {\n  wasm = \"t.wasm\"\n  param features: features\n  output out: Examples\n}\nstep s = t {\n  features = {\n    f0 = x\n",
    );
    for i in 1..20_000 {
        text.push_str(&format!("    f{i} = f{} + 1\n", i - 1));
    }
    text.push_str("  }\n}\n");
    let case = mlp_tests::parse_case("chain.mlp", &text);
    // A small stack, as a language server's worker thread might have.
    let result = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || check_case(&case).diagnostics.len())
        .unwrap()
        .join()
        .expect("checking a long feature chain must not overflow the stack");
    assert_eq!(result, 0);
}

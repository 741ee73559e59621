//! Data-driven snapshot tests of the parser, checker, diagnostics and IR.
//!
//! Every `tests/cases/errors/*.mlp` must produce exactly the codes its `// expect:` line names;
//! its rendered diagnostics are the snapshot. Every `tests/cases/valid/*.mlp` must produce no
//! diagnostic at all; its IR (JSON) is the snapshot. Regenerate the snapshots after an intended
//! change with `INSTA_UPDATE=always cargo test -p mlp-tests --test snapshots` and review the diff.

use mlp_lang::diag::render_terminal;
use mlp_tests::{check_case, codes, read_case};

#[test]
fn error_cases() {
    insta::glob!("cases/errors/*.mlp", |path| {
        let case = read_case(path);
        assert!(!case.expect.is_empty(), "{}: error case without `// expect:`", path.display());
        let checked = check_case(&case);
        let got = codes(&checked);
        assert_eq!(
            got,
            case.expect,
            "{}: wrong codes\n{}",
            path.display(),
            render_terminal(&checked.diagnostics, &checked.sources, false)
        );
        assert!(checked.diagnostics.iter().all(|d| d.primary().is_some()), "every diagnostic has a location");
        insta::assert_snapshot!(render_terminal(&checked.diagnostics, &checked.sources, false));
    });
}

#[test]
fn valid_cases() {
    insta::glob!("cases/valid/*.mlp", |path| {
        let case = read_case(path);
        let checked = check_case(&case);
        assert!(
            checked.diagnostics.is_empty(),
            "{}: expected no diagnostics\n{}",
            path.display(),
            render_terminal(&checked.diagnostics, &checked.sources, false)
        );
        let ir = checked.ir.as_ref().expect("a clean check gives an IR");
        insta::assert_snapshot!(ir.to_json());
    });
}

#[test]
fn the_taxi_example_checks_clean_and_lowers_to_its_dag() {
    let path = mlp_tests::repo_root().join("examples/taxi/pipeline.mlp");
    let case = read_case(&path);
    let mut case = case;
    for f in ["describe.mlp", "features.mlp"] {
        let text = std::fs::read_to_string(path.with_file_name(f)).unwrap();
        case.files.push((f.into(), text));
    }
    let checked = check_case(&case);
    assert!(checked.diagnostics.is_empty(), "{}", render_terminal(&checked.diagnostics, &checked.sources, false));
    let ir = checked.ir.unwrap();
    let ids: Vec<&str> = ir.steps.iter().map(|s| s.id.as_str()).collect();
    // Sub-pipeline steps are expanded under their caller's name.
    assert!(ids.contains(&"desc/stats") && ids.contains(&"desc/schema"), "{ids:?}");
    assert!(ids.contains(&"features/transform"), "{ids:?}");
    // Topological order: every edge goes forward.
    let pos = |id: &str| ids.iter().position(|x| *x == id).unwrap();
    for e in &ir.edges {
        assert!(pos(&e.from) < pos(&e.to), "edge {} -> {} goes backwards", e.from, e.to);
    }
    // The push is gated on both blessings.
    let push = ir.steps.iter().find(|s| s.id == "push").unwrap();
    assert!(push.when.is_some());
    assert!(ir.edges.iter().any(|e| e.to == "push" && e.input == "when" && e.ty == "InfraBlessing"));
    // The same source gives the same bytes.
    let again = check_case(&case).ir.unwrap();
    assert_eq!(ir.to_json(), again.to_json());
}

//! The documentation stays true: every error page's example produces its own code.

use mlp_lang::Code;
use mlp_tests::{check_case, codes, parse_case, repo_root};

/// The first fenced `mlp` block of a page.
fn first_example(page: &str) -> Option<String> {
    let start = page.find("```mlp\n")? + "```mlp\n".len();
    let end = page[start..].find("```")? + start;
    Some(page[start..end].to_string())
}

#[test]
fn every_error_page_example_produces_its_code() {
    let mut checked = 0;
    for code in Code::ALL {
        let path = repo_root().join(format!("docs/errors/{}.md", code.as_str()));
        let page = std::fs::read_to_string(&path).unwrap();
        assert_eq!(page, code.page(), "{}: the compiled-in page is stale", code.as_str());
        // E0000 has no reproducer; `--set` codes show command lines instead of a file.
        let Some(example) = first_example(&page) else { continue };
        if *code == Code::E0000 {
            continue;
        }
        let case = parse_case("example.mlp", &example);
        let got = codes(&check_case(&case));
        assert!(got.contains(code.as_str()), "{}: its example gives {got:?}", code.as_str());
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} pages had an example");
}

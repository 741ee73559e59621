//! Hand-edited documents are user input: `parse_schema` takes any text without panicking,
//! and the views and checks take any statistics that decode.

use mlp_data::infer::parse_schema;
use proptest::prelude::*;

/// Text that is often nearly a schema: pieces of the real layout, shuffled and cut.
fn schema_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"format\"",
        "1",
        "2",
        "\"features\"",
        "\"name\"",
        "\"x\"",
        "\"type\"",
        "\"int\"",
        "\"float\"",
        "\"string\"",
        "\"presence\"",
        "\"min_fraction\"",
        "1.5",
        "-1",
        "\"domain\"",
        "\"kind\"",
        "\"strings\"",
        "\"values\"",
        "\"min\"",
        "\"max\"",
        "null",
        "true",
        "\n",
        " ",
    ]);
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, .. ProptestConfig::default() })]

    #[test]
    fn parsing_a_schema_never_panics(text in schema_like()) {
        if let Ok(schema) = parse_schema(&text) {
            // What parses, renders and diffs against itself as no change.
            let _ = mlp_data::view::schema_text(&schema);
            prop_assert!(mlp_data::diff::diff_schemas(&schema, &schema).is_empty());
        }
    }

    #[test]
    fn parsing_any_text_never_panics(text in ".{0,300}") {
        let _ = parse_schema(&text);
    }
}

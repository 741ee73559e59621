//! Builders shared by the unit tests.

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlp_kernels::data::{ArtifactData, Part, Table};
use std::sync::Arc;

/// A table of `batches` batches of `rows` rows each, with nulls in every column.
pub fn table(batches: usize, rows: usize, seed: i64) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("fare", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let batches = (0..batches)
        .map(|b| {
            let base = (b * rows) as i64 + seed;
            let ids: Vec<i64> = (0..rows as i64).map(|i| base + i).collect();
            let fares: Vec<Option<f64>> = ids.iter().map(|i| (i % 3 != 0).then_some(*i as f64 * 1.5)).collect();
            let names: Vec<Option<String>> = ids.iter().map(|i| (i % 4 != 1).then(|| format!("name-{i}-ü"))).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(ids)) as ArrayRef,
                    Arc::new(Float64Array::from(fares)) as ArrayRef,
                    Arc::new(StringArray::from(names)) as ArrayRef,
                ],
            )
            .unwrap()
        })
        .collect();
    Table::new(schema, batches).unwrap()
}

/// An artifact of `artifact_type` with a table part and a blob part, distinct for each `seed`.
pub fn artifact(artifact_type: &str, seed: i64) -> ArtifactData {
    let mut a = ArtifactData { artifact_type: artifact_type.into(), ..Default::default() };
    a.parts.insert("train".into(), Part::Table(table(2, 5, seed)));
    a.parts.insert("notes.txt".into(), Part::Blob(Arc::from(format!("seed {seed}").into_bytes())));
    a.properties.insert("seed".into(), serde_json::json!(seed));
    a
}

/// Asserts two artifacts hold equal data: type, properties, and every part (tables batch by
/// batch, with their schemas).
pub fn assert_same(a: &ArtifactData, b: &ArtifactData) {
    assert_eq!(a.artifact_type, b.artifact_type);
    assert_eq!(a.properties, b.properties);
    assert_eq!(a.parts.keys().collect::<Vec<_>>(), b.parts.keys().collect::<Vec<_>>());
    for (name, pa) in &a.parts {
        match (pa, &b.parts[name]) {
            (Part::Table(x), Part::Table(y)) => {
                assert_eq!(x.schema(), y.schema(), "schema of part {name}");
                assert_eq!(x.batches(), y.batches(), "batches of part {name}");
            }
            (Part::Blob(x), Part::Blob(y)) => assert_eq!(x, y, "bytes of part {name}"),
            _ => panic!("part {name} changed kind"),
        }
    }
}

/// The id of a process that has ended (and been reaped).
pub fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A fresh store in a temporary folder (removed when the fixture is dropped).
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub root: std::path::PathBuf,
    pub artifacts: crate::ArtifactStore,
    pub lineage: crate::LineageStore,
}

/// Opens both stores in a new temporary folder.
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".mlp");
    let artifacts = crate::ArtifactStore::open(&root).unwrap();
    let lineage = crate::LineageStore::open(&root).unwrap();
    Fixture { _dir: dir, root, artifacts, lineage }
}

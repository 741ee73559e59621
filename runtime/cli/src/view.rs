//! `mlp show` and `mlp schema diff`: readable views of the data artifacts (Statistics, Schema,
//! Anomalies) in the terminal, an HTML page of statistics with a histogram per feature (two
//! splits or two spans side by side), and the difference between two schemas.
//!
//! The renderings live in `mlp-data` (`view`, `diff`); this module finds the artifacts in the
//! store, picks the datasets to compare and writes the output.

use crate::store::{artifacts, digest_of};
use mlp_data::schema::Schema;
use mlp_data::stats::{DatasetStats, Statistics};
use mlp_kernels::data::{ArtifactData, Part};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `mlp show` was asked.
pub(crate) struct ShowArgs {
    pub artifact: String,
    pub store: PathBuf,
    pub split: Option<String>,
    pub html: Option<PathBuf>,
    pub against: Option<String>,
    pub against_split: Option<String>,
    pub rows: usize,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}

fn load(store: &Path, what: &str) -> Result<(String, ArtifactData), ExitCode> {
    let digest = digest_of(store, what)?;
    let a = artifacts(store)?;
    let data = a.get(&digest).map_err(fail)?;
    Ok((digest, data))
}

/// A JSON part of an artifact, decoded.
fn part<T: serde::de::DeserializeOwned>(data: &ArtifactData, name: &str, digest: &str) -> Result<T, ExitCode> {
    let Some(Part::Blob(bytes)) = data.parts.get(name) else {
        return Err(fail(format!("{digest} ({}) has no `{name}` part", data.artifact_type)));
    };
    serde_json::from_slice(bytes).map_err(|e| fail(format!("{digest}: the `{name}` part is not valid: {e}")))
}

fn width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100).clamp(60, 240)
}

fn dataset<'a>(stats: &'a Statistics, split: Option<&str>, digest: &str) -> Result<&'a DatasetStats, ExitCode> {
    let found = match split {
        Some(s) => stats.split(s),
        None => stats.datasets.first(),
    };
    found.ok_or_else(|| {
        fail(format!("{digest} has no split `{}`; it has: {}", split.unwrap_or_default(), stats.splits().join(", ")))
    })
}

/// The readable text of a Statistics, Schema, Anomalies or TransformGraph artifact; `None` for other types (or
/// a part that does not decode, which is then shown raw).
pub(crate) fn data_text(data: &ArtifactData) -> Option<String> {
    fn decode<T: serde::de::DeserializeOwned>(data: &ArtifactData, name: &str) -> Option<T> {
        match data.parts.get(name)? {
            Part::Blob(bytes) => serde_json::from_slice(bytes).ok(),
            Part::Table(_) => None,
        }
    }
    match data.artifact_type.as_str() {
        "Statistics" => decode(data, "statistics.json").map(|s| mlp_data::view::statistics_text(&s, width())),
        "Schema" => decode(data, "schema.json").map(|s| mlp_data::view::schema_text(&s)),
        "Anomalies" => decode(data, "anomalies.json").map(|a| mlp_data::view::anomalies_text(&a)),
        "TransformGraph" => match data.parts.get("graph.json")? {
            Part::Blob(bytes) => {
                mlp_transform::TransformGraph::from_json(std::str::from_utf8(bytes).ok()?).ok().map(|g| g.to_text())
            }
            Part::Table(_) => None,
        },
        _ => None,
    }
}

/// `mlp show ARTIFACT`.
pub(crate) fn show(args: ShowArgs) -> ExitCode {
    let (digest, data) = match load(&args.store, &args.artifact) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let r = match data.artifact_type.as_str() {
        "Statistics" => show_statistics(&args, &digest, &data),
        "Schema" => part::<Schema>(&data, "schema.json", &digest).map(|s| {
            outln!("{digest}: Schema");
            out!("{}", mlp_data::view::schema_text(&s));
        }),
        "Anomalies" => part::<mlp_data::anomalies::Anomalies>(&data, "anomalies.json", &digest).map(|a| {
            outln!("{digest}: Anomalies");
            out!("{}", mlp_data::view::anomalies_text(&a));
        }),
        "TransformGraph" if data_text(&data).is_some() => {
            outln!("{digest}: TransformGraph");
            out!("{}", data_text(&data).unwrap_or_default());
            Ok(())
        }
        _ => {
            outln!("{digest}: {}", data.artifact_type);
            crate::run::print_artifact(&data, args.rows);
            Ok(())
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(c) => c,
    }
}

fn show_statistics(args: &ShowArgs, digest: &str, data: &ArtifactData) -> Result<(), ExitCode> {
    let stats: Statistics = part(data, "statistics.json", digest)?;
    let Some(html) = &args.html else {
        if args.against.is_some() {
            return Err(fail("--against compares statistics in the HTML view: add --html FILE"));
        }
        let mut shown = stats.clone();
        if let Some(s) = &args.split {
            dataset(&stats, Some(s), digest)?;
            shown.datasets.retain(|d| &d.split == s);
        }
        outln!("{digest}: Statistics");
        out!("{}", mlp_data::view::statistics_text(&shown, width()));
        return Ok(());
    };
    let left = dataset(&stats, args.split.as_deref(), digest)?;
    let short = |d: &str| d.trim_start_matches("blake3:").chars().take(12).collect::<String>();
    let left_name = format!("{} ({})", left.name(), short(digest));
    let other;
    let right = match (&args.against, &args.against_split) {
        (Some(what), split) => {
            let (d2, data2) = load(&args.store, what)?;
            if data2.artifact_type != "Statistics" {
                return Err(fail(format!("--against {what} is a {}, not Statistics", data2.artifact_type)));
            }
            other = part::<Statistics>(&data2, "statistics.json", &d2)?;
            let split = split.as_deref().or(Some(left.split.as_str()));
            Some((format!("{} ({})", split.unwrap_or_default(), short(&d2)), dataset(&other, split, &d2)?))
        }
        (None, Some(split)) => Some((format!("{split} ({})", short(digest)), dataset(&stats, Some(split), digest)?)),
        (None, None) => stats
            .datasets
            .iter()
            .find(|d| d.slice.is_none() && d.split != left.split)
            .map(|d| (format!("{} ({})", d.name(), short(digest)), d)),
    };
    let page = mlp_data::view::statistics_html((&left_name, left), right.as_ref().map(|(n, d)| (n.as_str(), *d)));
    crate::write_atomic(html, &page).map_err(|e| fail(format!("cannot write {}: {e}", html.display())))?;
    outln!("wrote {}", html.display());
    Ok(())
}

/// A schema from a store artifact (id or digest) or a JSON file.
fn schema_from(store: &Path, what: &str) -> Result<Schema, ExitCode> {
    let path = Path::new(what);
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read {what}: {e}")))?;
        return mlp_data::infer::parse_schema(&text).map_err(|e| fail(format!("{what}: {e}")));
    }
    let (digest, data) = load(store, what)?;
    if data.artifact_type != "Schema" {
        return Err(fail(format!("{what} is a {}, not a Schema", data.artifact_type)));
    }
    part(&data, "schema.json", &digest)
}

/// `mlp schema diff A B`: exit 0 when equal, 1 when they differ (like `diff`).
pub(crate) fn schema_diff(store: &Path, a: &str, b: &str) -> ExitCode {
    let (sa, sb) = match (schema_from(store, a), schema_from(store, b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let changes = mlp_data::diff::diff_schemas(&sa, &sb);
    if changes.is_empty() {
        outln!("the schemas are the same");
        return ExitCode::SUCCESS;
    }
    for c in &changes {
        outln!("{c}");
    }
    ExitCode::from(1)
}

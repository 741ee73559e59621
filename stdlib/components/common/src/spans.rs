//! Which files an ingest step reads: the input is a file, or a folder of files, or a folder of
//! span folders `span-N` (each possibly holding version folders `version-M`, of which the
//! highest is read), or a folder with a `pattern` that says where span and version numbers are
//! (`trips-{SPAN}.csv`, `{SPAN}/v{VERSION}/*.csv`). The `span` parameter picks spans: `latest`,
//! `previous`, `all`, a number (`12`) or an inclusive range (`3..5`).

use mlp_sdk::Error;
use std::path::{Path, PathBuf};

/// Which spans to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpanSel {
    /// The highest-numbered span.
    Latest,
    /// The one before the highest.
    Previous,
    /// Every span, in order.
    All,
    /// One span by number.
    One(u64),
    /// Spans `a..=b`.
    Range(u64, u64),
}

impl SpanSel {
    /// Parses the `span` parameter.
    pub fn parse(s: &str) -> Result<SpanSel, Error> {
        let t = s.trim();
        let bad = || {
            Error::invalid(format!(
                "span {s:?} is not understood; write \"latest\", \"previous\", \"all\", a span number such as \"12\", or a range such as \"3..5\""
            ))
        };
        Ok(match t {
            "latest" => SpanSel::Latest,
            "previous" => SpanSel::Previous,
            "all" => SpanSel::All,
            _ => match t.split_once("..") {
                Some((a, b)) => {
                    let (a, b) = (
                        a.trim().parse().map_err(|_| bad())?,
                        b.trim().trim_start_matches('=').parse().map_err(|_| bad())?,
                    );
                    if a > b {
                        return Err(Error::invalid(format!("span range {s:?} is empty: {a} is after {b}")));
                    }
                    SpanSel::Range(a, b)
                }
                None => SpanSel::One(t.parse().map_err(|_| bad())?),
            },
        })
    }
}

/// The files picked, with the spans and versions they come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Files in reading order.
    pub files: Vec<PathBuf>,
    /// The spans read (empty when the input has no span folders).
    pub spans: Vec<u64>,
    /// The version read of each span, when span folders hold version folders.
    pub versions: Vec<Option<u64>>,
}

fn numbered(name: &str, prefix: &str) -> Option<u64> {
    name.strip_prefix(prefix)?.parse().ok()
}

fn list(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::not_found(format!("cannot list `{}`: {e}", dir.display())))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::data(format!("cannot list `{}`: {e}", dir.display())))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        out.push((name, entry.path(), is_dir));
    }
    out.sort();
    Ok(out)
}

fn has_extension(name: &str, extensions: &[&str]) -> bool {
    let lower = name.to_ascii_lowercase();
    extensions.iter().any(|e| lower.ends_with(&format!(".{e}")))
}

/// The data files directly in `dir`, by name.
fn files_in(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, Error> {
    let entries = list(dir)?;
    let files: Vec<PathBuf> =
        entries.iter().filter(|(n, _, d)| !d && has_extension(n, extensions)).map(|(_, p, _)| p.clone()).collect();
    if files.is_empty() {
        let seen: Vec<&str> = entries.iter().take(8).map(|(n, _, _)| n.as_str()).collect();
        return Err(Error::not_found(format!(
            "no {} files in `{}`",
            extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(" or "),
            dir.display()
        ))
        .with_detail(if seen.is_empty() {
            "the folder is empty".into()
        } else {
            format!("it holds: {}", seen.join(", "))
        }));
    }
    Ok(files)
}

/// One segment of a pattern matched against a name: the span and version numbers it holds.
/// `{SPAN}` and `{VERSION}` match one or more digits, `*` any run of characters.
fn match_segment(pattern: &[u8], name: &[u8], span: &mut Option<u64>, version: &mut Option<u64>) -> bool {
    if let Some(rest) =
        pattern.strip_prefix(b"{SPAN}".as_slice()).or_else(|| pattern.strip_prefix(b"{VERSION}".as_slice()))
    {
        let is_span = pattern.starts_with(b"{SPAN}");
        let digits = name.iter().take_while(|b| b.is_ascii_digit()).count();
        // Longest first, so `{SPAN}` in `{SPAN}.csv` takes every digit.
        for n in (1..=digits).rev() {
            let Ok(v) = std::str::from_utf8(&name[..n]).unwrap_or("x").parse::<u64>() else { continue };
            let (mut s, mut ver) = (*span, *version);
            let slot = if is_span { &mut s } else { &mut ver };
            if slot.is_some_and(|old| old != v) {
                continue;
            }
            *slot = Some(v);
            if match_segment(rest, &name[n..], &mut s, &mut ver) {
                (*span, *version) = (s, ver);
                return true;
            }
        }
        return false;
    }
    match pattern.first() {
        None => name.is_empty(),
        Some(b'*') => (0..=name.len()).rev().any(|i| match_segment(&pattern[1..], &name[i..], span, version)),
        Some(c) => name.first() == Some(c) && match_segment(&pattern[1..], &name[1..], span, version),
    }
}

/// Every file under `dir` matching the `/`-separated `segments`, with its span and version.
fn walk(
    dir: &Path,
    segments: &[&str],
    span: Option<u64>,
    version: Option<u64>,
    out: &mut Vec<(u64, Option<u64>, PathBuf)>,
) -> Result<(), Error> {
    let Some((first, rest)) = segments.split_first() else { return Ok(()) };
    for (name, path, is_dir) in list(dir)? {
        let (mut s, mut v) = (span, version);
        if !match_segment(first.as_bytes(), name.as_bytes(), &mut s, &mut v) {
            continue;
        }
        match (rest.is_empty(), is_dir) {
            (true, false) => {
                if let Some(s) = s {
                    out.push((s, v, path));
                }
            }
            (false, true) => walk(&path, rest, s, v, out)?,
            _ => {}
        }
    }
    Ok(())
}

/// Picks the files of `input` matching `pattern` for `sel`.
fn select_pattern(input: &Path, pattern: &str, sel: &SpanSel) -> Result<Selection, Error> {
    if !pattern.contains("{SPAN}") {
        return Err(Error::invalid(format!(
            "the pattern {pattern:?} has no `{{SPAN}}`; write where the span number is, such as \"trips-{{SPAN}}.csv\""
        )));
    }
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| *s == ".." || *s == ".") {
        return Err(Error::invalid(format!("the pattern {pattern:?} may not contain `.` or `..` folders")));
    }
    let mut found = Vec::new();
    walk(input, &segments, None, None, &mut found)?;
    if found.is_empty() {
        return Err(Error::not_found(format!("no file under `{}` matches the pattern {pattern:?}", input.display())));
    }
    let mut spans: Vec<u64> = found.iter().map(|f| f.0).collect();
    spans.sort();
    spans.dedup();
    let names = || spans.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let picked: Vec<u64> = match sel {
        SpanSel::Latest => vec![*spans.last().expect("not empty")],
        SpanSel::Previous if spans.len() < 2 => {
            return Err(Error::not_found(format!(
                "the pattern {pattern:?} matches only span {}; span \"previous\" needs at least two spans",
                names()
            )));
        }
        SpanSel::Previous => vec![spans[spans.len() - 2]],
        SpanSel::All => spans.clone(),
        SpanSel::One(n) => spans.iter().copied().filter(|s| s == n).collect(),
        SpanSel::Range(a, b) => spans.iter().copied().filter(|s| s >= a && s <= b).collect(),
    };
    if picked.is_empty() {
        return Err(Error::not_found(format!("the pattern {pattern:?} matches no span {sel:?}"))
            .with_detail(format!("it matches spans {}", names())));
    }
    let mut out = Selection::default();
    for span in picked {
        let of_span: Vec<&(u64, Option<u64>, PathBuf)> = found.iter().filter(|f| f.0 == span).collect();
        let version = of_span.iter().map(|f| f.1).max().flatten();
        let mut files: Vec<PathBuf> = of_span.iter().filter(|f| f.1 == version).map(|f| f.2.clone()).collect();
        files.sort();
        out.files.extend(files);
        out.spans.push(span);
        out.versions.push(version);
    }
    Ok(out)
}

/// Picks the files of `input` for `sel`: by `pattern` when one is given, else by `span-N`
/// folders or all the files. `extensions` are the data files' extensions without the dot
/// (`csv`).
pub fn select(input: &Path, pattern: Option<&str>, sel: &SpanSel, extensions: &[&str]) -> Result<Selection, Error> {
    if let Some(pattern) = pattern {
        if !input.is_dir() {
            return Err(Error::invalid(format!(
                "a `pattern` is matched inside a folder, and the input `{}` is not one (or cannot be read: check `grant read`)",
                input.display()
            )));
        }
        return select_pattern(input, pattern, sel);
    }
    select_default(input, sel, extensions)
}

fn select_default(input: &Path, sel: &SpanSel, extensions: &[&str]) -> Result<Selection, Error> {
    let meta = std::fs::metadata(input).map_err(|e| {
        Error::not_found(format!("the input `{}` cannot be read: {e}", input.display()))
            .with_detail(format!("check that it exists, and that the step has `grant read {}`", input.display()))
    })?;
    if !meta.is_dir() {
        if sel != &SpanSel::Latest && sel != &SpanSel::All {
            return Err(Error::invalid(format!(
                "the input `{}` is one file, so it has no spans to pick from; leave `span` at \"latest\"",
                input.display()
            )));
        }
        return Ok(Selection { files: vec![input.to_path_buf()], spans: vec![], versions: vec![] });
    }
    let entries = list(input)?;
    let mut spans: Vec<(u64, PathBuf)> = entries
        .iter()
        .filter(|(_, _, d)| *d)
        .filter_map(|(n, p, _)| Some((numbered(n, "span-")?, p.clone())))
        .collect();
    spans.sort();
    if spans.is_empty() {
        if sel != &SpanSel::Latest && sel != &SpanSel::All {
            return Err(Error::invalid(format!(
                "`{}` has no span folders (`span-1`, `span-2`, ...), so span {sel:?} cannot be picked",
                input.display()
            )));
        }
        return Ok(Selection { files: files_in(input, extensions)?, spans: vec![], versions: vec![] });
    }
    let names = || spans.iter().map(|(n, _)| format!("span-{n}")).collect::<Vec<_>>().join(", ");
    let picked: Vec<&(u64, PathBuf)> = match sel {
        SpanSel::Latest => vec![spans.last().expect("not empty")],
        SpanSel::Previous => {
            if spans.len() < 2 {
                return Err(Error::not_found(format!(
                    "`{}` has only {}; span \"previous\" needs at least two spans",
                    input.display(),
                    names()
                )));
            }
            vec![&spans[spans.len() - 2]]
        }
        SpanSel::All => spans.iter().collect(),
        SpanSel::One(n) => spans.iter().filter(|(s, _)| s == n).collect(),
        SpanSel::Range(a, b) => spans.iter().filter(|(s, _)| s >= a && s <= b).collect(),
    };
    if picked.is_empty() {
        return Err(Error::not_found(format!("`{}` has no span matching {sel:?}", input.display()))
            .with_detail(format!("it has {}", names())));
    }
    let mut out = Selection::default();
    for (span, dir) in picked {
        let mut versions: Vec<(u64, PathBuf)> = list(dir)?
            .into_iter()
            .filter(|(_, _, d)| *d)
            .filter_map(|(n, p, _)| Some((numbered(&n, "version-")?, p)))
            .collect();
        versions.sort();
        let (version, dir) = match versions.pop() {
            Some((v, p)) => (Some(v), p),
            None => (None, dir.clone()),
        };
        out.files.extend(files_in(&dir, extensions)?);
        out.spans.push(*span);
        out.versions.push(version);
    }
    Ok(out)
}

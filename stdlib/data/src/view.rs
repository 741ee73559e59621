//! Renderings of the data artifacts for people: plain text for the terminal (`mlp show` of a
//! Statistics, Schema or Anomalies artifact; no colors, which the caller may add) and one
//! self-contained HTML page comparing two sets of statistics side by side (what users open in a
//! browser instead of TFDV's Facets).
//!
//! All text that comes from the data (feature names, values, split names) is made safe: control
//! characters are escaped in the terminal text (a value cannot move the cursor or change
//! colors), and everything is HTML-escaped in the page. The page has no script and refers to
//! nothing outside itself: inline CSS, inline SVG charts, native tooltips (`<title>`).
//!
//! The HTML page colors the distance of each feature as a visual guide only (below 0.1,
//! 0.1 to 0.3, 0.3 and above); thresholds that decide anything are `validate`'s.

use crate::anomalies::{Anomalies, Distance, Severity};
use crate::diff::{domain_text, presence_text};
use crate::distance::{default_measure, measure};
use crate::schema::Schema;
use crate::stats::{DatasetStats, FeatureKind, FeatureStats, Histogram, Statistics};
use crate::util::{clean, count, num, pad_left, pad_right, pct, ratio, truncate, width};
use crate::validate::shown_pair;
use std::fmt::Write as _;

// ---- text tables --------------------------------------------------------------------------------

/// A plain-text table: columns separated by two spaces, numbers right-aligned.
struct Table {
    headers: Vec<&'static str>,
    /// Whether each column is right-aligned.
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(columns: &[(&'static str, bool)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    /// The table within `max_width` characters where it can be: the columns of `shrink`
    /// (`(column, narrowest)`, in order) are narrowed first, their cells cut with `…`; then
    /// the column `drop` is left out; a table that still does not fit is printed as it is.
    fn render(&self, max_width: usize, shrink: &[(usize, usize)], drop: Option<usize>) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = (0..n)
            .map(|c| self.rows.iter().map(|r| width(&r[c])).chain([width(self.headers[c])]).max().unwrap_or(0))
            .collect();
        let mut shown = vec![true; n];
        let total = |widths: &[usize], shown: &[bool]| -> usize {
            let cols: Vec<usize> = (0..n).filter(|c| shown[*c]).map(|c| widths[c]).collect();
            cols.iter().sum::<usize>() + 2 * cols.len().saturating_sub(1)
        };
        let narrowed = |widths: &mut Vec<usize>, shown: &[bool]| {
            for &(c, narrowest) in shrink {
                let over = total(widths, shown).saturating_sub(max_width);
                if over > 0 && widths[c] > narrowest {
                    widths[c] -= over.min(widths[c] - narrowest);
                }
            }
        };
        // Leave out `drop` only when narrowing all it can does not make the table fit.
        let mut narrowest = widths.clone();
        narrowed(&mut narrowest, &shown);
        if let Some(d) = drop
            && total(&narrowest, &shown) > max_width
        {
            shown[d] = false;
        }
        narrowed(&mut widths, &shown);
        let line = |cells: Vec<String>| -> String {
            let parts: Vec<String> = (0..n)
                .filter(|c| shown[*c])
                .map(|c| {
                    let cell = truncate(&cells[c], widths[c]);
                    if self.right[c] { pad_left(&cell, widths[c]) } else { pad_right(&cell, widths[c]) }
                })
                .collect();
            format!("{}\n", parts.join("  ").trim_end())
        };
        let mut out = line(self.headers.iter().map(|h| h.to_string()).collect());
        for r in &self.rows {
            out.push_str(&line(r.clone()));
        }
        out
    }
}

/// The equal-width histogram as a sparkline, one character a bucket (`▁` to `█`, in
/// proportion to the fullest bucket; a space for an empty one).
pub fn sparkline(h: &Histogram) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = h.buckets.iter().map(|b| b.count).fold(0.0, f64::max);
    h.buckets
        .iter()
        .map(|b| {
            if b.count.is_nan() || b.count <= 0.0 || max <= 0.0 {
                ' '
            } else {
                let level = ((b.count / max) * 8.0).ceil().clamp(1.0, 8.0) as usize;
                BARS[level - 1]
            }
        })
        .collect()
}

fn missing_share(f: &FeatureStats) -> String {
    pct(ratio(f.missing, f.count + f.missing))
}

/// Statistics as text for a terminal `width` characters wide: for each dataset (split or
/// slice), its rows, a table of the numeric features (count, missing, mean, standard deviation,
/// zeros, min, median, max and a sparkline of the histogram) and one of the string features
/// (count, missing, distinct values, the top 3 values with their share, average length).
/// Feature names and top values are cut to fit `width`, then the sparkline is left out.
pub fn statistics_text(stats: &Statistics, width: usize) -> String {
    let mut out = String::new();
    for (i, ds) in stats.datasets.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}: {} rows", clean(&ds.name()), count(ds.num_examples));
        let numeric: Vec<&FeatureStats> = ds.features.iter().filter(|f| f.kind.is_numeric()).collect();
        let strings: Vec<&FeatureStats> = ds.features.iter().filter(|f| !f.kind.is_numeric()).collect();
        if !numeric.is_empty() {
            let mut t = Table::new(&[
                ("numeric", false),
                ("type", false),
                ("count", true),
                ("missing", true),
                ("mean", true),
                ("std dev", true),
                ("zeros", true),
                ("min", true),
                ("median", true),
                ("max", true),
                ("histogram", false),
            ]);
            for f in numeric {
                let mut row = vec![clean(&f.name), f.kind.name().into(), count(f.count), missing_share(f)];
                match (numeric_figures(f), &f.numeric) {
                    (Some(figures), Some(n)) => {
                        row.extend(figures);
                        row.push(sparkline(&n.histogram));
                    }
                    _ => row.extend(std::iter::repeat_n("-".to_string(), 7)),
                }
                t.rows.push(row);
            }
            out.push('\n');
            out.push_str(&t.render(width, &[(0, 8)], Some(10)));
        }
        if !strings.is_empty() {
            let mut t = Table::new(&[
                ("string", false),
                ("count", true),
                ("missing", true),
                ("distinct", true),
                ("top values", false),
                ("avg len", true),
            ]);
            for f in strings {
                let mut row = vec![clean(&f.name), count(f.count), missing_share(f)];
                match &f.string {
                    Some(s) => {
                        let approx = if s.distinct_exact { "" } else { "≈" };
                        let top: Vec<String> = s
                            .top
                            .iter()
                            .take(3)
                            .map(|v| format!("{} {}", truncate(&clean(&v.value), 20), pct(ratio(v.count, f.count))))
                            .collect();
                        let more = if s.top.len() > 3 || s.distinct > 3 { ", …" } else { "" };
                        row.extend([
                            format!("{approx}{}", count(s.distinct)),
                            format!("{}{more}", top.join(", ")),
                            if f.count > 0 { num(s.avg_length) } else { "-".into() },
                        ]);
                    }
                    None => row.extend(std::iter::repeat_n("-".to_string(), 3)),
                }
                t.rows.push(row);
            }
            out.push('\n');
            out.push_str(&t.render(width, &[(4, 10), (0, 8)], None));
        }
    }
    out
}

/// A schema as text: its environments, then one line per feature with its type, presence,
/// domain (at most 8 values listed), the environments it is not in, and its description.
pub fn schema_text(schema: &Schema) -> String {
    let mut out =
        format!("{} {}", schema.features.len(), if schema.features.len() == 1 { "feature" } else { "features" });
    if !schema.default_environments.is_empty() {
        let envs: Vec<String> = schema.default_environments.iter().map(|e| clean(e)).collect();
        let _ = write!(out, "; environments: {}", envs.join(", "));
    }
    out.push_str("\n\n");
    let rows: Vec<Vec<String>> = schema
        .features
        .iter()
        .map(|f| {
            vec![
                clean(&f.name),
                f.kind.name().into(),
                presence_text(&f.presence),
                f.domain.as_ref().map(|d| clean(&domain_text(d, 8))).unwrap_or_default(),
                clean(&f.not_in_environment.join(", ")),
                clean(&f.description),
            ]
        })
        .collect();
    // The last three columns only when some feature has something in them.
    let columns = ["feature", "type", "presence", "domain", "not in", "description"];
    let keep: Vec<usize> = (0..columns.len()).filter(|&c| c < 3 || rows.iter().any(|r| !r[c].is_empty())).collect();
    let mut t = Table::new(&keep.iter().map(|&c| (columns[c], false)).collect::<Vec<_>>());
    t.rows = rows.into_iter().map(|r| keep.iter().map(|&c| r[c].clone()).collect()).collect();
    out.push_str(&t.render(usize::MAX, &[], None));
    out
}

fn distances_table(distances: &[Distance]) -> String {
    let mut t =
        Table::new(&[("feature", false), ("measure", false), ("value", true), ("threshold", true), ("", false)]);
    for d in distances {
        let (v, th) = shown_pair(d.value, d.threshold);
        t.rows.push(vec![
            clean(&d.feature),
            d.measure.name().into(),
            v,
            th,
            if d.exceeded { "EXCEEDED".into() } else { "ok".into() },
        ]);
    }
    t.render(usize::MAX, &[], None).lines().map(|l| format!("  {l}\n")).collect()
}

/// Anomalies as text: a first line that says clearly whether there are any (`no anomalies`),
/// then each anomaly (severity, split, feature, code, and its description on the next line),
/// the drift and skew distances with their thresholds and whether each was exceeded, and the
/// configuration warnings.
pub fn anomalies_text(a: &Anomalies) -> String {
    let checked = if a.splits.is_empty() {
        "no split checked".to_string()
    } else {
        format!("checked: {}", a.splits.iter().map(|s| clean(s)).collect::<Vec<_>>().join(", "))
    };
    let mut out = String::new();
    if a.anomalies.is_empty() {
        let _ = writeln!(out, "no anomalies ({checked})");
    } else {
        let errors = a.anomalies.iter().filter(|x| x.severity == Severity::Error).count();
        let warnings = a.anomalies.len() - errors;
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let _ = writeln!(
            out,
            "{} ({}, {}; {checked})",
            plural(a.anomalies.len(), "anomaly", "anomalies"),
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings")
        );
        out.push('\n');
        let mut t = Table::new(&[("severity", false), ("split", false), ("feature", false), ("code", false)]);
        for x in &a.anomalies {
            let feature = if x.feature.is_empty() { "-".to_string() } else { clean(&x.feature) };
            t.rows.push(vec![x.severity.as_str().into(), clean(&x.split), feature, x.code.as_str().into()]);
        }
        let rendered = t.render(usize::MAX, &[], None);
        let mut lines = rendered.lines();
        let _ = writeln!(out, "{}", lines.next().unwrap_or_default());
        for (line, x) in lines.zip(&a.anomalies) {
            let _ = writeln!(out, "{line}\n    {}", clean(&x.description));
        }
    }
    if !a.drift.is_empty() {
        out.push_str("\ndrift (previous span -> this span):\n");
        out.push_str(&distances_table(&a.drift));
    }
    if !a.skew.is_empty() {
        out.push_str("\nskew (training -> serving):\n");
        out.push_str(&distances_table(&a.skew));
    }
    if !a.warnings.is_empty() {
        out.push_str("\nconfiguration warnings:\n");
        for w in &a.warnings {
            let _ = writeln!(out, "  - {}", clean(w));
        }
    }
    out
}

// ---- HTML ---------------------------------------------------------------------------------------

/// Text escaped for HTML, in element content and in quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --a: #2f6fdf; --b: #e8731a; --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --bg: #ffffff;
  --band: #f6f8fb; --low-bg: #e7f5ec; --low-fg: #1e7b3c; --mid-bg: #fff1cc; --mid-fg: #8a5a00;
  --high-bg: #fde2e1; --high-fg: #b42318; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e5e7eb; --muted: #9ca3af; --line: #303846; --bg: #111827; --band: #182130;
    --low-bg: #12351f; --low-fg: #7ee2a0; --mid-bg: #3d2f0a; --mid-fg: #f5c451; --high-bg: #45171a;
    --high-fg: #ff9b94; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 32px 0 8px; }
.legend { display: flex; gap: 24px; flex-wrap: wrap; color: var(--muted); margin: 0 0 12px; }
.legend b { color: var(--fg); }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.sw.a { background: var(--a); } .sw.b { background: var(--b); }
.summary { margin: 12px 0 0; padding: 10px 14px; border: 1px solid var(--line); border-radius: 8px; }
.summary ol { margin: 4px 0 0; padding-left: 20px; }
.summary a { color: inherit; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 4px 10px; text-align: right; white-space: nowrap; vertical-align: middle;
  font-variant-numeric: tabular-nums; }
thead th { font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 2px solid var(--line); }
tbody.feat { border-bottom: 1px solid var(--line); }
tbody.feat:nth-of-type(even) { background: var(--band); }
th.name { text-align: left; font-weight: 600; max-width: 260px; overflow: hidden; text-overflow: ellipsis; }
th.name .kind { display: block; font-weight: 400; font-size: 12px; color: var(--muted); }
td.side { text-align: left; color: var(--muted); max-width: 140px; overflow: hidden; text-overflow: ellipsis; }
td.absent { text-align: left; color: var(--muted); font-style: italic; }
td.chart { text-align: left; padding: 6px 10px; }
td.dist { text-align: center; }
.badge { display: inline-block; min-width: 52px; padding: 1px 8px; border-radius: 10px; font-weight: 600; }
.d-low { background: var(--low-bg); color: var(--low-fg); }
.d-mid { background: var(--mid-bg); color: var(--mid-fg); }
.d-high { background: var(--high-bg); color: var(--high-fg); }
.measure { display: block; font-size: 11px; color: var(--muted); }
tbody.feat.high th.name { box-shadow: inset 3px 0 0 var(--high-fg); }
tbody.feat.mid th.name { box-shadow: inset 3px 0 0 var(--mid-fg); }
svg { display: block; }
svg text { font-size: 10px; fill: var(--muted); }
svg .label { fill: var(--fg); }
svg rect.a { fill: var(--a); fill-opacity: 0.6; }
svg rect.b { fill: var(--b); fill-opacity: 0.6; }
svg line { stroke: var(--line); }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"#;

/// One side of the comparison.
struct Side<'a> {
    label: &'a str,
    ds: &'a DatasetStats,
    /// `a` or `b`: the CSS class of its color.
    class: &'static str,
}

/// A feature of either side, with its distance.
struct Row<'a> {
    name: &'a str,
    kind: FeatureKind,
    stats: Vec<Option<&'a FeatureStats>>,
    distance: Option<(f64, &'static str)>,
}

fn distance_class(d: f64) -> &'static str {
    if d >= 0.3 {
        "high"
    } else if d >= 0.1 {
        "mid"
    } else {
        "low"
    }
}

fn short_measure(kind: FeatureKind) -> &'static str {
    match default_measure(kind) {
        crate::anomalies::Measure::LInfinity => "L∞",
        crate::anomalies::Measure::JensenShannon => "JS",
        crate::anomalies::Measure::NormalizedAbsoluteDifference => "NAD",
    }
}

/// One HTML page comparing the statistics of `left` with those of `right` (or describing
/// `left` alone), each given with the label to show (`"train"`, `"previous span"`): one row
/// per feature with the figures of both sides, a chart (the equal-width histograms of a numeric
/// feature on a common scale, overlaid; the top values of a string feature as horizontal bars),
/// and with two sides the distance between them (Jensen-Shannon for numeric features,
/// L-infinity for string ones; see `distance`), colored by size, with the features that
/// differ most listed first at the top of the page.
pub fn statistics_html(left: (&str, &DatasetStats), right: Option<(&str, &DatasetStats)>) -> String {
    let mut sides = vec![Side { label: left.0, ds: left.1, class: "a" }];
    if let Some((label, ds)) = right {
        sides.push(Side { label, ds, class: "b" });
    }
    // Features in left's order, then those only right has.
    let mut names: Vec<&str> = left.1.features.iter().map(|f| f.name.as_str()).collect();
    if let Some((_, ds)) = right {
        for f in &ds.features {
            if !names.contains(&f.name.as_str()) {
                names.push(&f.name);
            }
        }
    }
    let rows: Vec<Row<'_>> = names
        .iter()
        .map(|name| {
            let stats: Vec<Option<&FeatureStats>> = sides.iter().map(|s| s.ds.feature(name)).collect();
            let kind = stats.iter().flatten().next().map_or(FeatureKind::String, |f| f.kind);
            let distance = match stats.as_slice() {
                [Some(a), Some(b)] => measure(default_measure(kind), a, b).map(|d| (d, short_measure(kind))),
                _ => None,
            };
            Row { name, kind, stats, distance }
        })
        .collect();

    let title = match right {
        Some((r, _)) => format!("Statistics: {} vs {}", left.0, r),
        None => format!("Statistics: {}", left.0),
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"legend\">",
        esc(&title),
        esc(&title)
    );
    for s in &sides {
        let full = s.ds.name();
        let detail = if full == s.label { String::new() } else { format!(" ({})", esc(&full)) };
        let _ = write!(
            h,
            "<span><i class=\"sw {}\"></i><b>{}</b>{detail} · {} rows · {} features</span>",
            s.class,
            esc(s.label),
            count(s.ds.num_examples),
            s.ds.features.len()
        );
    }
    h.push_str("</p>\n");

    if sides.len() == 2 {
        let mut ranked: Vec<(usize, f64, &str)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.distance.map(|(d, m)| (i, d, m)))
            .filter(|(_, d, _)| *d > 0.0)
            .collect();
        ranked.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        let only: Vec<&Row<'_>> = rows.iter().filter(|r| r.stats.iter().any(Option::is_none)).collect();
        h.push_str("<div class=\"summary\"><b>Largest differences</b>");
        if ranked.is_empty() {
            h.push_str(" — none: every feature present on both sides has the same distribution.");
        } else {
            h.push_str("<ol>");
            for (i, d, m) in ranked.iter().take(5) {
                let _ = write!(
                    h,
                    "<li><a href=\"#f{i}\">{}</a> <span class=\"badge d-{}\">{m} {}</span></li>",
                    esc(rows[*i].name),
                    distance_class(*d),
                    esc(&num(*d))
                );
            }
            h.push_str("</ol>");
        }
        if !only.is_empty() {
            let list: Vec<String> = only.iter().map(|r| esc(r.name)).collect();
            let _ = write!(h, "<div>On one side only: {}</div>", list.join(", "));
        }
        h.push_str("</div>\n");
    }

    let numeric: Vec<(usize, &Row<'_>)> = rows.iter().enumerate().filter(|(_, r)| r.kind.is_numeric()).collect();
    let strings: Vec<(usize, &Row<'_>)> = rows.iter().enumerate().filter(|(_, r)| !r.kind.is_numeric()).collect();
    if !numeric.is_empty() {
        let _ = writeln!(h, "<h2>Numeric features ({})</h2>", numeric.len());
        section(&mut h, &sides, &numeric, true);
    }
    if !strings.is_empty() {
        let _ = writeln!(h, "<h2>String features ({})</h2>", strings.len());
        section(&mut h, &sides, &strings, false);
    }
    h.push_str(
        "<footer>Histograms: equal-width buckets, bar heights as the share of rows per unit of width, on one axis \
         for both sides. Top values: the share of each side's non-missing rows.",
    );
    if sides.len() == 2 {
        h.push_str(
            " Distances: Jensen-Shannon divergence between the histograms (numeric features) and L-infinity \
             distance between the top values (string features), in [0, 1].",
        );
    }
    h.push_str("</footer>\n</body>\n</html>\n");
    h
}

fn section(h: &mut String, sides: &[Side<'_>], rows: &[(usize, &Row<'_>)], numeric: bool) {
    let figures: &[&str] = if numeric {
        &["count", "missing", "mean", "std dev", "zeros", "min", "median", "max"]
    } else {
        &["count", "missing", "distinct", "avg length"]
    };
    let two = sides.len() == 2;
    h.push_str("<table>\n<thead><tr><th class=\"name\">feature</th><th></th>");
    for f in figures {
        let _ = write!(h, "<th>{f}</th>");
    }
    if two {
        h.push_str("<th>distance</th>");
    }
    let _ = writeln!(h, "<th class=\"name\">{}</th></tr></thead>", if numeric { "histogram" } else { "top values" });
    for (i, row) in rows {
        let class = row.distance.map_or("", |(d, _)| distance_class(d));
        let _ = write!(h, "<tbody class=\"feat {class}\" id=\"f{i}\">");
        for (k, side) in sides.iter().enumerate() {
            h.push_str("<tr>");
            if k == 0 {
                let _ = write!(
                    h,
                    "<th class=\"name\" rowspan=\"{}\" title=\"{}\">{}<span class=\"kind\">{}</span></th>",
                    sides.len(),
                    esc(row.name),
                    esc(row.name),
                    row.kind.name()
                );
            }
            let _ = write!(h, "<td class=\"side\"><i class=\"sw {}\"></i>{}</td>", side.class, esc(side.label));
            match row.stats[k] {
                None => {
                    let _ =
                        write!(h, "<td class=\"absent\" colspan=\"{}\">not in {}</td>", figures.len(), esc(side.label));
                }
                Some(f) if f.kind.is_numeric() != numeric => {
                    let _ = write!(
                        h,
                        "<td class=\"absent\" colspan=\"{}\">{} in {}</td>",
                        figures.len(),
                        f.kind.name(),
                        esc(side.label)
                    );
                }
                Some(f) => {
                    for cell in figure_cells(f, numeric) {
                        let _ = write!(h, "<td>{}</td>", esc(&cell));
                    }
                }
            }
            if k == 0 {
                if two {
                    match row.distance {
                        Some((d, m)) => {
                            let _ = write!(
                                h,
                                "<td class=\"dist\" rowspan=\"2\"><span class=\"badge d-{}\">{}</span>\
                                 <span class=\"measure\">{m}</span></td>",
                                distance_class(d),
                                esc(&num(d))
                            );
                        }
                        None => h.push_str("<td class=\"dist\" rowspan=\"2\">—</td>"),
                    }
                }
                let chart = if numeric { numeric_svg(sides, &row.stats) } else { strings_svg(sides, &row.stats) };
                let _ = write!(h, "<td class=\"chart\" rowspan=\"{}\">{chart}</td>", sides.len());
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody>\n");
    }
    h.push_str("</table>\n");
}

/// Mean, standard deviation, zeros, min, median and max of a numeric feature, formatted; `None`
/// when it has no value that is not NaN.
fn numeric_figures(f: &FeatureStats) -> Option<[String; 6]> {
    let n = f.numeric.as_ref().filter(|n| f.count > n.nans)?;
    Some([num(n.mean), num(n.std_dev), pct(ratio(n.zeros, f.count)), num(n.min), num(n.median), num(n.max)])
}

fn figure_cells(f: &FeatureStats, numeric: bool) -> Vec<String> {
    let mut cells = vec![count(f.count), missing_share(f)];
    if numeric {
        match numeric_figures(f) {
            Some(figures) => cells.extend(figures),
            None => cells.extend(std::iter::repeat_n("—".to_string(), 6)),
        }
    } else {
        match &f.string {
            Some(s) => cells.extend([
                format!("{}{}", if s.distinct_exact { "" } else { "≈" }, count(s.distinct)),
                if f.count > 0 { num(s.avg_length) } else { "—".into() },
            ]),
            None => cells.extend(std::iter::repeat_n("—".to_string(), 2)),
        }
    }
    cells
}

const SVG_W: f64 = 300.0;

/// Both sides' equal-width histograms overlaid on one axis: bar heights are each side's share
/// of rows per unit of width (so sides of different sizes and bucket widths compare); a bucket
/// of zero width (a constant feature) is a thin full-height spike scaled by its share.
fn numeric_svg(sides: &[Side<'_>], stats: &[Option<&FeatureStats>]) -> String {
    let (w, top, plot_h) = (SVG_W, 4.0, 60.0);
    let hists: Vec<(usize, &Histogram, f64)> = stats
        .iter()
        .enumerate()
        .filter_map(|(k, f)| {
            let h = &f.and_then(|f| f.numeric.as_ref())?.histogram;
            let total: f64 = h.buckets.iter().filter(|b| b.count > 0.0).map(|b| b.count).sum();
            (total > 0.0).then_some((k, h, total))
        })
        .collect();
    let usable = |b: &&crate::stats::Bucket| b.count > 0.0 && b.low.is_finite() && b.high.is_finite();
    let lows = hists.iter().flat_map(|(_, h, _)| h.buckets.iter().filter(usable).map(|b| b.low));
    let highs = hists.iter().flat_map(|(_, h, _)| h.buckets.iter().filter(usable).map(|b| b.high));
    let (mut lo, mut hi) = (lows.fold(f64::INFINITY, f64::min), highs.fold(f64::NEG_INFINITY, f64::max));
    let height = top + plot_h + 16.0;
    let mut s = format!("<svg width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\">");
    if lo.partial_cmp(&hi).is_none_or(|o| o == std::cmp::Ordering::Greater) {
        s.push_str("<text x=\"0\" y=\"36\">no values</text></svg>");
        return s;
    }
    let (shown_lo, shown_hi) = (lo, hi);
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let (x0, x1) = (2.0, w - 2.0);
    let px = |v: f64| x0 + (v - lo) / (hi - lo) * (x1 - x0);
    let max_density = hists
        .iter()
        .flat_map(|(_, h, total)| {
            h.buckets.iter().filter(usable).filter(|b| b.high > b.low).map(move |b| b.count / total / (b.high - b.low))
        })
        .fold(0.0, f64::max);
    let base = top + plot_h;
    for (k, h, total) in &hists {
        let side = &sides[*k];
        for b in h.buckets.iter().filter(usable) {
            let share = b.count / total;
            let (x, bw, bh) = if b.high > b.low {
                let bh = if max_density > 0.0 { share / (b.high - b.low) / max_density * plot_h } else { 0.0 };
                (px(b.low), (px(b.high) - px(b.low) - 1.0).max(1.0), bh)
            } else {
                (px(b.low) - 1.5, 3.0, share * plot_h)
            };
            let close = if b.high > b.low { ")" } else { "]" };
            let _ = write!(
                s,
                "<rect class=\"{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\"><title>{}: [{}, {}{close}: {} rows ({})</title></rect>",
                side.class,
                base - bh,
                esc(side.label),
                esc(&num(b.low)),
                esc(&num(b.high)),
                esc(&num(b.count)),
                pct(share)
            );
        }
    }
    let _ = write!(
        s,
        "<line x1=\"{x0}\" y1=\"{base}\" x2=\"{x1}\" y2=\"{base}\"/>\
         <text x=\"{x0}\" y=\"{:.1}\">{}</text><text x=\"{x1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></svg>",
        base + 12.0,
        esc(&num(shown_lo)),
        base + 12.0,
        esc(&num(shown_hi))
    );
    s
}

/// Most values in a top-values chart.
const MAX_BARS: usize = 10;

/// The top values of both sides as horizontal bars, one row per value (left's order, then the
/// values only right has), at most [`MAX_BARS`], each side's share of its non-missing rows on a
/// common scale.
fn strings_svg(sides: &[Side<'_>], stats: &[Option<&FeatureStats>]) -> String {
    let mut values: Vec<&str> = Vec::new();
    for f in stats.iter().flatten() {
        if let Some(s) = &f.string {
            for v in &s.top {
                if !values.contains(&v.value.as_str()) {
                    values.push(&v.value);
                }
            }
        }
    }
    let all = values.len();
    values.truncate(MAX_BARS);
    let share = |k: usize, v: &str| -> Option<f64> {
        let f = stats[k]?;
        let s = f.string.as_ref()?;
        let c = s.top.iter().find(|t| t.value == v)?.count;
        Some(ratio(c, f.count))
    };
    let max_share = (0..sides.len()).flat_map(|k| values.iter().filter_map(move |v| share(k, v))).fold(0.0, f64::max);
    let bar_h = if sides.len() == 2 { 8.0 } else { 11.0 };
    let row_h = bar_h * sides.len() as f64 + 7.0;
    let (label_w, pct_w) = (118.0, 44.0);
    let bar_max = SVG_W - label_w - pct_w;
    let more = all.saturating_sub(values.len());
    let height = (row_h * values.len() as f64 + if more > 0 { 14.0 } else { 0.0 }).max(20.0);
    let mut s = format!("<svg width=\"{SVG_W}\" height=\"{height}\" viewBox=\"0 0 {SVG_W} {height}\" role=\"img\">");
    if values.is_empty() {
        s.push_str("<text x=\"0\" y=\"14\">no values</text></svg>");
        return s;
    }
    for (i, v) in values.iter().enumerate() {
        let y = i as f64 * row_h;
        let _ = write!(
            s,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            label_w - 6.0,
            y + row_h / 2.0 + 1.0,
            esc(v),
            esc(&truncate(&clean(v), 18))
        );
        for (k, side) in sides.iter().enumerate() {
            let by = y + 2.0 + k as f64 * bar_h;
            let Some(p) = share(k, v) else { continue };
            let bw = if max_share > 0.0 { (p / max_share * bar_max).max(1.0) } else { 1.0 };
            let _ = write!(
                s,
                "<rect class=\"{}\" x=\"{label_w}\" y=\"{by:.1}\" width=\"{bw:.1}\" height=\"{:.1}\"><title>{}: {} ({})</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                side.class,
                bar_h - 1.0,
                esc(side.label),
                esc(v),
                pct(p),
                label_w + bw + 3.0,
                by + bar_h - 1.0,
                pct(p)
            );
        }
    }
    if more > 0 {
        let _ = write!(
            s,
            "<text x=\"{label_w}\" y=\"{:.1}\">+{more} more values in the top lists</text>",
            row_h * values.len() as f64 + 11.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomalies::{Anomaly, AnomalyCode, Measure};
    use crate::infer::{InferOptions, infer_schema};
    use crate::schema::Domain;
    use crate::stats::Bucket;
    use crate::testdata::{dataset, num as numeric, slice, statistics, taxi, text};

    #[test]
    fn sparklines() {
        let h = |counts: &[f64]| Histogram {
            buckets: counts.iter().map(|&count| Bucket { low: 0.0, high: 1.0, count }).collect(),
        };
        assert_eq!(sparkline(&h(&[0.0, 1.0, 2.0, 4.0, 8.0])), " ▁▂▄█");
        assert_eq!(sparkline(&h(&[3.0, 3.0])), "██");
        assert_eq!(sparkline(&h(&[0.0, 0.0])), "  ");
        assert_eq!(sparkline(&h(&[])), "");
    }

    #[test]
    fn statistics_as_text() {
        let mut ds = taxi("train");
        ds.features[2]
            .string
            .as_mut()
            .unwrap()
            .top
            .push(crate::stats::ValueCount { value: "a\u{1b}[31m".into(), count: 0 });
        let stats = statistics(vec![
            ds,
            slice("train", "payment_type", "Cash", 40, vec![text("payment_type", 40, 0, 1, &[("Cash", 40)])]),
        ]);
        let out = statistics_text(&stats, 120);
        assert_eq!(
            out,
            "train: 100 rows\n\
             \n\
             numeric     type   count  missing   mean  std dev  zeros  min  median  max  histogram\n\
             fare        float    100       0%     15        1     0%    0      20   40  █▆▄▂\n\
             passengers  int       95     5.0%  1.987        1     0%    1     2.5    4  █▂\n\
             tips        float    100       0%      4        1     0%    0       5   10  █▄\n\
             \n\
             string        count  missing  distinct  top values                                avg len\n\
             payment_type    100       0%         2  Credit 60.0%, Cash 40.0%, a\\u{1b}[31m 0%      4.5\n\
             \n\
             train [payment_type = Cash]: 40 rows\n\
             \n\
             string        count  missing  distinct  top values  avg len\n\
             payment_type     40       0%         1  Cash 100%       4.5\n"
        );
    }

    #[test]
    fn narrow_terminals() {
        let stats = statistics(vec![taxi("train")]);
        // 80 columns: the sparkline goes, the names stay.
        let out = statistics_text(&stats, 80);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], "numeric     type   count  missing   mean  std dev  zeros  min  median  max");
        assert_eq!(lines[4], "passengers  int       95     5.0%  1.987        1     0%    1     2.5    4");
        // 60 columns: names and top values are cut too.
        assert_eq!(
            statistics_text(&stats, 60),
            "train: 100 rows\n\
             \n\
             numeric   type   count  missing   mean  std dev  zeros  min  median  max\n\
             fare      float    100       0%     15        1     0%    0      20   40\n\
             passeng…  int       95     5.0%  1.987        1     0%    1     2.5    4\n\
             tips      float    100       0%      4        1     0%    0       5   10\n\
             \n\
             string        count  missing  distinct  top values   avg len\n\
             payment_type    100       0%         2  Credit 60.…      4.5\n"
        );
    }

    #[test]
    fn schema_as_text() {
        let mut schema =
            infer_schema(&taxi("train"), &InferOptions { not_at_serving: vec!["tips".into()], ..Default::default() });
        schema.features[0].domain = Some(Domain::Float { min: Some(0.0), max: None, allow_nan: false });
        schema.features[0].description = "in dollars".into();
        assert_eq!(
            schema_text(&schema),
            "4 features; environments: TRAINING, SERVING\n\
             \n\
             feature       type    presence                   domain                      not in   description\n\
             fare          float   required                   >= 0, no NaN                         in dollars\n\
             passengers    int     optional (at least 1 row)\n\
             payment_type  string  required                   2 values: \"Cash\", \"Credit\"\n\
             tips          float   required                                               SERVING\n"
        );
    }

    #[test]
    fn schema_columns_only_when_used() {
        let mut ds = taxi("train");
        ds.features.truncate(2);
        let schema = infer_schema(&ds, &InferOptions::default());
        assert_eq!(
            schema_text(&schema),
            "2 features\n\
             \n\
             feature     type   presence\n\
             fare        float  required\n\
             passengers  int    optional (at least 1 row)\n"
        );
    }

    #[test]
    fn anomalies_as_text() {
        let mut a = Anomalies {
            format: 1,
            splits: vec!["train".into(), "eval".into()],
            anomalies: vec![],
            drift: vec![],
            skew: vec![],
            warnings: vec![],
        };
        assert_eq!(anomalies_text(&a), "no anomalies (checked: train, eval)\n");
        a.drift = vec![
            Distance {
                feature: "fare".into(),
                measure: Measure::JensenShannon,
                value: 0.0123,
                threshold: 0.1,
                exceeded: false,
            },
            Distance {
                feature: "payment_type".into(),
                measure: Measure::LInfinity,
                value: 0.3,
                threshold: 0.25,
                exceeded: true,
            },
        ];
        a.anomalies = vec![
            Anomaly {
                code: AnomalyCode::ComparatorLInftyHigh,
                feature: "payment_type".into(),
                split: "train".into(),
                description: "`payment_type` drifted".into(),
                severity: Severity::Error,
            },
            Anomaly {
                code: AnomalyCode::DatasetLowNumExamples,
                feature: String::new(),
                split: "eval".into(),
                description: "split `eval` has no rows".into(),
                severity: Severity::Error,
            },
            Anomaly {
                code: AnomalyCode::SchemaNewColumn,
                feature: "extra".into(),
                split: "train".into(),
                description: "`extra` is new".into(),
                severity: Severity::Warning,
            },
        ];
        a.skew = vec![Distance {
            feature: "fare".into(),
            measure: Measure::JensenShannon,
            value: 0.2,
            threshold: 0.2,
            exceeded: false,
        }];
        a.warnings = vec!["drift threshold for `x`: nowhere".into()];
        assert_eq!(
            anomalies_text(&a),
            "3 anomalies (2 errors, 1 warning; checked: train, eval)\n\
             \n\
             severity  split  feature       code\n\
             error     train  payment_type  COMPARATOR_L_INFTY_HIGH\n    `payment_type` drifted\n\
             error     eval   -             DATASET_LOW_NUM_EXAMPLES\n    split `eval` has no rows\n\
             warning   train  extra         SCHEMA_NEW_COLUMN\n    `extra` is new\n\
             \n\
             drift (previous span -> this span):\n\
             \x20 feature       measure                     value  threshold\n\
             \x20 fare          Jensen-Shannon divergence  0.0123        0.1  ok\n\
             \x20 payment_type  L-infinity distance           0.3       0.25  EXCEEDED\n\
             \n\
             skew (training -> serving):\n\
             \x20 feature  measure                    value  threshold\n\
             \x20 fare     Jensen-Shannon divergence    0.2        0.2  ok\n\
             \n\
             configuration warnings:\n\
             \x20 - drift threshold for `x`: nowhere\n"
        );
    }

    fn html_pair() -> (DatasetStats, DatasetStats) {
        let a = taxi("train");
        let mut b = taxi("eval");
        b.num_examples = 50;
        b.features[0] = numeric("fare", FeatureKind::Float, 50, 0, &[(10.0, 30.0, 25.0), (30.0, 50.0, 25.0)]);
        b.features[2] = text("payment_type", 50, 0, 3, &[("Cash", 30), ("<script>alert(1)</script>", 20)]);
        b.features.remove(3); // tips only on the left
        b.features.push(text("company <b>&</b>", 50, 0, 1, &[("A", 50)]));
        (a, b)
    }

    #[test]
    fn html_compares_two_sides() {
        let (a, b) = html_pair();
        let h = statistics_html(("train", &a), Some(("eval", &b)));
        assert!(h.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(h.ends_with("</html>\n"));
        assert!(h.contains("<title>Statistics: train vs eval</title>"));
        // Escaped user text, no script, nothing outside the page.
        assert!(!h.contains("<script"));
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(h.contains("company &lt;b&gt;&amp;&lt;/b&gt;"));
        assert!(!h.contains("<b>&</b>"));
        assert!(!h.contains("http:") && !h.contains("https:") && !h.contains("src=") && !h.contains("@import"));
        // One chart per feature: fare, passengers, tips, payment_type, company.
        assert_eq!(h.matches("<svg ").count(), 5);
        assert_eq!(h.matches("<tbody class=\"feat").count(), 5);
        // Distances: passengers identical (JS 0), payment_type L-inf = |0.4 - 0.6| = 0.2... and
        // `<script>` 0.4 vs 0: 0.4.
        assert!(h.contains("<td class=\"dist\" rowspan=\"2\"><span class=\"badge d-high\">0.6</span><span class=\"measure\">L∞</span></td>"));
        assert!(h.contains("<span class=\"badge d-low\">0</span><span class=\"measure\">JS</span>"));
        // Largest differences, most first (fare: JS 0.3526); features on one side only.
        assert!((measure(Measure::JensenShannon, &a.features[0], &b.features[0]).unwrap() - 0.3526).abs() < 5e-5);
        assert!(h.contains(
            "<div class=\"summary\"><b>Largest differences</b><ol>\
             <li><a href=\"#f2\">payment_type</a> <span class=\"badge d-high\">L∞ 0.6</span></li>\
             <li><a href=\"#f0\">fare</a> <span class=\"badge d-high\">JS 0.3526</span></li></ol>\
             <div>On one side only: tips, company &lt;b&gt;&amp;&lt;/b&gt;</div></div>\n"
        ));
        assert!(h.contains("<td class=\"absent\" colspan=\"8\">not in eval</td>"));
        // The numeric figures of both sides.
        assert!(h.contains("<td>100</td><td>0%</td><td>15</td><td>1</td><td>0%</td><td>0</td><td>20</td><td>40</td>"));
        assert!(h.contains("<td>50</td><td>0%</td><td>30</td><td>1</td><td>0%</td><td>10</td><td>30</td><td>50</td>"));
        // The bar of eval's "<script>" value: 40% of the rows, and its tooltip.
        assert!(h.contains("<title>eval: &lt;script&gt;alert(1)&lt;/script&gt; (40.0%)</title>"));
    }

    #[test]
    fn html_of_one_side() {
        let a = taxi("train");
        let h = statistics_html(("train", &a), None);
        assert!(h.contains("<title>Statistics: train</title>"));
        assert!(!h.contains("distance</th>"));
        assert!(!h.contains("class=\"summary\""));
        assert!(!h.contains("Distances:"));
        assert_eq!(h.matches("<svg ").count(), 4);
        assert!(
            h.contains("<th class=\"name\" rowspan=\"1\" title=\"fare\">fare<span class=\"kind\">float</span></th>")
        );
    }

    #[test]
    fn html_degenerate_histograms() {
        let constant = numeric("c", FeatureKind::Int, 5, 0, &[(3.0, 3.0, 0.0), (3.0, 3.0, 5.0)]);
        let empty = numeric("e", FeatureKind::Float, 0, 5, &[(0.0, 0.0, 0.0)]);
        let ds = dataset("train", 5, vec![constant, empty]);
        let h = statistics_html(("train", &ds), Some(("same", &ds)));
        assert!(h.contains("<text x=\"0\" y=\"36\">no values</text>"));
        // The constant feature: a spike at 3 on an axis from 2.5 to 3.5, labelled 3 and 3.
        assert!(h.contains("<rect class=\"a\" x=\"148.5\" y=\"4.0\" width=\"3.0\" height=\"60.0\"><title>train: [3, 3]: 5 rows (100%)</title></rect>"));
        assert!(h.contains("Largest differences</b> — none"));
    }
}

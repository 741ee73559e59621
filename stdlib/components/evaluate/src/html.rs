//! `evaluation.html`: the evaluation as one self-contained page (inline CSS and inline SVG, no
//! script, nothing fetched), drawn from the `evaluation.json` document alone: the verdict and
//! every check of the blessing policy, the overall metrics beside the baseline's, each main
//! metric per slice with its confidence interval, the calibration curve, the fairness gaps,
//! and the sensitivity ranking. Every chart section (`class="chart"`) holds at least one
//! `<svg>`; a section without data says so in words instead.

use crate::analysis::{is_unit, larger_is_better};
use serde_json::Value;
use std::fmt::Write as _;

/// Colors of the candidate, the baseline, and of better and worse changes.
const CANDIDATE: &str = "#1f5fa8";
const BASELINE: &str = "#d9822b";
const BETTER: &str = "#2e8540";
const WORSE: &str = "#c0392b";
const NEUTRAL: &str = "#888888";

/// Slices drawn per chart; the tables and the JSON have all of them.
const MAX_ROWS: usize = 60;

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
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

/// A number for people: 4 decimals, fewer for large values; `–` when there is none.
pub fn fmt(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v.abs() >= 1e4 => format!("{v:.1}"),
        Some(v) if v.is_finite() => format!("{v:.4}"),
        _ => "–".into(),
    }
}

/// Text shortened to `max` characters.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}

/// One row of a forest plot: a label, a value with its interval, and optionally the
/// baseline's value.
struct Point {
    label: String,
    value: Option<f64>,
    ci: Option<(f64, f64)>,
    baseline: Option<f64>,
}

/// The domain `[lo, hi]` covering `values`, padded by 5% (a unit around a single value), and
/// kept within `[0, 1]` when `unit`.
fn domain(values: impl Iterator<Item = f64>, unit: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi - lo < 1e-9 { if lo.abs() > 1e-9 { lo.abs() * 0.05 } else { 0.05 } } else { (hi - lo) * 0.05 };
    let (lo, hi) = (lo - pad, hi + pad);
    if unit { (lo.max(0.0), hi.min(1.0)) } else { (lo, hi) }
}

/// About six round tick values (steps of 1, 2 or 5 times a power of ten) within `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    if raw <= 0.0 || !raw.is_finite() {
        return vec![lo];
    }
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A tick value: as few decimals as its step needs.
fn tick_text(v: f64, step: f64) -> String {
    let decimals = if step > 0.0 { (-step.log10().floor()).clamp(0.0, 10.0) as usize } else { 4 };
    let s = format!("{v:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// The vertical grid and its tick labels for a horizontal axis.
fn x_axis(svg: &mut String, x: &dyn Fn(f64) -> f64, (lo, hi): (f64, f64), top: f64, bottom: f64) {
    let t = ticks(lo, hi);
    let step = if t.len() > 1 { t[1] - t[0] } else { 1.0 };
    for v in t {
        let px = x(v);
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" y1="{top:.1}" x2="{px:.1}" y2="{bottom:.1}" class="grid"/><text x="{px:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"##,
            top - 6.0,
            esc(&tick_text(v, step))
        );
    }
}

/// A forest plot: one row per point, the value as a dot, its interval as a line, the
/// baseline's value as a hollow diamond.
fn forest(title: &str, points: &[Point], unit: bool) -> String {
    let (label_w, value_w, width, row_h, top) = (280.0, 80.0, 780.0, 20.0, 34.0);
    let plot_w = width - label_w - value_w - 10.0;
    let values = points.iter().flat_map(|p| {
        [p.value, p.ci.map(|c| c.0), p.ci.map(|c| c.1), p.baseline].into_iter().flatten().collect::<Vec<_>>()
    });
    let (lo, hi) = domain(values, unit);
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * plot_w;
    let height = top + row_h * points.len() as f64 + 8.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{t}"><text x="4" y="14" class="title">{t}</text>"##,
        t = esc(title)
    );
    x_axis(&mut svg, &x, (lo, hi), top, height - 4.0);
    for (i, p) in points.iter().enumerate() {
        let y = top + row_h * (i as f64 + 0.5);
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" class="label" text-anchor="end">{}</text>"##,
            label_w - 8.0,
            y + 4.0,
            esc(&short(&p.label, 40))
        );
        if let Some((a, b)) = p.ci.filter(|(a, b)| a.is_finite() && b.is_finite()) {
            let _ = write!(
                svg,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{CANDIDATE}" stroke-width="2"/>"##,
                x(a),
                x(b)
            );
        }
        if let Some(b) = p.baseline.filter(|b| b.is_finite()) {
            let bx = x(b);
            let _ = write!(
                svg,
                r##"<path d="M{bx:.1} {:.1} L{:.1} {y:.1} L{bx:.1} {:.1} L{:.1} {y:.1} Z" fill="none" stroke="{BASELINE}" stroke-width="1.5"><title>baseline {}</title></path>"##,
                y - 5.0,
                bx + 5.0,
                y + 5.0,
                bx - 5.0,
                fmt(Some(b))
            );
        }
        if let Some(v) = p.value.filter(|v| v.is_finite()) {
            let ci = p.ci.map(|(a, b)| format!(" [{}, {}]", fmt(Some(a)), fmt(Some(b)))).unwrap_or_default();
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{y:.1}" r="4" fill="{CANDIDATE}"><title>{}{}</title></circle>"##,
                x(v),
                fmt(Some(v)),
                ci
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" class="value">{}</text>"##,
            width - value_w + 6.0,
            y + 4.0,
            fmt(p.value)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One bar: a label, a signed value, an optional error half-width and a color.
struct Bar {
    label: String,
    value: Option<f64>,
    err: Option<f64>,
    color: &'static str,
}

/// Horizontal bars from zero (negative values to the left).
fn bars(title: &str, rows: &[Bar]) -> String {
    let (label_w, value_w, width, row_h, top) = (240.0, 90.0, 780.0, 20.0, 34.0);
    let plot_w = width - label_w - value_w - 10.0;
    let ends = rows.iter().flat_map(|r| {
        let v = r.value.unwrap_or(0.0);
        let e = r.err.unwrap_or(0.0);
        [v - e, v + e, 0.0]
    });
    let (lo, hi) = domain(ends, false);
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * plot_w;
    let height = top + row_h * rows.len() as f64 + 8.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{t}"><text x="4" y="14" class="title">{t}</text>"##,
        t = esc(title)
    );
    x_axis(&mut svg, &x, (lo, hi), top, height - 4.0);
    let zero = x(0.0);
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" class="label" text-anchor="end">{}</text>"##,
            label_w - 8.0,
            y + row_h / 2.0 + 4.0,
            esc(&short(&r.label, 34))
        );
        if let Some(v) = r.value.filter(|v| v.is_finite()) {
            let (a, b) = if v < 0.0 { (x(v), zero) } else { (zero, x(v)) };
            let _ = write!(
                svg,
                r##"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"##,
                y + 3.0,
                (b - a).max(0.5),
                row_h - 6.0,
                r.color,
                fmt(Some(v))
            );
            if let Some(e) = r.err.filter(|e| e.is_finite() && *e > 0.0) {
                let cy = y + row_h / 2.0;
                let _ = write!(
                    svg,
                    r##"<line x1="{:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="#333" stroke-width="1"/>"##,
                    x(v - e),
                    x(v + e)
                );
            }
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" class="value">{}</text>"##,
            width - value_w + 6.0,
            y + row_h / 2.0 + 4.0,
            fmt(r.value)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{zero:.1}" y1="{top:.1}" x2="{zero:.1}" y2="{:.1}" stroke="#333" stroke-width="1"/>"##,
        height - 4.0
    );
    svg.push_str("</svg>");
    svg
}

/// The calibration curve: the observed positive rate against the mean predicted probability
/// of each non-empty bin, with the diagonal of perfect calibration.
fn calibration(candidate: &[Value], baseline: Option<&[Value]>) -> String {
    let (size, pad) = (380.0, 44.0);
    let plot = size - 2.0 * pad;
    let x = |v: f64| pad + v * plot;
    let y = |v: f64| size - pad - v * plot;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" role="img" aria-label="calibration curve"><rect x="{pad}" y="{pad}" width="{plot}" height="{plot}" fill="none" stroke="#999"/>"##
    );
    for i in 0..=4 {
        let v = f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{v}</text><text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{v}</text>"##,
            x(v),
            size - pad + 14.0,
            pad - 6.0,
            y(v) + 4.0
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 4"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">mean predicted probability</text><text x="12" y="{:.1}" class="tick" transform="rotate(-90 12 {:.1})" text-anchor="middle">observed positive rate</text>"##,
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0),
        size / 2.0,
        size - 8.0,
        size / 2.0,
        size / 2.0
    );
    let mut curve = |bins: &[Value], color: &str, name: &str| {
        let points: Vec<(f64, f64, u64)> = bins
            .iter()
            .filter_map(|b| Some((b["mean_predicted"].as_f64()?, b["observed_rate"].as_f64()?, b["count"].as_u64()?)))
            .collect();
        let path: Vec<String> = points.iter().map(|(p, o, _)| format!("{:.1},{:.1}", x(*p), y(*o))).collect();
        let _ =
            write!(svg, r##"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"##, path.join(" "));
        for (p, o, n) in points {
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"><title>{name}: {n} rows, predicted {}, observed {}</title></circle>"##,
                x(p),
                y(o),
                fmt(Some(p)),
                fmt(Some(o))
            );
        }
    };
    curve(candidate, CANDIDATE, "candidate");
    if let Some(b) = baseline {
        curve(b, BASELINE, "baseline");
    }
    svg.push_str("</svg>");
    svg
}

fn metric(m: &Value, name: &str) -> Option<f64> {
    m["metrics"][name].as_f64()
}

fn ci(m: &Value, name: &str) -> Option<(f64, f64)> {
    let c = &m["ci"][name];
    Some((c[0].as_f64()?, c[1].as_f64()?))
}

/// The metrics drawn per slice, for a task.
fn charted(task: &str) -> &'static [&'static str] {
    match task {
        "binary" => &["auc", "auc_pr", "accuracy", "f1", "log_loss"],
        "multiclass" => &["accuracy", "auc", "macro_f1", "log_loss"],
        _ => &["rmse", "mae", "r2"],
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}\
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#f6f6f6}\
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;font-weight:600;color:#fff}\
.yes{background:#2e8540}.no{background:#c0392b}.muted{color:#777}\
svg{display:block;margin:10px 0;max-width:100%;height:auto}svg .grid{stroke:#eee}\
svg .tick{font-size:11px;fill:#666}svg .label{font-size:12px;fill:#222}svg .value{font-size:12px;fill:#222}\
svg .title{font-size:13px;font-weight:600;fill:#222}.legend span{margin-right:16px}\
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}\
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}";

/// The page for an evaluation document.
pub fn render(e: &Value) -> String {
    let task = e["task"].as_str().unwrap_or("binary");
    let names: Vec<&str> = e["metric_names"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let base = e.get("baseline").filter(|b| !b.is_null());
    let blessing = &e["blessing"];
    let blessed = blessing["blessed"].as_bool().unwrap_or(false);
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Evaluation of {label}</title><style>{STYLE}</style></head><body>"#,
        label = esc(e["label"].as_str().unwrap_or(""))
    );
    let _ = write!(
        h,
        r#"<header><h1>Evaluation of <code>{}</code></h1><p>{} model <code>{}</code> on split <code>{}</code>: {} rows ({} without a label left out).</p><p><span class="verdict {}">{}</span></p><p class="legend"><span><i class="swatch" style="background:{CANDIDATE}"></i>candidate</span>{}</p></header>"#,
        esc(e["label"].as_str().unwrap_or("")),
        esc(task),
        esc(e["model"]["digest"].as_str().unwrap_or("")),
        esc(e["split"].as_str().unwrap_or("")),
        e["rows"],
        e["unlabeled_rows"],
        if blessed { "yes" } else { "no" },
        if blessed { "Blessed" } else { "Not blessed" },
        match base {
            Some(b) => format!(
                r#"<span><i class="swatch" style="background:{BASELINE}"></i>baseline <code>{}</code></span>"#,
                esc(b["digest"].as_str().unwrap_or(""))
            ),
            None => r#"<span class="muted">no baseline</span>"#.into(),
        }
    );

    // The policy and its checks.
    let _ = write!(
        h,
        r#"<section id="blessing"><h2>Blessing</h2><p>Policy: <code>{}</code></p><table><tr><th>where</th><th>check</th><th>left</th><th>right</th><th>result</th></tr>"#,
        esc(blessing["policy"].as_str().unwrap_or(""))
    );
    let mut check_rows = |place: &str, checks: &Value| {
        for c in checks.as_array().into_iter().flatten() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(place),
                esc(c["check"].as_str().unwrap_or("")),
                fmt(c["left"].as_f64()),
                fmt(c["right"].as_f64()),
                esc(c["status"].as_str().unwrap_or(""))
            );
        }
    };
    check_rows("overall", &blessing["overall"]["checks"]);
    for s in blessing["slices"].as_array().into_iter().flatten() {
        check_rows(s["slice"].as_str().unwrap_or(""), &s["checks"]);
    }
    h.push_str("</table></section>");

    // Overall metrics beside the baseline's.
    let overall = &e["overall"];
    h.push_str(r#"<section id="metrics"><h2>Overall metrics</h2><table><tr><th>metric</th><th>candidate</th><th>interval</th>"#);
    if base.is_some() {
        h.push_str("<th>baseline</th><th>interval</th><th>change</th>");
    }
    h.push_str("</tr>");
    let show_ci =
        |c: Option<(f64, f64)>| c.map_or("–".to_string(), |(a, b)| format!("[{}, {}]", fmt(Some(a)), fmt(Some(b))));
    let show = |n: &str, v: Option<f64>| if n == "count" { v.map_or("–".into(), |v| format!("{v}")) } else { fmt(v) };
    for n in &names {
        let v = metric(overall, n);
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td>", esc(n), show(n, v), show_ci(ci(overall, n)));
        if let Some(b) = base {
            let bv = metric(&b["overall"], n);
            let change = v.zip(bv).map(|(a, b)| a - b);
            let change = if *n == "count" { "–".into() } else { change.map_or("–".into(), |c| format!("{c:+.4}")) };
            let _ = write!(h, "<td>{}</td><td>{}</td><td>{change}</td>", show(n, bv), show_ci(ci(&b["overall"], n)));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></section>");

    // Metrics per slice.
    let slices: Vec<&Value> = e["slices"].as_array().into_iter().flatten().collect();
    let measured: Vec<&Value> = slices.iter().copied().filter(|s| !s["metrics"].is_null()).collect();
    let base_slice = |key: &str, name: &str| -> Option<f64> {
        let b = base?;
        if key == "overall" {
            return metric(&b["overall"], name);
        }
        b["slices"].as_array()?.iter().find(|s| s["slice"] == key).and_then(|s| metric(s, name))
    };
    if slices.is_empty() {
        h.push_str(r#"<section id="slices"><h2>Metrics per slice</h2><p class="muted">No slices: set <code>slice_by</code> to see metrics per slice.</p></section>"#);
    } else {
        h.push_str(r#"<section id="slices" class="chart"><h2>Metrics per slice</h2><p>Dots are the candidate's values, lines their bootstrap confidence intervals, diamonds the baseline's values.</p>"#);
        for name in charted(task) {
            let mut points = vec![Point {
                label: format!("overall ({})", overall["count"]),
                value: metric(overall, name),
                ci: ci(overall, name),
                baseline: base_slice("overall", name),
            }];
            for s in measured.iter().take(MAX_ROWS) {
                let key = s["slice"].as_str().unwrap_or("");
                points.push(Point {
                    label: format!("{key} ({})", s["count"]),
                    value: metric(s, name),
                    ci: ci(s, name),
                    baseline: base_slice(key, name),
                });
            }
            h.push_str(&forest(name, &points, is_unit(name)));
        }
        if measured.len() > MAX_ROWS {
            let _ = write!(
                h,
                "<p class=\"muted\">The first {MAX_ROWS} of {} slices are drawn; evaluation.json has all of them.</p>",
                measured.len()
            );
        }
        let small: Vec<&&Value> = slices.iter().filter(|s| s["metrics"].is_null()).collect();
        if !small.is_empty() {
            let _ = write!(
                h,
                "<p>Slices with fewer than {} rows (counts only):</p><table><tr><th>slice</th><th>rows</th></tr>",
                e["settings"]["min_slice_size"]
            );
            for s in small {
                let _ =
                    write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(s["slice"].as_str().unwrap_or("")), s["count"]);
            }
            h.push_str("</table>");
        }
        h.push_str("</section>");
    }

    // Calibration.
    if let Some(bins) = e["calibration"].as_array() {
        let b = base.and_then(|b| b["calibration"].as_array()).map(Vec::as_slice);
        h.push_str(r#"<section id="calibration" class="chart"><h2>Calibration</h2><p>Each point is a bin of predicted probabilities (10 equal-width bins); on the dashed line the predicted probability is the observed rate.</p>"#);
        h.push_str(&calibration(bins, b));
        h.push_str("<table><tr><th>bin</th><th>rows</th><th>mean predicted</th><th>observed rate</th></tr>");
        for bin in bins {
            let _ = write!(
                h,
                "<tr><td>({}, {}]</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                fmt(bin["lo"].as_f64()),
                fmt(bin["hi"].as_f64()),
                bin["count"],
                fmt(bin["mean_predicted"].as_f64()),
                fmt(bin["observed_rate"].as_f64())
            );
        }
        h.push_str("</table></section>");
    }

    // Fairness.
    if let Some(f) = e.get("fairness").filter(|f| !f.is_null()) {
        let rows: Vec<&Value> = f["slices"].as_array().into_iter().flatten().take(MAX_ROWS).collect();
        if rows.is_empty() {
            h.push_str(r#"<section id="fairness"><h2>Fairness</h2><p class="muted">No slice has enough rows to compare with the whole.</p></section>"#);
        } else {
            let _ = write!(
                h,
                r#"<section id="fairness" class="chart"><h2>Fairness</h2><p>Each slice's rate minus the overall rate at threshold {} (overall: false positive rate {}, false negative rate {}, positive rate {}).</p>"#,
                f["threshold"],
                fmt(f["overall"]["fpr"].as_f64()),
                fmt(f["overall"]["fnr"].as_f64()),
                fmt(f["overall"]["positive_rate"].as_f64())
            );
            for (key, title) in [
                ("fpr_gap", "false positive rate gap"),
                ("fnr_gap", "false negative rate gap"),
                ("positive_rate_gap", "positive rate gap"),
            ] {
                let bars_rows: Vec<Bar> = rows
                    .iter()
                    .map(|s| {
                        let v = s[key].as_f64();
                        Bar {
                            label: s["slice"].as_str().unwrap_or("").to_string(),
                            value: v,
                            err: None,
                            color: match (key, v.unwrap_or(0.0) > 0.0) {
                                ("positive_rate_gap", _) => NEUTRAL,
                                (_, true) => WORSE,
                                (_, false) => CANDIDATE,
                            },
                        }
                    })
                    .collect();
                h.push_str(&bars(title, &bars_rows));
            }
            h.push_str("</section>");
        }
    }

    // Sensitivity.
    let sens = &e["sensitivity"];
    let perm: Vec<&Value> = sens["permutation"].as_array().into_iter().flatten().collect();
    let pert: Vec<&Value> = sens["perturbation"].as_array().into_iter().flatten().collect();
    if perm.is_empty() && pert.is_empty() {
        h.push_str(r#"<section id="sensitivity"><h2>Sensitivity</h2><p class="muted">Not computed.</p></section>"#);
    } else {
        let _ = write!(
            h,
            r#"<section id="sensitivity" class="chart"><h2>Sensitivity</h2><p>Permutation importance: how much {} {} when one feature's column is shuffled (mean of {} shuffles, with their standard deviation). Perturbation: the mean absolute change of the prediction when each input moves a little.</p>"#,
            esc(sens["metric"].as_str().unwrap_or("")),
            if sens["metric"] == "rmse" || sens["metric"] == "log_loss" { "rises" } else { "drops" },
            sens["permutations"]
        );
        if !perm.is_empty() {
            let rows: Vec<Bar> = perm
                .iter()
                .map(|p| Bar {
                    label: p["feature"].as_str().unwrap_or("").to_string(),
                    value: p["importance"].as_f64(),
                    err: p["std"].as_f64(),
                    color: CANDIDATE,
                })
                .collect();
            h.push_str(&bars("permutation importance", &rows));
        }
        if !pert.is_empty() {
            let rows: Vec<Bar> = pert
                .iter()
                .map(|p| Bar {
                    label: format!("{} ({})", p["feature"].as_str().unwrap_or(""), p["kind"].as_str().unwrap_or("")),
                    value: p["mean_abs_change"].as_f64(),
                    err: None,
                    color: BASELINE,
                })
                .collect();
            h.push_str(&bars("mean absolute change of the prediction under perturbation", &rows));
        }
        h.push_str("</section>");
    }

    // Candidate beside baseline.
    match base {
        Some(b) => {
            h.push_str(r#"<section id="baseline" class="chart"><h2>Candidate and baseline</h2><p>The change of each overall metric from the baseline's; green is better, red worse, gray neither.</p>"#);
            if b["transform_matches"] == false {
                h.push_str(r#"<p class="muted">The baseline was trained on another transform; it is scored on the candidate's features.</p>"#);
            }
            let rows: Vec<Bar> = names
                .iter()
                .filter(|n| **n != "count")
                .map(|n| {
                    let change = metric(overall, n).zip(metric(&b["overall"], n)).map(|(a, b)| a - b);
                    let color = match (larger_is_better(n), change) {
                        (Some(larger), Some(c)) if (c >= 0.0) == larger || c == 0.0 => BETTER,
                        (Some(_), Some(_)) => WORSE,
                        _ => NEUTRAL,
                    };
                    Bar { label: n.to_string(), value: change, err: None, color }
                })
                .collect();
            h.push_str(&bars("candidate minus baseline", &rows));
            h.push_str("</section>");
        }
        None => h.push_str(r#"<section id="baseline"><h2>Candidate and baseline</h2><p class="muted">No baseline was given.</p></section>"#),
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(with_baseline: bool) -> Value {
        let m =
            |auc: f64| json!({"count": 100, "auc": auc, "accuracy": 0.7, "log_loss": 0.5, "auc_pr": 0.6, "f1": 0.5});
        let ci = json!({"auc": [0.7, 0.9], "accuracy": [0.6, 0.8]});
        json!({
            "task": "binary", "label": "tip<20%", "split": "eval", "rows": 100, "unlabeled_rows": 0,
            "model": {"digest": "blake3:aa"},
            "metric_names": ["count", "auc", "accuracy", "log_loss"],
            "settings": {"min_slice_size": 30},
            "overall": {"slice": "overall", "count": 100, "metrics": m(0.8), "ci": ci},
            "slices": [
                {"slice": "pay=<Cash>", "count": 60, "metrics": m(0.82), "ci": ci},
                {"slice": "pay=Card", "count": 5, "metrics": null, "note": "small"},
            ],
            "calibration": [{"lo": 0.0, "hi": 0.1, "count": 3, "mean_predicted": 0.05, "observed_rate": 0.0},
                            {"lo": 0.1, "hi": 0.2, "count": 0, "mean_predicted": null, "observed_rate": null}],
            "fairness": {"threshold": 0.5, "overall": {"fpr": 0.1, "fnr": 0.2, "positive_rate": 0.3},
                         "slices": [{"slice": "pay=<Cash>", "fpr_gap": 0.05, "fnr_gap": -0.02, "positive_rate_gap": 0.0}]},
            "sensitivity": {"metric": "auc", "permutations": 3,
                "permutation": [{"feature": "x1", "importance": 0.3, "std": 0.01}],
                "perturbation": [{"feature": "x1", "kind": "numeric", "mean_abs_change": 0.002}]},
            "baseline": if with_baseline { json!({"digest": "blake3:bb", "transform_matches": true,
                "overall": {"metrics": m(0.75), "ci": ci}, "slices": []}) } else { Value::Null },
            "blessing": {"blessed": true, "policy": "auc >= 0.7", "overall": {"checks": [
                {"check": "auc >= 0.7", "left": 0.8, "right": 0.7, "status": "passed"}]}},
        })
    }

    #[test]
    fn every_chart_section_has_an_svg_and_text_is_escaped() {
        let page = render(&doc(true));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("src="), "self-contained");
        for id in ["slices", "calibration", "fairness", "sensitivity", "baseline"] {
            let start = page.find(&format!(r#"<section id="{id}" class="chart">"#)).unwrap_or_else(|| panic!("{id}"));
            let end = start + page[start..].find("</section>").unwrap();
            assert!(page[start..end].contains("<svg"), "{id} has no chart");
        }
        assert!(page.contains("pay=&lt;Cash&gt;"));
        assert!(!page.contains("pay=<Cash>"));
        assert!(page.contains("Evaluation of <code>tip&lt;20%</code>"));
        assert!(page.contains("Blessed"));
        assert!(page.contains("<td>pay=Card</td><td>5</td>"), "small slices are listed with their count");
    }

    #[test]
    fn without_a_baseline_the_section_says_so() {
        let page = render(&doc(false));
        assert!(page.contains(
            r#"<section id="baseline"><h2>Candidate and baseline</h2><p class="muted">No baseline was given."#
        ));
        assert!(!page.contains(r#"<section id="baseline" class="chart">"#));
    }

    #[test]
    fn numbers_and_domains() {
        assert_eq!(fmt(Some(0.123_456)), "0.1235");
        assert_eq!(fmt(Some(123_456.0)), "123456.0");
        assert_eq!(fmt(None), "–");
        assert_eq!(fmt(Some(f64::NAN)), "–");
        assert_eq!(domain([0.5, 0.5].into_iter(), false), (0.475, 0.525));
        assert_eq!(domain(std::iter::empty(), false), (0.0, 1.0));
        assert_eq!(domain([0.2, 0.99].into_iter(), true), (0.2 - 0.0395, 1.0));
        let t: Vec<String> = ticks(0.0, 1.0).iter().map(|v| tick_text(*v, 0.2)).collect();
        assert_eq!(t, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t: Vec<String> = ticks(-0.0247, 0.5089).iter().map(|v| tick_text(*v, 0.2)).collect();
        assert_eq!(t, ["0.0", "0.2", "0.4"]);
        assert_eq!(tick_text(-0.0000001, 0.01), "0.00");
        assert_eq!(tick_text(250.0, 50.0), "250");
        assert_eq!(ticks(3.0, 3.0), [3.0]);
        assert_eq!(short("abcdef", 4), "abc…");
    }
}

//! Small helpers shared by the modules of this crate (not public): number and percentage
//! formatting for messages and views, making user text safe to print on a terminal, and the
//! "did you mean" suggestion used by `infer::parse_schema` and `validate`.

/// A number for people: integers without a fraction (`12`, `-3`), others with up to 4
/// significant digits (`0.1235`, `12.35`, `1235`), very large or small ones in scientific
/// notation (`1.235e9`); `NaN`, `inf` and `-inf` as such.
pub(crate) fn num(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if x.fract() == 0.0 && a < 1e15 {
        return format!("{x:.0}");
    }
    if !(1e-4..1e9).contains(&a) {
        let s = format!("{x:.3e}");
        // `1.200e9` -> `1.2e9`
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
            _ => s,
        };
    }
    let digits = a.log10().floor() as i32;
    let decimals = (3 - digits).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// A count with thousands separators: `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A fraction in `[0, 1]` as a percentage with one decimal (`12.5%`), never rounded to `100%`
/// or `0%` when it is not exactly that (`>99.9%`, `<0.1%`).
pub(crate) fn pct(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    let s = format!("{:.1}%", f * 100.0);
    if f < 1.0 && s == "100.0%" {
        ">99.9%".into()
    } else if f > 0.0 && s == "0.0%" {
        "<0.1%".into()
    } else if f == 1.0 {
        "100%".into()
    } else if f == 0.0 {
        "0%".into()
    } else {
        s
    }
}

/// `part / whole`, 0 when `whole` is 0.
pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// User text made safe for a terminal: control characters (newlines, escape sequences) are
/// written as escapes (`\n`, `\u{1b}`), everything else is kept.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Text quoted and escaped like a Rust or JSON string: `"Cash"`, `"a\"b"`, `"\n"`.
pub(crate) fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// At most `width` characters of `s`, the last replaced by `…` when it is cut.
pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Characters in `s` (the terminal width, for the text this crate prints).
pub(crate) fn width(s: &str) -> usize {
    s.chars().count()
}

/// `s` padded with spaces on the right to `w` characters.
pub(crate) fn pad_right(s: &str, w: usize) -> String {
    let n = width(s);
    if n >= w { s.to_string() } else { format!("{s}{}", " ".repeat(w - n)) }
}

/// `s` padded with spaces on the left to `w` characters.
pub(crate) fn pad_left(s: &str, w: usize) -> String {
    let n = width(s);
    if n >= w { s.to_string() } else { format!("{}{s}", " ".repeat(w - n)) }
}

/// Levenshtein distance between two strings, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name` when it is close enough to be a likely typo (at most 2
/// edits, or a third of the name's length for long names; case differences count as edits
/// but an exact case-insensitive match always wins). Ties go to the first candidate.
pub(crate) fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(2);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = if c.to_lowercase() == lower { 0 } else { edit_distance(name, c) };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(-3.0), "-3");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(12.3456), "12.35");
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(num(1234.56), "1235");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(1.5e10), "15000000000");
        assert_eq!(num(1.25e20), "1.25e20");
        assert_eq!(num(0.00001234), "1.234e-5");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn counts_and_percentages() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(pct(0.125), "12.5%");
        assert_eq!(pct(1.0), "100%");
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(0.99999), ">99.9%");
        assert_eq!(pct(0.00001), "<0.1%");
        assert_eq!(ratio(1, 4), 0.25);
        assert_eq!(ratio(1, 0), 0.0);
    }

    #[test]
    fn text() {
        assert_eq!(clean("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(truncate("payment_type", 8), "payment…");
        assert_eq!(truncate("fare", 8), "fare");
        assert_eq!(pad_left("ab", 4), "  ab");
        assert_eq!(pad_right("▁▂", 3), "▁▂ ");
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("presense", "presence"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(suggest("presense", ["name", "type", "presence"]), Some("presence"));
        assert_eq!(suggest("Fare", ["fare", "fares"]), Some("fare"));
        assert_eq!(suggest("zzz", ["name", "type"]), None);
    }
}

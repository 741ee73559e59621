//! Distances between two distributions of one feature, from its statistics: the measures of
//! drift (this span against the previous one) and skew (training against serving data) that
//! `validate` compares with thresholds, and that the HTML view shows per feature.
//!
//! Every measure is in `[0, 1]`, symmetric, and 0 for identical statistics. Each returns
//! `None` when it does not apply to the two features (a string measure on a numeric feature,
//! a numeric feature compared with a string one, statistics missing their numeric or string
//! part). When one side has no values at all the result is 1 (as far apart as two
//! distributions can be), and 0 when neither has any.
//!
//! # String features: the top values
//!
//! The distribution of a string feature is taken from its `top` values: `p(v) = count(v) /
//! count`, where `count` is the feature's number of non-missing values. Values outside `top`
//! (the top-k kept by the statistics) are ignored, as in TFDV's rank histogram: over the union
//! of both `top` lists, a value missing from one side's list counts 0 there.
//!
//! - [`linf`]: `max_v |p_a(v) - p_b(v)|` (TFDV's L-infinity distance).
//! - [`normalized_abs_difference`]: `½ Σ_v |p_a(v) - p_b(v)|` (the total variation distance).
//!
//! # Numeric features: the quantiles
//!
//! The distribution of a numeric feature (int, float, bool) is taken from its quantiles,
//! `numeric.quantiles` (`q_0 = min, ..., q_n = max` at ranks `j / n`, from the statistics'
//! sketch: 11 points by default). Each side's CDF is the curve through its points `(q_j, j / n)`:
//! linear between distinct points, jumping where points repeat (a value held by many rows, such
//! as a column of mostly zeros), 0 below `q_0` and 1 from `q_n` on. The common bins are cut at
//! the *interior* points (`q_1 .. q_{n-1}`) of both sides, sorted and deduplicated; the first bin
//! is open to the left and the last open to the right, so the extremes (the most variable figures
//! of a long-tailed column) do not move mass around. Each side's mass in a bin is the rise of
//! its CDF across it; these are the probability vectors `P` and `Q`.
//!
//! Why not the equal-width histograms, as TFDV does: their buckets span `[min, max]`, so in a
//! long-tailed column (fares, trip lengths) nearly all rows fall in the first bucket, and two
//! samples of the same distribution with different maxima look different once re-bucketed. On
//! the example taxi data, two spans drawn from the same distribution measured 0.07-0.09 on the
//! equal-width histograms and under 0.002 on the quantiles; the drifted column 0.19 and 0.079.
//!
//! # Numeric features without quantiles: the equal-width histograms
//!
//! Statistics written by hand may lack quantiles. Their equal-width histograms,
//! `numeric.histogram`, are used then, buckets read as `[low, high)` intervals with their
//! (possibly fractional) counts; NaN values are in no bucket and so are not compared. The two
//! histograms are brought onto a common set of bins:
//!
//! 1. The boundaries of every bucket of positive width, of both sides, sorted and
//!    deduplicated, cut the line into *elementary intervals* `[e_i, e_{i+1})`.
//! 2. A bucket of positive width spreads its count over the elementary intervals it covers, in
//!    proportion to their width (values are assumed uniform within a bucket).
//! 3. A bucket of zero width `[v, v]` (a constant feature: every value is `v`) puts its whole
//!    count on a point: in the elementary interval that holds `v` (the last one is closed on the
//!    right), or, when `v` is outside every interval, in a bin of its own for `v`, shared with
//!    the other side's zero-width buckets at the same `v`.
//! 4. Each side's bin masses are divided by their sum, giving two probability vectors `P` and
//!    `Q` over the same bins. Buckets with a count that is not positive, or a bound that is not
//!    finite, are left out; a side left with no mass counts as having no values.
//!
//! Then:
//!
//! - [`jensen_shannon`]: `JS(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M)` with `M = ½ (P + Q)` and
//!   logarithms in base 2, so that it lies in `[0, 1]` (1 for disjoint supports).
//! - [`normalized_abs_difference`]: `½ Σ_i |P_i - Q_i|` over the common bins.
//!
//! Two histograms over the same range with the same bucket count compare bucket by bucket; with
//! different ranges the uniform spreading makes the figure an approximation, finer than either
//! histogram's buckets.

use crate::anomalies::Measure;
use crate::stats::{FeatureKind, FeatureStats, Histogram};

/// The measure used for a feature unless one is chosen: [`Measure::LInfinity`] for string
/// features, [`Measure::JensenShannon`] for numeric ones (int, float, bool).
pub fn default_measure(kind: FeatureKind) -> Measure {
    if kind.is_numeric() { Measure::JensenShannon } else { Measure::LInfinity }
}

/// The distance `m` between `a` and `b`; `None` where it does not apply (see the module
/// documentation).
pub fn measure(m: Measure, a: &FeatureStats, b: &FeatureStats) -> Option<f64> {
    match m {
        Measure::LInfinity => linf(a, b),
        Measure::JensenShannon => jensen_shannon(a, b),
        Measure::NormalizedAbsoluteDifference => normalized_abs_difference(a, b),
    }
}

/// L-infinity distance between the top-value frequencies of two string features: the largest
/// difference in the share of rows of any one value. `None` unless both are string features
/// with string statistics.
pub fn linf(a: &FeatureStats, b: &FeatureStats) -> Option<f64> {
    Some(match string_pair(a, b)? {
        Pair::Empty(d) => d,
        Pair::Dists(p, q) => p.iter().zip(&q).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max),
    })
}

/// Jensen-Shannon divergence (base 2) between the equal-width histograms of two numeric
/// features, re-bucketed as the module documentation says. `None` unless both are numeric
/// features with numeric statistics.
pub fn jensen_shannon(a: &FeatureStats, b: &FeatureStats) -> Option<f64> {
    Some(match numeric_pair(a, b)? {
        Pair::Empty(d) => d,
        Pair::Dists(p, q) => js(&p, &q),
    })
}

/// Total variation distance, `½ Σ |p_a - p_b|`: over the union of the top values for string
/// features, over the common bins of the re-bucketed histograms for numeric ones. `None` when
/// one feature is a string and the other numeric, or their statistics are missing.
pub fn normalized_abs_difference(a: &FeatureStats, b: &FeatureStats) -> Option<f64> {
    let pair = if a.kind.is_numeric() { numeric_pair(a, b)? } else { string_pair(a, b)? };
    Some(match pair {
        Pair::Empty(d) => d,
        Pair::Dists(p, q) => (0.5 * p.iter().zip(&q).map(|(x, y)| (x - y).abs()).sum::<f64>()).min(1.0),
    })
}

/// Two distributions over the same bins, or the distance decided by emptiness.
enum Pair {
    /// One side has no values (1) or neither has (0).
    Empty(f64),
    /// Aligned probabilities.
    Dists(Vec<f64>, Vec<f64>),
}

fn empty_pair(a_empty: bool, b_empty: bool) -> Option<Pair> {
    match (a_empty, b_empty) {
        (true, true) => Some(Pair::Empty(0.0)),
        (true, false) | (false, true) => Some(Pair::Empty(1.0)),
        (false, false) => None,
    }
}

fn string_pair(a: &FeatureStats, b: &FeatureStats) -> Option<Pair> {
    if a.kind != FeatureKind::String || b.kind != FeatureKind::String {
        return None;
    }
    let (sa, sb) = (a.string.as_ref()?, b.string.as_ref()?);
    if let Some(pair) = empty_pair(a.count == 0, b.count == 0) {
        return Some(pair);
    }
    let mut values: Vec<&str> = sa.top.iter().map(|v| v.value.as_str()).collect();
    for v in &sb.top {
        if !values.contains(&v.value.as_str()) {
            values.push(&v.value);
        }
    }
    let share = |f: &FeatureStats, v: &str| {
        let top = f.string.as_ref().map_or(&[][..], |s| s.top.as_slice());
        top.iter().find(|t| t.value == v).map_or(0.0, |t| t.count as f64 / f.count as f64)
    };
    let p = values.iter().map(|v| share(a, v)).collect();
    let q = values.iter().map(|v| share(b, v)).collect();
    Some(Pair::Dists(p, q))
}

fn numeric_pair(a: &FeatureStats, b: &FeatureStats) -> Option<Pair> {
    if !a.kind.is_numeric() || !b.kind.is_numeric() {
        return None;
    }
    let (na, nb) = (a.numeric.as_ref()?, b.numeric.as_ref()?);
    // The quantiles when both sides have them (see the module documentation); statistics
    // without them (written by hand) fall back to the equal-width histograms.
    let usable = |q: &[f64]| q.len() >= 2 && q.iter().all(|v| !v.is_nan());
    let (p, q) = if usable(&na.quantiles) && usable(&nb.quantiles) && a.count > 0 && b.count > 0 {
        quantile_bins(&na.quantiles, &nb.quantiles)
    } else {
        rebucket(&na.histogram, &nb.histogram)
    };
    if let Some(pair) = empty_pair(p.is_empty(), q.is_empty()) {
        return Some(pair);
    }
    Some(Pair::Dists(p, q))
}

/// Whether a bucket takes part: a positive count and finite bounds in order.
fn usable(low: f64, high: f64, count: f64) -> bool {
    count > 0.0 && low.is_finite() && high.is_finite() && low <= high
}

/// Both histograms as probabilities over their common bins (module documentation, steps
/// 1-4). A side with no usable mass comes back as an empty vector.
/// The CDF that passes through the quantile points `(qs[j], j / n)` (`n = qs.len() - 1`):
/// 0 below the first, 1 from the last on, linear between distinct points and right-continuous
/// where points repeat (a repeated value is a point mass, a jump of the CDF).
fn cdf(qs: &[f64], x: f64) -> f64 {
    let n = qs.len() - 1;
    if x < qs[0] {
        return 0.0;
    }
    if x >= qs[n] {
        return 1.0;
    }
    let j = qs.partition_point(|q| *q <= x) - 1;
    let (lo, hi) = (qs[j], qs[j + 1]);
    let t = if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
    (j as f64 + t) / n as f64
}

/// Both distributions as probabilities over common bins cut at the interior quantile points of
/// both sides, the outer bins open-ended (module documentation).
fn quantile_bins(a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut edges: Vec<f64> =
        a[1..a.len() - 1].iter().chain(&b[1..b.len() - 1]).copied().filter(|v| v.is_finite()).collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    let masses = |qs: &[f64]| -> Vec<f64> {
        let mut out = Vec::with_capacity(edges.len() + 1);
        let mut before = 0.0;
        for &e in &edges {
            let f = cdf(qs, e);
            out.push((f - before).max(0.0));
            before = f;
        }
        out.push((1.0 - before).max(0.0));
        out
    };
    (masses(a), masses(b))
}

fn rebucket(a: &Histogram, b: &Histogram) -> (Vec<f64>, Vec<f64>) {
    let buckets = || a.buckets.iter().chain(&b.buckets).filter(|k| usable(k.low, k.high, k.count));
    let mut edges: Vec<f64> = buckets().filter(|k| k.high > k.low).flat_map(|k| [k.low, k.high]).collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    let intervals = edges.len().saturating_sub(1);
    // The bin of a point `v`: the elementary interval holding it, else its own bin.
    let interval_of = |v: f64| -> Option<usize> {
        if intervals == 0 || v < edges[0] || v > edges[intervals] {
            return None;
        }
        // The last edge <= v, clamped so that v == the last edge falls in the last interval.
        Some(edges.partition_point(|e| *e <= v).saturating_sub(1).min(intervals - 1))
    };
    let mut points: Vec<f64> =
        buckets().filter(|k| k.high == k.low && interval_of(k.low).is_none()).map(|k| k.low).collect();
    points.sort_by(f64::total_cmp);
    points.dedup();

    let spread = |h: &Histogram| -> Vec<f64> {
        let mut mass = vec![0.0; intervals + points.len()];
        for k in h.buckets.iter().filter(|k| usable(k.low, k.high, k.count)) {
            if k.high > k.low {
                let width = k.high - k.low;
                let mut i = edges.partition_point(|e| *e < k.low);
                while i < intervals && edges[i + 1] <= k.high {
                    mass[i] += k.count * (edges[i + 1] - edges[i]) / width;
                    i += 1;
                }
            } else if let Some(i) = interval_of(k.low) {
                mass[i] += k.count;
            } else if let Ok(j) = points.binary_search_by(|p| p.total_cmp(&k.low)) {
                mass[intervals + j] += k.count;
            }
        }
        let total: f64 = mass.iter().sum();
        if total > 0.0 { mass.iter().map(|m| m / total).collect() } else { Vec::new() }
    };
    (spread(a), spread(b))
}

/// Jensen-Shannon divergence in bits between two probability vectors of the same length.
fn js(p: &[f64], q: &[f64]) -> f64 {
    let mut d = 0.0;
    for (&x, &y) in p.iter().zip(q) {
        let m = 0.5 * (x + y);
        if x > 0.0 {
            d += 0.5 * x * (x / m).log2();
        }
        if y > 0.0 {
            d += 0.5 * y * (y / m).log2();
        }
    }
    d.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Bucket, NumericStats, StringStats, ValueCount};

    fn s(count: u64, top: &[(&str, u64)]) -> FeatureStats {
        FeatureStats {
            name: "f".into(),
            kind: FeatureKind::String,
            count,
            missing: 0,
            numeric: None,
            string: Some(StringStats {
                distinct: top.len() as u64,
                distinct_exact: true,
                top: top.iter().map(|(v, c)| ValueCount { value: v.to_string(), count: *c }).collect(),
                avg_length: 1.0,
            }),
        }
    }

    fn n(buckets: &[(f64, f64, f64)]) -> FeatureStats {
        let count = buckets.iter().map(|b| b.2).sum::<f64>() as u64;
        FeatureStats {
            name: "f".into(),
            kind: FeatureKind::Float,
            count,
            missing: 0,
            numeric: Some(NumericStats {
                mean: 0.0,
                std_dev: 0.0,
                min: 0.0,
                max: 0.0,
                zeros: 0,
                nans: 0,
                median: 0.0,
                quantiles: vec![],
                histogram: Histogram {
                    buckets: buckets.iter().map(|&(low, high, count)| Bucket { low, high, count }).collect(),
                },
                quantile_histogram: Histogram::default(),
                rank_error: 0.0,
            }),
            string: None,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn default_measures() {
        assert_eq!(default_measure(FeatureKind::String), Measure::LInfinity);
        assert_eq!(default_measure(FeatureKind::Float), Measure::JensenShannon);
        assert_eq!(default_measure(FeatureKind::Int), Measure::JensenShannon);
        assert_eq!(default_measure(FeatureKind::Bool), Measure::JensenShannon);
    }

    #[test]
    fn linf_over_the_union_of_top_values() {
        // a: x 50%, y 25% (25% outside top); b: x 25%, z 50%.
        let a = s(8, &[("x", 4), ("y", 2)]);
        let b = s(4, &[("z", 2), ("x", 1)]);
        assert_eq!(linf(&a, &b), Some(0.5)); // z: 0 vs 0.5
        assert_eq!(linf(&b, &a), Some(0.5));
        assert_eq!(linf(&a, &a), Some(0.0));
        // |0.5-0.25| + |0.25-0| + |0-0.5| = 1, halved.
        assert_eq!(normalized_abs_difference(&a, &b), Some(0.5));
        assert_eq!(measure(Measure::LInfinity, &a, &b), Some(0.5));
    }

    #[test]
    fn string_degenerate_cases() {
        let empty = s(0, &[]);
        let a = s(4, &[("x", 4)]);
        assert_eq!(linf(&empty, &empty), Some(0.0));
        assert_eq!(linf(&empty, &a), Some(1.0));
        assert_eq!(normalized_abs_difference(&a, &empty), Some(1.0));
        // Values but an empty top: nothing to compare.
        assert_eq!(linf(&s(4, &[]), &s(5, &[])), Some(0.0));
    }

    #[test]
    fn measures_that_do_not_apply() {
        let a = s(4, &[("x", 4)]);
        let b = n(&[(0.0, 1.0, 4.0)]);
        assert_eq!(linf(&b, &b), None);
        assert_eq!(jensen_shannon(&a, &a), None);
        assert_eq!(jensen_shannon(&a, &b), None);
        assert_eq!(normalized_abs_difference(&a, &b), None);
        assert_eq!(normalized_abs_difference(&b, &a), None);
        let mut no_stats = b.clone();
        no_stats.numeric = None;
        assert_eq!(jensen_shannon(&b, &no_stats), None);
    }

    #[test]
    fn js_on_identical_and_disjoint_histograms() {
        let a = n(&[(0.0, 1.0, 10.0), (1.0, 2.0, 30.0)]);
        assert_eq!(jensen_shannon(&a, &a), Some(0.0));
        let b = n(&[(5.0, 6.0, 3.0), (6.0, 7.0, 1.0)]);
        assert_eq!(jensen_shannon(&a, &b), Some(1.0));
        assert_eq!(normalized_abs_difference(&a, &b), Some(1.0));
    }

    #[test]
    fn js_on_the_same_buckets() {
        // P = [0.5, 0.5], Q = [1, 0]: M = [0.75, 0.25].
        let a = n(&[(0.0, 1.0, 2.0), (1.0, 2.0, 2.0)]);
        let b = n(&[(0.0, 1.0, 7.0), (1.0, 2.0, 0.0)]);
        let expected =
            0.5 * (0.5 * (0.5f64 / 0.75).log2() + 0.5 * (0.5f64 / 0.25).log2()) + 0.5 * (1.0f64 / 0.75).log2();
        assert!(close(jensen_shannon(&a, &b).unwrap(), expected));
        assert!(close(expected, 0.31127812445913283));
        assert_eq!(normalized_abs_difference(&a, &b), Some(0.5));
    }

    fn with_quantiles(qs: &[f64]) -> FeatureStats {
        let mut f = n(&[(qs[0], qs[qs.len() - 1], 100.0)]);
        f.numeric.as_mut().unwrap().quantiles = qs.to_vec();
        f
    }

    #[test]
    fn quantile_cdf_is_linear_between_points_and_jumps_at_repeated_ones() {
        let qs = [0.0, 0.0, 0.0, 4.0, 8.0];
        assert_eq!(cdf(&qs, -1.0), 0.0);
        assert_eq!(cdf(&qs, 0.0), 0.5);
        assert_eq!(cdf(&qs, 2.0), 0.625);
        assert_eq!(cdf(&qs, 8.0), 1.0);
    }

    #[test]
    fn js_on_quantiles_ignores_the_extremes_and_sees_a_shift() {
        // The same body, very different maxima: the open outer bins keep them out.
        let a = with_quantiles(&[0.0, 1.0, 2.0, 3.0, 100.0]);
        let b = with_quantiles(&[0.0, 1.0, 2.0, 3.0, 400.0]);
        assert_eq!(jensen_shannon(&a, &b), Some(0.0));
        // Every value 1.6 times larger: far apart.
        let c = with_quantiles(&[0.0, 1.6, 3.2, 4.8, 160.0]);
        let js = jensen_shannon(&a, &c).unwrap();
        assert!(js > 0.1, "{js}");
        // Disjoint supports: a's top quarter and d's bottom quarter share the bin (3, 201], so
        // three quarters of each side are apart: JS = 0.75.
        let d = with_quantiles(&[200.0, 201.0, 202.0, 203.0, 204.0]);
        assert!((jensen_shannon(&a, &d).unwrap() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn rebucketing_spreads_uniformly() {
        // a: one bucket [0, 2) with 4; b: [0, 1) 1, [1, 2) 3. a becomes [0.5, 0.5].
        let a = n(&[(0.0, 2.0, 4.0)]);
        let b = n(&[(0.0, 1.0, 1.0), (1.0, 2.0, 3.0)]);
        let (p, q) = rebucket(&a.numeric.as_ref().unwrap().histogram, &b.numeric.as_ref().unwrap().histogram);
        assert_eq!(p, [0.5, 0.5]);
        assert_eq!(q, [0.25, 0.75]);
        assert_eq!(normalized_abs_difference(&a, &b), Some(0.25));
        // Shifted ranges: a [0, 2) 2 + [2, 4) 2; b [1, 3) 4. Edges 0,1,2,3,4.
        let a = n(&[(0.0, 2.0, 2.0), (2.0, 4.0, 2.0)]);
        let b = n(&[(1.0, 3.0, 4.0)]);
        let (p, q) = rebucket(&a.numeric.as_ref().unwrap().histogram, &b.numeric.as_ref().unwrap().histogram);
        assert_eq!(p, [0.25, 0.25, 0.25, 0.25]);
        assert_eq!(q, [0.0, 0.5, 0.5, 0.0]);
        assert_eq!(normalized_abs_difference(&a, &b), Some(0.5));
    }

    #[test]
    fn constant_features() {
        // Both constant at 5 (the kernel's layout: every bucket [5, 5], all in the last).
        let c5 = n(&[(5.0, 5.0, 0.0), (5.0, 5.0, 10.0)]);
        let c6 = n(&[(6.0, 6.0, 3.0)]);
        assert_eq!(jensen_shannon(&c5, &c5), Some(0.0));
        assert_eq!(jensen_shannon(&c5, &c6), Some(1.0));
        assert_eq!(normalized_abs_difference(&c5, &c6), Some(1.0));
        // Constant 5 against [4, 5) 1, [5, 6] 1: the point falls in [5, 6].
        let spread = n(&[(4.0, 5.0, 1.0), (5.0, 6.0, 1.0)]);
        assert_eq!(normalized_abs_difference(&c5, &spread), Some(0.5));
        let expected = 0.5 * (1.0f64 / 0.75).log2() + 0.5 * (0.5 * (0.5f64 / 0.75).log2() + 0.5 * 1.0);
        assert!(close(jensen_shannon(&c5, &spread).unwrap(), expected));
        // A point on the last edge falls in the last interval (closed on the right).
        let c6b = n(&[(6.0, 6.0, 2.0)]);
        assert_eq!(normalized_abs_difference(&c6b, &spread), Some(0.5));
    }

    #[test]
    fn numeric_degenerate_cases() {
        let empty = n(&[]);
        let zeros = n(&[(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]); // the kernel's histogram of no values
        let a = n(&[(0.0, 1.0, 3.0)]);
        assert_eq!(jensen_shannon(&empty, &zeros), Some(0.0));
        assert_eq!(jensen_shannon(&empty, &a), Some(1.0));
        assert_eq!(jensen_shannon(&a, &zeros), Some(1.0));
        // Unusable buckets are left out.
        let odd = n(&[(0.0, 1.0, 3.0), (f64::NAN, 2.0, 5.0), (1.0, f64::INFINITY, 5.0), (1.0, 2.0, -1.0)]);
        assert_eq!(jensen_shannon(&a, &odd), Some(0.0));
    }

    #[test]
    fn ints_and_floats_compare() {
        let mut a = n(&[(0.0, 1.0, 1.0), (1.0, 2.0, 1.0)]);
        a.kind = FeatureKind::Int;
        let b = n(&[(0.0, 1.0, 1.0), (1.0, 2.0, 1.0)]);
        assert_eq!(jensen_shannon(&a, &b), Some(0.0));
    }
}

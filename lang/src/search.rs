//! Hyperparameter search spaces and the points of a search: the dimensions of a `space` value
//! as the IR carries them, and random or grid sampling of trial points.
//!
//! Part of lowering ([`crate::ir`]): a search step is expanded into one trainer step per point
//! this module draws, so the trials are known, cached and shown before anything runs. Pure and
//! deterministic: the same space, search, trial count and seed give the same points on every
//! machine (SplitMix64, no platform maths beyond IEEE `ln`/`exp`).

use crate::ir::Value;
use std::collections::BTreeMap;

/// The functions that make a search dimension, as written in a `space` record.
pub const DIMENSION_FUNCTIONS: &[&str] = &["choice", "range", "log_range", "int_range"];

/// Most points a grid search may have.
pub const MAX_GRID: usize = 1000;

/// Most trials a search may have.
pub const MAX_TRIALS: i64 = 1000;

/// One dimension of a search space.
#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    /// One of these values, in the order written.
    Choice(Vec<Value>),
    /// A float drawn uniformly from `[low, high]`.
    Range {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// A float drawn log-uniformly from `[low, high]` (`low > 0`).
    LogRange {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// An integer drawn uniformly from `low..=high`.
    IntRange {
        /// Lower bound.
        low: i64,
        /// Upper bound (included).
        high: i64,
    },
}

impl Dim {
    /// The dimension as the IR encodes it: a map with a `kind`.
    pub fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        match self {
            Dim::Choice(vs) => {
                m.insert("kind".into(), Value::String("choice".into()));
                m.insert("values".into(), Value::List(vs.clone()));
            }
            Dim::Range { low, high } | Dim::LogRange { low, high } => {
                let kind = if matches!(self, Dim::Range { .. }) { "range" } else { "log_range" };
                m.insert("kind".into(), Value::String(kind.into()));
                m.insert("low".into(), Value::Float(*low));
                m.insert("high".into(), Value::Float(*high));
            }
            Dim::IntRange { low, high } => {
                m.insert("kind".into(), Value::String("int_range".into()));
                m.insert("low".into(), Value::Int(*low));
                m.insert("high".into(), Value::Int(*high));
            }
        }
        Value::Map(m)
    }

    /// Reads a dimension from its IR encoding.
    pub fn from_value(v: &Value) -> Result<Dim, String> {
        let Value::Map(m) = v else { return Err("a dimension is a map with a `kind`".into()) };
        let num = |k: &str| match m.get(k) {
            Some(Value::Float(f)) => Ok(*f),
            Some(Value::Int(i)) => Ok(*i as f64),
            _ => Err(format!("`{k}` must be a number")),
        };
        let int = |k: &str| match m.get(k) {
            Some(Value::Int(i)) => Ok(*i),
            _ => Err(format!("`{k}` must be a whole number")),
        };
        match m.get("kind") {
            Some(Value::String(k)) if k == "choice" => match m.get("values") {
                Some(Value::List(vs)) => Ok(Dim::Choice(vs.clone())),
                _ => Err("`values` must be a list".into()),
            },
            Some(Value::String(k)) if k == "range" => Ok(Dim::Range { low: num("low")?, high: num("high")? }),
            Some(Value::String(k)) if k == "log_range" => Ok(Dim::LogRange { low: num("low")?, high: num("high")? }),
            Some(Value::String(k)) if k == "int_range" => Ok(Dim::IntRange { low: int("low")?, high: int("high")? }),
            _ => Err("`kind` must be choice, range, log_range or int_range".into()),
        }
    }

    /// Why this dimension cannot be searched, if it cannot.
    pub fn problem(&self) -> Option<String> {
        match self {
            Dim::Choice(vs) if vs.is_empty() => Some("`choice()` needs at least one value".into()),
            Dim::Choice(_) => None,
            Dim::Range { low, high } | Dim::LogRange { low, high } => {
                let f = if matches!(self, Dim::Range { .. }) { "range" } else { "log_range" };
                if !low.is_finite() || !high.is_finite() {
                    Some(format!("`{f}` bounds must be finite numbers"))
                } else if low >= high {
                    Some(format!("`{f}({low}, {high})` is empty: the lower bound must be below the upper"))
                } else if matches!(self, Dim::LogRange { .. }) && *low <= 0.0 {
                    Some(format!("`log_range({low}, {high})` needs a lower bound above 0"))
                } else {
                    None
                }
            }
            Dim::IntRange { low, high } if low > high => {
                Some(format!("`int_range({low}, {high})` is empty: the lower bound must not be above the upper"))
            }
            Dim::IntRange { .. } => None,
        }
    }

    /// The values a grid search tries, or `None` for a continuous range.
    fn grid(&self) -> Option<Vec<Value>> {
        match self {
            Dim::Choice(vs) => Some(vs.clone()),
            Dim::IntRange { low, high } => {
                let n = high.checked_sub(*low)?.checked_add(1)?;
                (n as usize <= MAX_GRID).then(|| (*low..=*high).map(Value::Int).collect())
            }
            Dim::Range { .. } | Dim::LogRange { .. } => None,
        }
    }

    /// A random value of this dimension.
    fn draw(&self, rng: &mut Rng) -> Value {
        match self {
            Dim::Choice(vs) => vs[rng.below(vs.len() as u64) as usize].clone(),
            Dim::Range { low, high } => Value::Float(round6(low + rng.unit() * (high - low))),
            Dim::LogRange { low, high } => {
                let (a, b) = (low.ln(), high.ln());
                Value::Float(round6((a + rng.unit() * (b - a)).exp()).clamp(*low, *high))
            }
            Dim::IntRange { low, high } => {
                let span = (*high as i128 - *low as i128 + 1) as u64;
                Value::Int((*low as i128 + rng.below(span) as i128) as i64)
            }
        }
    }
}

/// A float rounded to 6 significant digits, so trial tables read well.
fn round6(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.5e}").parse().unwrap_or(x)
}

/// How a search picks its points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// `trials` points drawn at random, no point twice.
    Random,
    /// Every combination of the dimensions' values.
    Grid,
}

impl Search {
    /// Parses `"random"` or `"grid"`.
    pub fn parse(s: &str) -> Option<Search> {
        match s {
            "random" => Some(Search::Random),
            "grid" => Some(Search::Grid),
            _ => None,
        }
    }
}

/// The points of a search over `dims` (in name order): a grid, or up to `trials` random points
/// (fewer when the space has fewer distinct points).
pub fn points(
    dims: &[(String, Dim)],
    search: Search,
    trials: i64,
    seed: i64,
) -> Result<Vec<BTreeMap<String, Value>>, String> {
    for (name, d) in dims {
        if let Some(p) = d.problem() {
            return Err(format!("dimension `{name}`: {p}"));
        }
    }
    match search {
        Search::Grid => {
            let mut axes = Vec::new();
            for (name, d) in dims {
                let Some(vs) = d.grid() else {
                    return Err(format!(
                        "dimension `{name}` is a continuous range, which a grid cannot enumerate; use `choice(...)` or `int_range(...)`, or `search = \"random\"`"
                    ));
                };
                axes.push((name, vs));
            }
            let total = axes.iter().try_fold(1usize, |n, (_, vs)| n.checked_mul(vs.len()).filter(|&n| n <= MAX_GRID));
            let Some(total) = total else {
                return Err(format!(
                    "the grid has more than {MAX_GRID} points; narrow the space or use `search = \"random\"`"
                ));
            };
            // Row-major: the last dimension (in name order) changes fastest.
            Ok((0..total)
                .map(|mut k| {
                    let mut p = BTreeMap::new();
                    for (name, vs) in axes.iter().rev() {
                        p.insert((*name).clone(), vs[k % vs.len()].clone());
                        k /= vs.len();
                    }
                    p
                })
                .collect())
        }
        Search::Random => {
            if !(1..=MAX_TRIALS).contains(&trials) {
                return Err(format!("`trials` is {trials}; it must be from 1 to {MAX_TRIALS}"));
            }
            let mut rng = Rng::new(seed as u64 ^ 0x5EA2_C4ED_7A11_0001);
            let mut out: Vec<BTreeMap<String, Value>> = Vec::new();
            let mut misses = 0;
            while out.len() < trials as usize && misses < 100 {
                let p: BTreeMap<String, Value> = dims.iter().map(|(n, d)| (n.clone(), d.draw(&mut rng))).collect();
                if out.contains(&p) {
                    misses += 1;
                } else {
                    out.push(p);
                }
            }
            Ok(out)
        }
    }
}

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `0..n` (n > 0), without modulo bias.
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims() -> Vec<(String, Dim)> {
        vec![
            (
                "hidden".into(),
                Dim::Choice(vec![Value::List(vec![Value::Int(32)]), Value::List(vec![Value::Int(64), Value::Int(32)])]),
            ),
            ("l2".into(), Dim::Choice(vec![Value::Float(0.0), Value::Float(1e-4)])),
            ("learning_rate".into(), Dim::LogRange { low: 1e-4, high: 1e-1 }),
            ("epochs".into(), Dim::IntRange { low: 3, high: 5 }),
        ]
    }

    #[test]
    fn grid_enumerates_every_combination_last_dimension_fastest() {
        let d = vec![
            ("a".to_string(), Dim::Choice(vec![Value::Int(1), Value::Int(2)])),
            ("b".to_string(), Dim::IntRange { low: 7, high: 9 }),
        ];
        let p = points(&d, Search::Grid, 0, 0).unwrap();
        let pairs: Vec<(i64, i64)> = p
            .iter()
            .map(|p| match (&p["a"], &p["b"]) {
                (Value::Int(a), Value::Int(b)) => (*a, *b),
                _ => panic!("{p:?}"),
            })
            .collect();
        assert_eq!(pairs, vec![(1, 7), (1, 8), (1, 9), (2, 7), (2, 8), (2, 9)]);
    }

    #[test]
    fn grid_refuses_continuous_ranges_and_huge_grids() {
        let e = points(&dims(), Search::Grid, 0, 0).unwrap_err();
        assert!(e.contains("`learning_rate` is a continuous range"), "{e}");
        let big = vec![
            ("a".to_string(), Dim::IntRange { low: 0, high: 99 }),
            ("b".to_string(), Dim::IntRange { low: 0, high: 99 }),
        ];
        assert!(points(&big, Search::Grid, 0, 0).unwrap_err().contains("more than 1000 points"));
    }

    #[test]
    fn random_points_are_deterministic_distinct_and_inside_the_space() {
        let a = points(&dims(), Search::Random, 30, 7).unwrap();
        let b = points(&dims(), Search::Random, 30, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 30);
        assert_ne!(a, points(&dims(), Search::Random, 30, 8).unwrap());
        for (i, p) in a.iter().enumerate() {
            assert!(!a[..i].contains(p));
            let Value::Float(lr) = p["learning_rate"] else { panic!() };
            assert!((1e-4..=1e-1).contains(&lr), "{lr}");
            let Value::Int(e) = p["epochs"] else { panic!() };
            assert!((3..=5).contains(&e));
        }
        // Log-uniform: about a third of the draws per decade.
        let many = points(&[("lr".into(), Dim::LogRange { low: 1e-4, high: 1e-1 })], Search::Random, 900, 1).unwrap();
        let below_1e3 = many.iter().filter(|p| matches!(p["lr"], Value::Float(x) if x < 1e-3)).count();
        assert!((250..350).contains(&below_1e3), "{below_1e3} of 900 below 1e-3");
    }

    #[test]
    fn random_search_over_a_small_discrete_space_stops_at_its_size() {
        let d = vec![("a".to_string(), Dim::Choice(vec![Value::Int(1), Value::Int(2), Value::Int(3)]))];
        let p = points(&d, Search::Random, 20, 0).unwrap();
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn bad_dimensions_and_trial_counts_are_refused_with_the_reason() {
        let bad = |d: Dim| points(&[("x".into(), d)], Search::Random, 5, 0).unwrap_err();
        assert!(bad(Dim::Range { low: 1.0, high: 1.0 }).contains("is empty"));
        assert!(bad(Dim::LogRange { low: 0.0, high: 1.0 }).contains("above 0"));
        assert!(bad(Dim::IntRange { low: 3, high: 2 }).contains("is empty"));
        assert!(bad(Dim::Choice(vec![])).contains("at least one value"));
        let d = vec![("x".to_string(), Dim::Range { low: 0.0, high: 1.0 })];
        assert!(points(&d, Search::Random, 0, 0).unwrap_err().contains("`trials` is 0"));
    }

    #[test]
    fn dimensions_round_trip_through_their_ir_encoding() {
        for (_, d) in dims() {
            assert_eq!(Dim::from_value(&d.to_value()).unwrap(), d);
        }
    }
}

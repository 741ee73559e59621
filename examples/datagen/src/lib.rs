//! Deterministic taxi-trips-like data for mlp's examples and benchmarks.
//!
//! The shape follows the Chicago taxi trips table that TFX's examples use: 22 columns of
//! numbers, categories with a long tail, timestamps split into hour/day/month, missing values,
//! and a learnable binary label `big_tipper` (the tip is more than 20% of the fare), which
//! depends on the payment type, the fare, the hour and the company. The same seed gives the same
//! bytes on every run (values come from `exp`, `ln` and `cos` of the platform's math library, so
//! another platform may differ in a last printed digit). A *drifted* variant changes the
//! distribution of `trip_miles` (recorded 1.6 times longer) and `payment_type` (more mobile
//! payments). Every other input column keeps its distribution, so a drift check on them must flag
//! exactly those two; `tips`, `trip_total` and the label follow the payment type (mobile payers
//! tip), so they shift too.

use std::io::Write;

/// The columns, in file order.
pub const COLUMNS: &[&str] = &[
    "trip_start_hour",
    "trip_start_day",
    "trip_start_month",
    "trip_miles",
    "trip_seconds",
    "fare",
    "tips",
    "tolls",
    "extras",
    "trip_total",
    "payment_type",
    "company",
    "pickup_community_area",
    "dropoff_community_area",
    "pickup_census_tract",
    "dropoff_census_tract",
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
    "taxi_id",
    "big_tipper",
];

/// Payment types and their shares (per mille) in the normal and the drifted data.
const PAYMENTS: &[(&str, u32, u32)] = &[
    ("Credit Card", 430, 300),
    ("Cash", 400, 250),
    ("Mobile", 60, 350),
    ("Prcard", 60, 60),
    ("No Charge", 25, 20),
    ("Unknown", 20, 15),
    ("Dispute", 5, 5),
];

/// Companies: a few large ones and a long tail; one name has a comma and one a quote, so CSV
/// quoting is exercised.
const COMPANIES: &[&str] = &[
    "Flash Cab",
    "Taxi Affiliation Services",
    "Yellow Cab",
    "Chicago Carriage Cab Corp",
    "City Service",
    "Sun Taxi",
    "Medallion Leasin",
    "Star North Management LLC",
    "Blue Ribbon Taxi Association Inc.",
    "Choice Taxi Association",
    "Globe Taxi",
    "Dispatch Taxi Affiliation",
    "Nova Taxi Affiliation Llc",
    "Patriot Taxi Dba Peace Taxi Associat",
    "Checker Taxi Affiliation",
    "Top Cab Affiliation",
    "Chicago Medallion Management, Inc.",
    "5 Star \"Express\" Taxi",
    "KOAM Taxi Association",
    "Chicago Independents",
];

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Rows.
    pub rows: u64,
    /// Seed; spans use `seed + span`.
    pub seed: u64,
    /// Whether to generate the drifted variant.
    pub drift: bool,
}

fn pick<'a>(rng: &mut Rng, table: &'a [(&'a str, u32, u32)], drift: bool) -> &'a str {
    let total: u32 = table.iter().map(|t| if drift { t.2 } else { t.1 }).sum();
    let mut x = rng.below(u64::from(total)) as u32;
    for t in table {
        let w = if drift { t.2 } else { t.1 };
        if x < w {
            return t.0;
        }
        x -= w;
    }
    table[0].0
}

fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// Writes the CSV (header and `spec.rows` rows) to `w`.
pub fn write_csv(spec: Spec, w: &mut impl Write) -> std::io::Result<()> {
    let mut rng = Rng::new(spec.seed);
    let mut line = Vec::with_capacity(512);
    writeln!(w, "{}", COLUMNS.join(","))?;
    for _ in 0..spec.rows {
        line.clear();
        let hour = rng.below(24);
        let day = 1 + rng.below(7);
        let month = 1 + rng.below(12);
        // Trip length: log-normal. The drifted variant records it 1.6 times longer (as a meter
        // that reports kilometres would), and everything computed from the true length (time,
        // fare, drop-off point) stays as it was.
        let miles = (0.6 + 0.9 * rng.normal()).exp().min(80.0);
        let recorded_miles = if spec.drift { miles * 1.6 } else { miles };
        let seconds = (miles * (150.0 + 60.0 * rng.unit()) + 60.0).round();
        let fare = (3.25 + 2.25 * miles + 0.2 * seconds / 36.0 + rng.normal().abs()).max(3.25);
        let payment = pick(&mut rng, PAYMENTS, spec.drift);
        // Long-tailed company choice: the first few take most trips.
        let company = COMPANIES[((rng.unit().powi(3)) * COMPANIES.len() as f64) as usize % COMPANIES.len()];
        // Tips: none in cash; by card a share that grows at night and with some companies.
        let tip_share = match payment {
            "Credit Card" | "Mobile" => {
                let night = if !(6..22).contains(&hour) { 0.05 } else { 0.0 };
                let firm = if company.len().is_multiple_of(3) { 0.04 } else { 0.0 };
                (0.16 + night + firm + 0.05 * rng.normal()).max(0.0)
            }
            _ => 0.0,
        };
        let tips = (fare * tip_share * 100.0).round() / 100.0;
        let tolls = if rng.unit() < 0.02 { 4.0 } else { 0.0 };
        let extras = if rng.unit() < 0.3 { (rng.below(4) as f64) * 0.5 + 1.0 } else { 0.0 };
        let total = fare + tips + tolls + extras;
        let pickup_area = 1 + rng.below(77);
        let dropoff_area = 1 + rng.below(77);
        let big_tipper = tips > 0.2 * fare;
        let lat = 41.88 + 0.08 * rng.normal();
        let lon = -87.63 + 0.06 * rng.normal();
        let dlat = lat + 0.01 * miles * (rng.unit() - 0.5);
        let dlon = lon + 0.01 * miles * (rng.unit() - 0.5);
        let taxi = rng.below(5000);
        // Missing values: trip_seconds 1%, community areas 5-10%, census tracts 30%, dropoff
        // coordinates 8%.
        let miss = |rng: &mut Rng, p: f64| rng.unit() < p;
        let seconds_s = if miss(&mut rng, 0.01) { String::new() } else { format!("{seconds}") };
        let pickup_s = if miss(&mut rng, 0.05) { String::new() } else { pickup_area.to_string() };
        let dropoff_s = if miss(&mut rng, 0.10) { String::new() } else { dropoff_area.to_string() };
        let ptract = if miss(&mut rng, 0.30) { String::new() } else { format!("17031{:06}", pickup_area * 100 + 1) };
        let dtract = if miss(&mut rng, 0.30) { String::new() } else { format!("17031{:06}", dropoff_area * 100 + 1) };
        let dropoff_missing = miss(&mut rng, 0.08);
        let fields: [String; 10] = [
            hour.to_string(),
            day.to_string(),
            month.to_string(),
            format!("{recorded_miles:.2}"),
            seconds_s,
            format!("{fare:.2}"),
            format!("{tips:.2}"),
            format!("{tolls:.2}"),
            format!("{extras:.2}"),
            format!("{total:.2}"),
        ];
        for f in &fields {
            line.extend_from_slice(f.as_bytes());
            line.push(b',');
        }
        csv_field(&mut line, payment);
        line.push(b',');
        csv_field(&mut line, company);
        let rest = [
            pickup_s,
            dropoff_s,
            ptract,
            dtract,
            format!("{lat:.6}"),
            format!("{lon:.6}"),
            if dropoff_missing { String::new() } else { format!("{dlat:.6}") },
            if dropoff_missing { String::new() } else { format!("{dlon:.6}") },
            format!("taxi-{taxi:04}"),
            if big_tipper { "1".into() } else { "0".into() },
        ];
        for f in &rest {
            line.push(b',');
            line.extend_from_slice(f.as_bytes());
        }
        line.push(b'\n');
        w.write_all(&line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(rows: u64, seed: u64, drift: bool) -> String {
        let mut out = Vec::new();
        write_csv(Spec { rows, seed, drift }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Splits a CSV line on commas outside quotes.
    fn fields(line: &str) -> Vec<String> {
        let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                '"' => quoted = !quoted,
                ',' if !quoted => out.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        out.push(cur);
        out
    }

    fn column(text: &str, name: &str) -> Vec<String> {
        let i = COLUMNS.iter().position(|c| *c == name).unwrap();
        text.lines().skip(1).map(|l| fields(l)[i].clone()).collect()
    }

    fn mean(v: &[String]) -> f64 {
        let xs: Vec<f64> = v.iter().filter_map(|s| s.parse().ok()).collect();
        xs.iter().sum::<f64>() / xs.len() as f64
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes() {
        assert_eq!(generate(500, 7, false), generate(500, 7, false));
        assert_ne!(generate(500, 7, false), generate(500, 8, false));
        // Pinned: the first rows of seed 1, so a change to the generator is seen.
        let text = generate(2, 1, false);
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            rows,
            [
                "3,1,10,3.46,645,14.71,3.26,0.00,0.00,17.97,Credit Card,KOAM Taxi Association,51,66,17031005101,17031006601,41.966363,-87.621647,41.953134,-87.617367,taxi-0920,1",
                "20,5,1,3.23,558,14.00,2.79,0.00,1.00,17.79,Credit Card,Choice Taxi Association,24,26,,17031002601,41.878377,-87.690004,,,taxi-2972,0",
            ]
        );
    }

    #[test]
    fn every_row_has_every_column_and_quoting_round_trips() {
        let text = generate(20_000, 3, false);
        assert!(text.lines().skip(1).all(|l| fields(l).len() == COLUMNS.len()));
        let companies = column(&text, "company");
        assert!(companies.iter().any(|c| c == "Chicago Medallion Management, Inc."));
        assert!(companies.iter().any(|c| c == "5 Star \"Express\" Taxi"));
    }

    #[test]
    fn missing_values_appear_at_their_rates() {
        let text = generate(50_000, 4, false);
        let share = |name: &str| column(&text, name).iter().filter(|s| s.is_empty()).count() as f64 / 50_000.0;
        assert!((share("pickup_census_tract") - 0.30).abs() < 0.01);
        assert!((share("trip_seconds") - 0.01).abs() < 0.003);
        assert_eq!(share("fare"), 0.0);
    }

    #[test]
    fn the_label_is_learnable_from_payment_type() {
        let text = generate(50_000, 5, false);
        let pay = column(&text, "payment_type");
        let label = column(&text, "big_tipper");
        let rate = |p: &str| {
            let rows: Vec<&String> = pay.iter().zip(&label).filter(|(a, _)| *a == p).map(|(_, l)| l).collect();
            rows.iter().filter(|l| l.as_str() == "1").count() as f64 / rows.len() as f64
        };
        assert_eq!(rate("Cash"), 0.0);
        assert!(rate("Credit Card") > 0.15 && rate("Credit Card") < 0.7, "{}", rate("Credit Card"));
    }

    #[test]
    fn the_drifted_variant_changes_trip_miles_and_payment_type_only() {
        let (a, b) = (generate(50_000, 6, false), generate(50_000, 6, true));
        let ratio = mean(&column(&b, "trip_miles")) / mean(&column(&a, "trip_miles"));
        assert!((ratio - 1.6).abs() < 0.05, "{ratio}");
        let mobile = |t: &str| column(t, "payment_type").iter().filter(|p| *p == "Mobile").count() as f64 / 50_000.0;
        assert!(mobile(&a) < 0.08 && mobile(&b) > 0.3, "{} {}", mobile(&a), mobile(&b));
        for stable in ["trip_start_hour", "pickup_community_area", "pickup_latitude", "fare", "trip_seconds"] {
            let (x, y) = (mean(&column(&a, stable)), mean(&column(&b, stable)));
            assert!((x - y).abs() / x.abs() < 0.02, "{stable}: {x} vs {y}");
        }
    }
}

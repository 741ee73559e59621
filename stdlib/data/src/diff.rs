//! Differences between two schemas, for `mlp schema diff` and for reviewing a curated schema
//! against a freshly inferred one: [`diff_schemas`] lists the changes from `a` to `b`, and each
//! [`SchemaChange`] prints as one line (`+` added, `-` removed, `~` changed):
//!
//! ```text
//! ~ environments: TRAINING, SERVING -> TRAINING
//! + feature tips: float
//! - feature company: string
//! ~ fare: type int -> float
//! ~ fare: presence optional (at least 1 row) -> required
//! ~ payment_type: domain + "Prcard", "Dispute"
//! ~ payment_type: domain - "No Charge"
//! ~ trip_miles: range [0, 100] -> [0, 500]
//! ~ tips: not in environment (none) -> SERVING
//! ```
//!
//! Order: the default environments first, then feature by feature in `a`'s order (removed or
//! changed), then the features only `b` has, in `b`'s order. Within a feature: type, presence,
//! value count, domain, environments, description.

use crate::schema::{Domain, FeatureSchema, Presence, Schema, ValueCount};
use crate::stats::FeatureKind;
use crate::util::{num, pct, quote};
use std::fmt;

/// One difference between two schemas.
#[derive(Clone, Debug, PartialEq)]
pub enum SchemaChange {
    /// The schema's `default_environments` changed.
    DefaultEnvironments {
        /// Before.
        from: Vec<String>,
        /// After.
        to: Vec<String>,
    },
    /// A feature only the second schema has.
    FeatureAdded {
        /// The feature.
        name: String,
        /// Its type.
        kind: FeatureKind,
    },
    /// A feature only the first schema has.
    FeatureRemoved {
        /// The feature.
        name: String,
        /// Its type.
        kind: FeatureKind,
    },
    /// The feature's type changed.
    TypeChanged {
        /// The feature.
        name: String,
        /// Before.
        from: FeatureKind,
        /// After.
        to: FeatureKind,
    },
    /// The feature's presence constraint changed.
    PresenceChanged {
        /// The feature.
        name: String,
        /// Before.
        from: Presence,
        /// After.
        to: Presence,
    },
    /// The feature's value count changed.
    ValueCountChanged {
        /// The feature.
        name: String,
        /// Before.
        from: Option<ValueCount>,
        /// After.
        to: Option<ValueCount>,
    },
    /// Values added to a `strings` domain.
    DomainValuesAdded {
        /// The feature.
        name: String,
        /// The new values, in the second schema's order.
        values: Vec<String>,
    },
    /// Values removed from a `strings` domain.
    DomainValuesRemoved {
        /// The feature.
        name: String,
        /// The values gone, in the first schema's order.
        values: Vec<String>,
    },
    /// The bounds of an `int` or `float` domain changed.
    RangeChanged {
        /// The feature.
        name: String,
        /// The domain before.
        from: Domain,
        /// The domain after.
        to: Domain,
    },
    /// Whether a `float` domain allows NaN changed.
    AllowNanChanged {
        /// The feature.
        name: String,
        /// Before.
        from: bool,
        /// After.
        to: bool,
    },
    /// A domain was added, removed, or replaced by one of another kind.
    DomainChanged {
        /// The feature.
        name: String,
        /// Before.
        from: Option<Domain>,
        /// After.
        to: Option<Domain>,
    },
    /// The feature's `not_in_environment` changed.
    EnvironmentsChanged {
        /// The feature.
        name: String,
        /// Before.
        from: Vec<String>,
        /// After.
        to: Vec<String>,
    },
    /// The feature's description changed.
    DescriptionChanged {
        /// The feature.
        name: String,
        /// Before.
        from: String,
        /// After.
        to: String,
    },
}

/// The changes that turn schema `a` into schema `b` (see the module documentation for the
/// order). Empty when they describe the same data.
pub fn diff_schemas(a: &Schema, b: &Schema) -> Vec<SchemaChange> {
    let mut out = Vec::new();
    if a.default_environments != b.default_environments {
        out.push(SchemaChange::DefaultEnvironments {
            from: a.default_environments.clone(),
            to: b.default_environments.clone(),
        });
    }
    for fa in &a.features {
        match b.feature(&fa.name) {
            None => out.push(SchemaChange::FeatureRemoved { name: fa.name.clone(), kind: fa.kind }),
            Some(fb) => diff_feature(fa, fb, &mut out),
        }
    }
    for fb in &b.features {
        if a.feature(&fb.name).is_none() {
            out.push(SchemaChange::FeatureAdded { name: fb.name.clone(), kind: fb.kind });
        }
    }
    out
}

fn diff_feature(a: &FeatureSchema, b: &FeatureSchema, out: &mut Vec<SchemaChange>) {
    let name = || a.name.clone();
    if a.kind != b.kind {
        out.push(SchemaChange::TypeChanged { name: name(), from: a.kind, to: b.kind });
    }
    if a.presence != b.presence {
        out.push(SchemaChange::PresenceChanged { name: name(), from: a.presence.clone(), to: b.presence.clone() });
    }
    if a.value_count != b.value_count {
        out.push(SchemaChange::ValueCountChanged {
            name: name(),
            from: a.value_count.clone(),
            to: b.value_count.clone(),
        });
    }
    match (&a.domain, &b.domain) {
        (Some(Domain::Strings { values: va }), Some(Domain::Strings { values: vb })) => {
            let added: Vec<String> = vb.iter().filter(|v| !va.contains(v)).cloned().collect();
            let removed: Vec<String> = va.iter().filter(|v| !vb.contains(v)).cloned().collect();
            if !added.is_empty() {
                out.push(SchemaChange::DomainValuesAdded { name: name(), values: added });
            }
            if !removed.is_empty() {
                out.push(SchemaChange::DomainValuesRemoved { name: name(), values: removed });
            }
        }
        (Some(da @ Domain::Int { .. }), Some(db @ Domain::Int { .. })) if da != db => {
            out.push(SchemaChange::RangeChanged { name: name(), from: da.clone(), to: db.clone() });
        }
        (
            Some(da @ Domain::Float { min: a0, max: a1, allow_nan: an }),
            Some(db @ Domain::Float { min: b0, max: b1, allow_nan: bn }),
        ) => {
            if (a0, a1) != (b0, b1) {
                out.push(SchemaChange::RangeChanged { name: name(), from: da.clone(), to: db.clone() });
            }
            if an != bn {
                out.push(SchemaChange::AllowNanChanged { name: name(), from: *an, to: *bn });
            }
        }
        (da, db) if da != db => {
            out.push(SchemaChange::DomainChanged { name: name(), from: da.clone(), to: db.clone() });
        }
        _ => {}
    }
    if a.not_in_environment != b.not_in_environment {
        out.push(SchemaChange::EnvironmentsChanged {
            name: name(),
            from: a.not_in_environment.clone(),
            to: b.not_in_environment.clone(),
        });
    }
    if a.description != b.description {
        out.push(SchemaChange::DescriptionChanged {
            name: name(),
            from: a.description.clone(),
            to: b.description.clone(),
        });
    }
}

/// A presence constraint in words: `required`, `optional`, `in at least 50% of rows`, with
/// `(at least N rows)` when `min_count` says more.
pub(crate) fn presence_text(p: &Presence) -> String {
    let base = if p.min_fraction >= 1.0 {
        "required".to_string()
    } else if p.min_fraction > 0.0 {
        format!("in at least {} of rows", pct(p.min_fraction))
    } else {
        "optional".to_string()
    };
    let implied = p.min_fraction >= 1.0 && p.min_count <= 1;
    match p.min_count {
        0 => base,
        _ if implied => base,
        1 => format!("{base} (at least 1 row)"),
        n => format!("{base} (at least {n} rows)"),
    }
}

/// A domain in words: `3 values: "a", "b", "c"` (at most `max_values` listed), `[0, 500]`,
/// `>= 0`, `<= 5`, `any`, with `, no NaN` for a float domain that refuses NaN.
pub(crate) fn domain_text(d: &Domain, max_values: usize) -> String {
    match d {
        Domain::Strings { values } => {
            let shown: Vec<String> = values.iter().take(max_values).map(|v| quote(v)).collect();
            let more = if values.len() > max_values {
                format!(", … (+{})", values.len() - max_values)
            } else {
                String::new()
            };
            let noun = if values.len() == 1 { "value" } else { "values" };
            if values.is_empty() {
                "no values".into()
            } else {
                format!("{} {noun}: {}{more}", values.len(), shown.join(", "))
            }
        }
        Domain::Int { .. } => range_text(d),
        Domain::Float { allow_nan, .. } => {
            let r = range_text(d);
            if *allow_nan { r } else { format!("{r}, no NaN") }
        }
    }
}

/// The bounds of an `int` or `float` domain: `[0, 500]`, `>= 0`, `<= 5` or `any` (empty for
/// a `strings` domain).
pub(crate) fn range_text(d: &Domain) -> String {
    let (min, max) = match d {
        Domain::Strings { .. } => return String::new(),
        Domain::Int { min, max } => (min.map(|x| x.to_string()), max.map(|x| x.to_string())),
        Domain::Float { min, max, .. } => (min.map(num), max.map(num)),
    };
    match (min, max) {
        (Some(a), Some(b)) => format!("[{a}, {b}]"),
        (Some(a), None) => format!(">= {a}"),
        (None, Some(b)) => format!("<= {b}"),
        (None, None) => "any".into(),
    }
}

fn envs(e: &[String]) -> String {
    if e.is_empty() { "(none)".into() } else { e.join(", ") }
}

fn value_count_text(v: &Option<ValueCount>) -> String {
    match v {
        None => "(none)".into(),
        Some(v) if v.min == v.max => format!("{}", v.min),
        Some(v) => format!("{}..{}", v.min, v.max),
    }
}

impl fmt::Display for SchemaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |vs: &[String]| vs.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ");
        let domain = |d: &Option<Domain>| d.as_ref().map_or("(none)".to_string(), |d| domain_text(d, 10));
        match self {
            SchemaChange::DefaultEnvironments { from, to } => {
                write!(f, "~ environments: {} -> {}", envs(from), envs(to))
            }
            SchemaChange::FeatureAdded { name, kind } => write!(f, "+ feature {name}: {}", kind.name()),
            SchemaChange::FeatureRemoved { name, kind } => write!(f, "- feature {name}: {}", kind.name()),
            SchemaChange::TypeChanged { name, from, to } => {
                write!(f, "~ {name}: type {} -> {}", from.name(), to.name())
            }
            SchemaChange::PresenceChanged { name, from, to } => {
                write!(f, "~ {name}: presence {} -> {}", presence_text(from), presence_text(to))
            }
            SchemaChange::ValueCountChanged { name, from, to } => {
                write!(f, "~ {name}: value count {} -> {}", value_count_text(from), value_count_text(to))
            }
            SchemaChange::DomainValuesAdded { name, values } => write!(f, "~ {name}: domain + {}", quoted(values)),
            SchemaChange::DomainValuesRemoved { name, values } => write!(f, "~ {name}: domain - {}", quoted(values)),
            SchemaChange::RangeChanged { name, from, to } => {
                write!(f, "~ {name}: range {} -> {}", range_text(from), range_text(to))
            }
            SchemaChange::AllowNanChanged { name, to, .. } => {
                write!(f, "~ {name}: NaN {}", if *to { "now allowed" } else { "no longer allowed" })
            }
            SchemaChange::DomainChanged { name, from, to } => {
                write!(f, "~ {name}: domain {} -> {}", domain(from), domain(to))
            }
            SchemaChange::EnvironmentsChanged { name, from, to } => {
                write!(f, "~ {name}: not in environment {} -> {}", envs(from), envs(to))
            }
            SchemaChange::DescriptionChanged { name, from, to } => {
                write!(f, "~ {name}: description {} -> {}", quote(from), quote(to))
            }
        }
    }
}

/// The changes, one line each, or `no changes` when there are none.
pub fn diff_text(changes: &[SchemaChange]) -> String {
    if changes.is_empty() {
        return "no changes\n".into();
    }
    changes.iter().map(|c| format!("{c}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FORMAT;

    fn feature(name: &str, kind: FeatureKind) -> FeatureSchema {
        FeatureSchema {
            name: name.into(),
            kind,
            presence: Presence { min_fraction: 0.0, min_count: 1 },
            value_count: Some(ValueCount { min: 1, max: 1 }),
            domain: None,
            not_in_environment: vec![],
            description: String::new(),
        }
    }

    fn strings(values: &[&str]) -> Option<Domain> {
        Some(Domain::Strings { values: values.iter().map(|v| v.to_string()).collect() })
    }

    fn before() -> Schema {
        let mut payment = feature("payment_type", FeatureKind::String);
        payment.domain = strings(&["Cash", "Credit", "No Charge"]);
        let mut miles = feature("trip_miles", FeatureKind::Float);
        miles.domain = Some(Domain::Float { min: Some(0.0), max: Some(100.0), allow_nan: true });
        Schema {
            format: FORMAT,
            default_environments: vec!["TRAINING".into(), "SERVING".into()],
            features: vec![
                feature("fare", FeatureKind::Int),
                payment,
                miles,
                feature("company", FeatureKind::String),
                feature("tips", FeatureKind::Float),
            ],
        }
    }

    #[test]
    fn identical_schemas() {
        assert_eq!(diff_schemas(&before(), &before()), []);
        assert_eq!(diff_text(&[]), "no changes\n");
    }

    #[test]
    fn every_kind_of_change() {
        let a = before();
        let mut b = before();
        b.default_environments = vec!["TRAINING".into()];
        b.features[0].kind = FeatureKind::Float;
        b.features[0].presence = Presence { min_fraction: 1.0, min_count: 1 };
        b.features[1].domain = strings(&["Cash", "Credit", "Prcard", "Dispute"]);
        b.features[2].domain = Some(Domain::Float { min: Some(0.0), max: Some(500.0), allow_nan: false });
        b.features.remove(3);
        b.features[3].not_in_environment = vec!["SERVING".into()];
        b.features[3].description = "the label".into();
        b.features[3].value_count = None;
        let mut seats = feature("seats", FeatureKind::Int);
        seats.domain = Some(Domain::Int { min: Some(1), max: None });
        b.features.push(seats);
        let mut c = b.clone();
        let changes = diff_schemas(&a, &b);
        assert_eq!(
            diff_text(&changes),
            "~ environments: TRAINING, SERVING -> TRAINING\n\
             ~ fare: type int -> float\n\
             ~ fare: presence optional (at least 1 row) -> required\n\
             ~ payment_type: domain + \"Prcard\", \"Dispute\"\n\
             ~ payment_type: domain - \"No Charge\"\n\
             ~ trip_miles: range [0, 100] -> [0, 500]\n\
             ~ trip_miles: NaN no longer allowed\n\
             - feature company: string\n\
             ~ tips: value count 1 -> (none)\n\
             ~ tips: not in environment (none) -> SERVING\n\
             ~ tips: description \"\" -> \"the label\"\n\
             + feature seats: int\n"
        );
        assert_eq!(
            changes[1],
            SchemaChange::TypeChanged { name: "fare".into(), from: FeatureKind::Int, to: FeatureKind::Float }
        );
        assert_eq!(
            changes[3],
            SchemaChange::DomainValuesAdded {
                name: "payment_type".into(),
                values: vec!["Prcard".into(), "Dispute".into()]
            }
        );
        // Domains that appear, disappear or change kind.
        c.features[1].domain = None;
        c.features[4].domain = Some(Domain::Int { min: Some(1), max: Some(8) });
        c.features[0].domain = Some(Domain::Float { min: None, max: Some(9.5), allow_nan: true });
        let changes = diff_schemas(&b, &c);
        assert_eq!(
            diff_text(&changes),
            "~ fare: domain (none) -> <= 9.5\n\
             ~ payment_type: domain 4 values: \"Cash\", \"Credit\", \"Prcard\", \"Dispute\" -> (none)\n\
             ~ seats: range >= 1 -> [1, 8]\n"
        );
        let mut d = c.clone();
        d.features[1].domain = Some(Domain::Int { min: None, max: None });
        assert_eq!(diff_schemas(&c, &d)[0].to_string(), "~ payment_type: domain (none) -> any");
    }

    #[test]
    fn presence_in_words() {
        assert_eq!(presence_text(&Presence { min_fraction: 1.0, min_count: 1 }), "required");
        assert_eq!(presence_text(&Presence { min_fraction: 1.0, min_count: 10 }), "required (at least 10 rows)");
        assert_eq!(presence_text(&Presence { min_fraction: 0.0, min_count: 0 }), "optional");
        assert_eq!(presence_text(&Presence { min_fraction: 0.5, min_count: 0 }), "in at least 50.0% of rows");
    }

    #[test]
    fn domains_in_words() {
        let d = strings(&["a", "b", "c"]).unwrap();
        assert_eq!(domain_text(&d, 2), "3 values: \"a\", \"b\", … (+1)");
        assert_eq!(domain_text(&strings(&["a"]).unwrap(), 2), "1 value: \"a\"");
        assert_eq!(domain_text(&strings(&[]).unwrap(), 2), "no values");
    }
}

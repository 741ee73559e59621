//! Typed access to a step's parameters.
//!
//! The host passes parameters as one JSON object in the IR encoding, each value tagged with its
//! type: `{"epochs": {"type": "int", "value": 10}}`. [`Params`] reads them with errors that
//! name the parameter.

use crate::Error;
use serde_json::{Map, Value};

/// A step's resolved parameters.
#[derive(Clone, Debug, Default)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Parses the host's JSON.
    pub fn parse(json: &str) -> Result<Params, Error> {
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(m)) => Ok(Params(m)),
            Ok(_) => Err(Error::invalid("the parameters are not a JSON object")),
            Err(e) => Err(Error::invalid(format!("the parameters are not JSON: {e}"))),
        }
    }

    /// Whether `name` has a value.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The value of `name` as the IR encodes it (`{"type": ..., "value": ...}`).
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    fn typed(&self, name: &str, types: &[&str]) -> Result<Option<&Value>, Error> {
        let Some(v) = self.0.get(name) else { return Ok(None) };
        let ty = v.get("type").and_then(Value::as_str).unwrap_or("?");
        if !types.contains(&ty) {
            return Err(Error::invalid(format!("parameter `{name}` is a {ty}, expected {}", types.join(" or "))));
        }
        Ok(v.get("value"))
    }

    fn missing(name: &str) -> Error {
        Error::invalid(format!("parameter `{name}` has no value"))
    }

    /// An optional int.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, Error> {
        Ok(self.typed(name, &["int"])?.and_then(Value::as_i64))
    }

    /// A required int.
    pub fn int(&self, name: &str) -> Result<i64, Error> {
        self.opt_int(name)?.ok_or_else(|| Self::missing(name))
    }

    /// An optional float (ints are accepted).
    pub fn opt_float(&self, name: &str) -> Result<Option<f64>, Error> {
        Ok(self.typed(name, &["float", "int"])?.and_then(Value::as_f64))
    }

    /// A required float.
    pub fn float(&self, name: &str) -> Result<f64, Error> {
        self.opt_float(name)?.ok_or_else(|| Self::missing(name))
    }

    /// An optional bool.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, Error> {
        Ok(self.typed(name, &["bool"])?.and_then(Value::as_bool))
    }

    /// A required bool.
    pub fn bool(&self, name: &str) -> Result<bool, Error> {
        self.opt_bool(name)?.ok_or_else(|| Self::missing(name))
    }

    /// An optional string (or path).
    pub fn opt_string(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self.typed(name, &["string", "path"])?.and_then(Value::as_str).map(str::to_owned))
    }

    /// A required string (or path). Paths are absolute host paths, readable when granted.
    pub fn string(&self, name: &str) -> Result<String, Error> {
        self.opt_string(name)?.ok_or_else(|| Self::missing(name))
    }

    /// A list of strings.
    pub fn strings(&self, name: &str) -> Result<Vec<String>, Error> {
        let Some(v) = self.typed(name, &["list"])? else { return Ok(Vec::new()) };
        let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
        items
            .iter()
            .map(|i| {
                i.get("value")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| Error::invalid(format!("parameter `{name}` holds a value that is not a string")))
            })
            .collect()
    }
    /// A map parameter (`map<T>`) as (key, IR-encoded value) pairs in key order.
    fn map(&self, name: &str) -> Result<Vec<(String, &Value)>, Error> {
        let Some(v) = self.typed(name, &["map", "record"])? else { return Ok(Vec::new()) };
        let Some(entries) = v.as_object() else {
            return Err(Error::invalid(format!("parameter `{name}` is not a map")));
        };
        Ok(entries.iter().map(|(k, v)| (k.clone(), v)).collect())
    }

    /// A `map<int>` parameter, in key order.
    pub fn int_map(&self, name: &str) -> Result<Vec<(String, i64)>, Error> {
        self.map(name)?
            .into_iter()
            .map(|(k, v)| match v.get("value").and_then(Value::as_i64) {
                Some(i) => Ok((k, i)),
                None => Err(Error::invalid(format!("parameter `{name}`: the value of `{k}` is not an int"))),
            })
            .collect()
    }

    /// A `map<float>` parameter (ints accepted), in key order.
    pub fn float_map(&self, name: &str) -> Result<Vec<(String, f64)>, Error> {
        self.map(name)?
            .into_iter()
            .map(|(k, v)| match v.get("value").and_then(Value::as_f64) {
                Some(f) => Ok((k, f)),
                None => Err(Error::invalid(format!("parameter `{name}`: the value of `{k}` is not a number"))),
            })
            .collect()
    }

    /// A `map<string>` parameter, in key order.
    pub fn string_map(&self, name: &str) -> Result<Vec<(String, String)>, Error> {
        self.map(name)?
            .into_iter()
            .map(|(k, v)| match v.get("value").and_then(Value::as_str) {
                Some(s) => Ok((k, s.to_owned())),
                None => Err(Error::invalid(format!("parameter `{name}`: the value of `{k}` is not a string"))),
            })
            .collect()
    }
}

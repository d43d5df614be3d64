//! A small validator of OCSF 1.3.0 Detection Findings over the official schema's source files
//! vendored in tests/data/ocsf (see its README): the class and its parents (`extends`), the
//! `$include`d files (a profile's attributes count only when the event lists that profile in
//! `metadata.profiles`), the objects recursively, and dictionary.json for each attribute's type,
//! array-ness and enum. Used by tests/integration/ocsf.rs and by src/output/findings.rs's unit
//! tests (through `#[path]`), so it depends on nothing but serde_json.

use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::fs;
use std::net::IpAddr;
use std::path::Path;

fn load(rel: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ocsf")
        .join(rel);
    let text = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap()
}

/// One attribute as the event sees it: the file's entry over the dictionary's, plus the profile
/// that brought it in.
type Attrs = Map<String, Value>;

struct Def {
    attrs: Attrs,
    at_least_one: Vec<String>,
}

pub struct Schema {
    dictionary: Map<String, Value>,
    types: Map<String, Value>,
    class: Def,
    class_uid: i64,
    category_uid: i64,
    version: Value,
    objects: std::cell::RefCell<HashMap<String, std::rc::Rc<Def>>>,
}

fn merge(into: &mut Attrs, from: &Map<String, Value>, profile: Option<&str>) {
    for (k, v) in from {
        if k == "$include" {
            continue;
        }
        let entry = into.entry(k.clone()).or_insert_with(|| json!({}));
        for (f, x) in v.as_object().unwrap() {
            entry[f] = x.clone();
        }
        if let Some(p) = profile {
            entry["profile"] = json!(p);
        }
    }
}

impl Schema {
    pub fn load() -> Schema {
        let dict = load("dictionary.json");
        let class_file = load("events/findings/detection_finding.json");
        let categories = load("categories.json");
        let category = class_file["category"].as_str().unwrap();
        let category_uid = categories["attributes"][category]["uid"].as_i64().unwrap();
        let mut s = Schema {
            dictionary: dict["attributes"].as_object().unwrap().clone(),
            types: dict["types"]["attributes"].as_object().unwrap().clone(),
            class: Def {
                attrs: Attrs::new(),
                at_least_one: vec![],
            },
            class_uid: category_uid * 1000 + class_file["uid"].as_i64().unwrap(),
            category_uid,
            version: load("version.json")["version"].clone(),
            objects: Default::default(),
        };
        s.class = s.resolve(&class_file, "events/findings");
        s
    }

    /// A class or object file with its parents and includes resolved.
    fn resolve(&self, file: &Value, dir: &str) -> Def {
        let mut attrs = Attrs::new();
        let mut at_least_one = vec![];
        if let Some(parent) = file["extends"].as_str() {
            let parent_file = if dir == "objects" {
                load(&format!("objects/{parent}.json"))
            } else if parent == "base_event" {
                load("events/base_event.json")
            } else {
                load(&format!("{dir}/{parent}.json"))
            };
            let p = self.resolve(&parent_file, dir);
            attrs = p.attrs;
            at_least_one = p.at_least_one;
        }
        let own = file["attributes"].as_object().unwrap();
        for inc in own
            .get("$include")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let f = load(inc.as_str().unwrap());
            let profile = (f["meta"] == "profile").then(|| f["name"].as_str().unwrap());
            merge(&mut attrs, f["attributes"].as_object().unwrap(), profile);
        }
        merge(&mut attrs, own, None);
        if let Some(c) = file["constraints"]["at_least_one"].as_array() {
            at_least_one = c.iter().map(|k| k.as_str().unwrap().to_owned()).collect();
        }
        for (k, a) in &mut attrs {
            let d = self
                .dictionary
                .get(k)
                .unwrap_or_else(|| panic!("{k}: not in dictionary.json"));
            for (f, x) in d.as_object().unwrap() {
                if a.get(f).is_none() {
                    a[f] = x.clone();
                }
            }
        }
        Def { attrs, at_least_one }
    }

    fn object(&self, name: &str) -> std::rc::Rc<Def> {
        if let Some(d) = self.objects.borrow().get(name) {
            return d.clone();
        }
        let def = std::rc::Rc::new(self.resolve(&load(&format!("objects/{name}.json")), "objects"));
        self.objects.borrow_mut().insert(name.to_owned(), def.clone());
        def
    }

    /// The base type (`string_t`, `long_t`, ...) a dictionary type is built on.
    fn base(&self, ty: &str) -> String {
        match self.types[ty]["type"].as_str() {
            Some(t) => self.base(t),
            None => ty.to_owned(),
        }
    }

    /// Every problem of `event`; empty when it conforms.
    pub fn validate(&self, event: &Value) -> Vec<String> {
        let mut errors = vec![];
        let profiles: Vec<String> = event["metadata"]["profiles"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let v = Check {
            schema: self,
            profiles,
        };
        v.object(event, &self.class, "$", &mut errors);
        let int = |k: &str| event[k].as_i64();
        if int("class_uid") != Some(self.class_uid) {
            errors.push(format!("$.class_uid: not {}", self.class_uid));
        }
        if int("category_uid") != Some(self.category_uid) {
            errors.push(format!("$.category_uid: not {}", self.category_uid));
        }
        match (int("class_uid"), int("activity_id"), int("type_uid")) {
            (Some(c), Some(a), Some(t)) if t == c * 100 + a => {}
            _ => errors.push("$.type_uid: not class_uid * 100 + activity_id".into()),
        }
        if event["metadata"]["version"] != self.version {
            errors.push(format!("$.metadata.version: not {}", self.version));
        }
        errors
    }
}

struct Check<'a> {
    schema: &'a Schema,
    profiles: Vec<String>,
}

impl Check<'_> {
    fn applies(&self, attr: &Value) -> bool {
        attr["profile"]
            .as_str()
            .is_none_or(|p| self.profiles.iter().any(|q| q == p))
    }

    fn object(&self, v: &Value, def: &Def, path: &str, errors: &mut Vec<String>) {
        let Some(map) = v.as_object() else {
            errors.push(format!("{path}: not an object"));
            return;
        };
        for (k, value) in map {
            let at = format!("{path}.{k}");
            let Some(attr) = def.attrs.get(k) else {
                errors.push(format!("{at}: not an attribute"));
                continue;
            };
            if !self.applies(attr) {
                errors.push(format!("{at}: needs profile {}", attr["profile"]));
            }
            self.value(value, attr, &at, errors);
            // A sibling string holds the caption of its enum value (free text only for Other).
            if let (Some(sibling), Some(n)) = (attr["sibling"].as_str(), value.as_i64())
                && n != 99
                && let Some(given) = map.get(sibling)
                && let Some(caption) = attr["enum"][n.to_string()]["caption"].as_str()
                && given.as_str() != Some(caption)
            {
                errors.push(format!(
                    "{path}.{sibling}: {given} is not the caption {caption:?}"
                ));
            }
        }
        for (k, attr) in &def.attrs {
            if attr["requirement"] == "required" && self.applies(attr) && !map.contains_key(k) {
                errors.push(format!("{path}.{k}: required, missing"));
            }
        }
        if !def.at_least_one.is_empty() && !def.at_least_one.iter().any(|k| map.contains_key(k)) {
            errors.push(format!("{path}: needs at least one of {:?}", def.at_least_one));
        }
    }

    fn value(&self, v: &Value, attr: &Value, path: &str, errors: &mut Vec<String>) {
        if attr["is_array"] == true {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.scalar(item, attr, &format!("{path}[{i}]"), errors);
                    }
                }
                None => errors.push(format!("{path}: not an array")),
            }
        } else {
            self.scalar(v, attr, path, errors);
        }
    }

    fn scalar(&self, v: &Value, attr: &Value, path: &str, errors: &mut Vec<String>) {
        let ty = attr["type"].as_str().unwrap();
        if !ty.ends_with("_t") {
            // An object: `object` is any object, others are checked against their definition.
            if ty == "object" {
                if !v.is_object() {
                    errors.push(format!("{path}: not an object"));
                }
            } else {
                self.object(v, &self.schema.object(ty), path, errors);
            }
            return;
        }
        let ok = match ty {
            // Milliseconds: 2001-09-09 to 2286. Seconds or microseconds fall outside.
            "timestamp_t" => v
                .as_i64()
                .is_some_and(|t| (1_000_000_000_000..10_000_000_000_000).contains(&t)),
            "ip_t" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
            "port_t" => v.as_i64().is_some_and(|p| (0..=65_535).contains(&p)),
            _ => match self.schema.base(ty).as_str() {
                "integer_t" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                "long_t" => v.is_i64(),
                "float_t" => v.is_number(),
                "boolean_t" => v.is_boolean(),
                "string_t" => v.is_string(),
                "json_t" => true,
                other => {
                    errors.push(format!("{path}: unknown base type {other}"));
                    true
                }
            },
        };
        if !ok {
            errors.push(format!("{path}: {v} is not a {ty}"));
        }
        // The dictionary's enums of the three uids hold only placeholders (the schema server fills
        // them from categories.json and the classes); `validate` checks those three itself.
        let generated = ["$.class_uid", "$.category_uid", "$.type_uid"].contains(&path);
        if let Some(values) = attr["enum"].as_object()
            && !generated
            && !v.as_i64().is_some_and(|n| values.contains_key(&n.to_string()))
        {
            errors.push(format!("{path}: {v} not in the enum"));
        }
    }
}

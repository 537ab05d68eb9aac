//! Property tests for canonical JSON: idempotence, round trips, format independence, and
//! serde_jcs as a differential oracle where both are defined (no floats, |n| <= 2^53, keys
//! whose code-point and UTF-16 orders agree).

use msez::canon;
use proptest::prelude::*;
use serde_json::Value;

fn big_int() -> impl Strategy<Value = Value> {
    ("-?[1-9][0-9]{0,40}").prop_map(|s| serde_json::from_str(&s).expect("an integer literal"))
}

fn small_int() -> impl Strategy<Value = Value> {
    (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from)
}

fn any_string() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "(.|[\\u{0}-\\u{1f}\\u{7f}\\u{2028}\\u{e000}-\\u{ffff}\\u{10000}-\\u{10ffff}]){0,12}",
    )
    .unwrap()
}

fn bmp_string() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[\\u{0}-\\u{d7ff}]{0,12}").unwrap()
}

fn json(leaf: BoxedStrategy<Value>, key: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        small_int(),
        big_int(),
        any_string().prop_map(Value::String),
    ]
    .boxed();
    json(leaf, any_string().boxed())
}

fn oracle_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        small_int(),
        bmp_string().prop_map(Value::String),
    ]
    .boxed();
    json(leaf, bmp_string().boxed())
}

/// Writes `v` with whitespace and reversed key order, to show the input's form never matters.
fn scrambled(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .rev()
                .map(|(k, v)| {
                    format!(
                        "\n  {} :\t{}",
                        serde_json::to_string(k).unwrap(),
                        scrambled(v)
                    )
                })
                .collect();
            format!("{{ {} }}", parts.join(" ,"))
        }
        Value::Array(items) => format!(
            "[ {} ]",
            items.iter().map(scrambled).collect::<Vec<_>>().join(" , ")
        ),
        Value::String(s) => {
            // ensure_ascii-style escapes for everything non-ASCII: a different text, the same string.
            let mut out = String::from("\"");
            for ch in s.chars() {
                match ch {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x80 && !c.is_control() => out.push(c),
                    c => {
                        let mut buf = [0u16; 2];
                        for unit in c.encode_utf16(&mut buf) {
                            out.push_str(&format!("\\u{unit:04X}"));
                        }
                    }
                }
            }
            out.push('"');
            out
        }
        other => other.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn canonicalize_is_idempotent(v in any_json()) {
        let once = canon::to_bytes(&v).unwrap();
        prop_assert_eq!(canon::canonicalize(&once).unwrap(), once);
    }

    #[test]
    fn parse_of_canonical_is_the_value(v in any_json()) {
        let bytes = canon::to_bytes(&v).unwrap();
        prop_assert_eq!(canon::parse(&bytes).unwrap(), v);
    }

    #[test]
    fn digests_do_not_depend_on_formatting_or_key_order(v in any_json()) {
        let text = scrambled(&v);
        prop_assert_eq!(canon::canonicalize(text.as_bytes()).unwrap(), canon::to_bytes(&v).unwrap(), "input: {}", text);
        for t in ["vc", "schema", "checkpoint"] {
            let rule = canon::rule_for(t);
            prop_assert_eq!(rule.digest_json(&canon::parse(text.as_bytes()).unwrap()).unwrap(), rule.digest_json(&v).unwrap());
        }
    }

    #[test]
    fn serde_jcs_agrees_where_both_are_defined(v in oracle_json()) {
        let ours = String::from_utf8(canon::to_bytes(&v).unwrap()).unwrap();
        // serde_jcs serializes numbers through f64, so hand it a plain (non-arbitrary) copy.
        let theirs = serde_jcs::to_string(&plain(&v)).unwrap();
        prop_assert_eq!(ours, theirs);
    }
}

/// A copy of `v` whose numbers are i64 values, as serde_jcs expects them.
fn plain(v: &Value) -> serde_json::Value {
    match v {
        Value::Number(n) => Value::from(n.as_i64().expect("oracle integers fit i64")),
        Value::Array(a) => Value::Array(a.iter().map(plain).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn serde_jcs_disagrees_on_what_msez_rejects_or_keeps_exact() {
    // The reasons serde_jcs is only an oracle: it accepts floats and rounds big integers.
    let big: Value = serde_json::from_str("[12345678901234567890123]").unwrap();
    assert_eq!(canon::to_bytes(&big).unwrap(), b"[12345678901234567890123]");
    assert!(canon::canonicalize(b"[1.5]").is_err());
}

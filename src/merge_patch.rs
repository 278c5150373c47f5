//! JSON Merge Patch (RFC 7386): the one change that reaches every session of a user
//! ([`Sessions::update_user_sessions`](crate::Sessions::update_user_sessions)). A patch names
//! the fields it replaces and leaves the rest of each session's data as it is; `null` removes a
//! field.

use serde_json::{Map, Value};

use crate::error::Error;

/// Applies `patch` to `target` as RFC 7386 says: an object patch merges field by field
/// (recursively; `null` removes), anything else replaces the target.
pub(crate) fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (name, value) in fields {
            if value.is_null() {
                target.remove(name);
            } else {
                apply(target.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// A patch from the application's value: it must serialize to a JSON object (a patch that
/// replaced the whole data of every session would not be a change of some fields).
pub(crate) fn from_value<P: serde::Serialize>(patch: &P) -> Result<Value, Error> {
    match serde_json::to_value(patch)? {
        patch @ Value::Object(_) => Ok(patch),
        _ => Err(Error::Data(std::sync::Arc::new(
            <serde_json::Error as serde::ser::Error>::custom(
                "a patch of every session's data must be a JSON object",
            ),
        ))),
    }
}

/// The session data `data` (JSON text) with `patch` applied, or `None` when the patch changes
/// nothing in it.
pub(crate) fn patched(data: &str, patch: &Value) -> Result<Option<String>, Error> {
    let before: Value = serde_json::from_str(data)?;
    let mut after = before.clone();
    apply(&mut after, patch);
    Ok((after != before).then(|| after.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The examples of RFC 7386, appendix A.
    #[test]
    fn follows_the_examples_of_rfc_7386() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, want) in cases {
            let mut got = target.clone();
            apply(&mut got, &patch);
            assert_eq!(got, want, "{target} patched with {patch}");
        }
    }

    #[test]
    fn only_objects_are_patches_and_an_idle_patch_changes_nothing() {
        assert!(from_value(&json!({"role": "admin"})).is_ok());
        for bad in [json!("admin"), json!(["admin"]), json!(null), json!(1)] {
            assert!(matches!(from_value(&bad), Err(Error::Data(_))), "{bad}");
        }
        let patch = json!({"role": "admin"});
        let changed = patched(r#"{"role":"user","items":[1]}"#, &patch).unwrap();
        let changed: Value = serde_json::from_str(&changed.expect("changed")).unwrap();
        assert_eq!(changed, json!({"role": "admin", "items": [1]}));
        assert_eq!(patched(r#"{"role":"admin"}"#, &patch).unwrap(), None);
        assert!(patched("not json", &patch).is_err());
    }
}

//! Google's partial-response `fields` parameter: `nextPageToken,users(primaryEmail,name/fullName)`.

use std::collections::BTreeMap;

use serde_json::Value;

/// Selected keys; `None` keeps the whole value under a key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Mask(BTreeMap<String, Option<Mask>>);

#[derive(Debug, thiserror::Error)]
#[error("Invalid field selection {0}")]
pub struct MaskError(pub String);

impl Mask {
    pub fn parse(text: &str) -> Result<Mask, MaskError> {
        let mut mask = Mask::default();
        for item in split_top(text).map_err(|_| MaskError(text.to_string()))? {
            let item = item.trim();
            if item.is_empty() {
                return Err(MaskError(text.to_string()));
            }
            let (path, sub) = match item.find('(') {
                Some(i) if item.ends_with(')') => {
                    (&item[..i], Some(Mask::parse(&item[i + 1..item.len() - 1])?))
                }
                Some(_) => return Err(MaskError(text.to_string())),
                None => (item, None),
            };
            mask.insert(path.split('/').collect::<Vec<_>>().as_slice(), sub);
        }
        Ok(mask)
    }

    fn insert(&mut self, path: &[&str], sub: Option<Mask>) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            self.0.insert(first.to_string(), sub);
            return;
        }
        let entry = self
            .0
            .entry(first.to_string())
            .or_insert_with(|| Some(Mask::default()));
        if let Some(m) = entry {
            m.insert(rest, sub);
        }
    }

    /// Keeps only the selected fields, in place (replies can be large).
    pub fn apply(&self, value: Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.apply(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter_map(|(k, v)| {
                        let sub = self.0.get(&k)?;
                        let v = match sub {
                            Some(m) => m.apply(v),
                            None => v,
                        };
                        Some((k, v))
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

fn split_top(text: &str) -> Result<Vec<&str>, ()> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(());
                }
            }
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(());
    }
    out.push(&text[start..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_select_nested_fields_in_lists() {
        let m = Mask::parse("nextPageToken,users(primaryEmail,name/fullName)").expect("mask");
        let v = json!({"kind": "x", "nextPageToken": "t", "users": [
            {"primaryEmail": "a@b.c", "id": "1", "name": {"fullName": "A B", "givenName": "A"}}
        ]});
        assert_eq!(
            m.apply(v),
            json!({"nextPageToken": "t", "users": [{"primaryEmail": "a@b.c", "name": {"fullName": "A B"}}]})
        );
        assert!(Mask::parse("users(a").is_err());
    }
}

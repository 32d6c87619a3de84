//! [`Val`]: the JavaScript values the bindings exchange, as plain Rust. Each host converts them
//! to and from its own values in one function each way; byte strings are wiped when dropped (a
//! wrap request carries a data key).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroizing;

/// A JavaScript value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `null` (from JavaScript: `null` or `undefined`).
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// A `Uint8Array` (a copy; wiped when dropped).
    Bytes(Zeroizing<Vec<u8>>),
    /// An array.
    List(Vec<Val>),
    /// A plain object, its properties in order.
    Obj(Vec<(String, Val)>),
    /// Anything else from JavaScript (a function, a class instance the host cannot read).
    Other,
}

impl Val {
    /// A new empty object.
    pub fn obj() -> Val {
        Val::Obj(Vec::new())
    }
    /// `{kind: k}`.
    pub fn kind(k: &str) -> Val {
        Val::obj().with("kind", k)
    }
    /// This object with `k: v` added.
    pub fn with(mut self, k: &str, v: impl Into<Val>) -> Val {
        if let Val::Obj(ref mut props) = self {
            props.push((k.into(), v.into()));
        }
        self
    }
    /// A byte string (copied).
    pub fn bytes(b: &[u8]) -> Val {
        Val::Bytes(Zeroizing::new(b.to_vec()))
    }
    /// Pairs as an object `{k: v}`.
    pub fn map<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Val {
        Val::Obj(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_owned(), Val::Str(v.as_ref().to_owned())))
                .collect(),
        )
    }
    /// Whether this is `null` or `undefined`.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Str(s.into())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::Str(s)
    }
}
impl From<bool> for Val {
    fn from(b: bool) -> Val {
        Val::Bool(b)
    }
}
impl From<f64> for Val {
    fn from(n: f64) -> Val {
        Val::Num(n)
    }
}
impl From<u64> for Val {
    fn from(n: u64) -> Val {
        Val::Num(n as f64)
    }
}
impl From<u32> for Val {
    fn from(n: u32) -> Val {
        Val::Num(n.into())
    }
}
impl From<u16> for Val {
    fn from(n: u16) -> Val {
        Val::Num(n.into())
    }
}
impl From<usize> for Val {
    fn from(n: usize) -> Val {
        Val::Num(n as f64)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;
    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a JavaScript value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Val, E> {
        Ok(Val::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Val, E> {
        Ok(Val::Num(n as f64))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Val, E> {
        Ok(Val::Num(n as f64))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Val, E> {
        Ok(Val::Num(n))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Val, E> {
        Ok(Val::Str(v.into()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Val, E> {
        Ok(Val::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Val, E> {
        Ok(Val::bytes(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Val, A::Error> {
        let mut l = Vec::new();
        while let Some(v) = a.next_element()? {
            l.push(v);
        }
        Ok(Val::List(l))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Val, A::Error> {
        let mut props = Vec::new();
        while let Some((k, v)) = a.next_entry::<String, Val>()? {
            props.push((k, v));
        }
        Ok(Val::Obj(props))
    }
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Val, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::Val;

    #[test]
    fn json_objects_keep_their_order() {
        let v: Val = serde_json::from_str(r#"{"b":"1","a":[true,null,2.5]}"#).unwrap();
        let want = Val::obj().with("b", "1").with(
            "a",
            Val::List(vec![Val::Bool(true), Val::Null, Val::Num(2.5)]),
        );
        assert_eq!(v, want);
    }
}

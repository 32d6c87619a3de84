//! The host half of the conversions: the glue's [`Val`] to and from JavaScript values, option
//! objects read by property, and [`Fail`] thrown as a JavaScript `Error`.

use js_sys::{Array, Object, Reflect, Uint8Array};
use s3_encryption_glue::{Fail, Opts, R, Val};
use wasm_bindgen::JsValue;

/// A JavaScript result.
pub(crate) type JsResult<T> = Result<T, JsValue>;

/// The glue's error as a JavaScript `Error` with `code`, `errorClass` and, when set, `status`
/// and `required`.
fn js_err(f: Fail) -> JsValue {
    let err = js_sys::Error::new(&f.message);
    set(&err, "code", f.code.into());
    set(&err, "errorClass", f.class.into());
    if let Some(s) = f.status {
        set(&err, "status", s.into());
    }
    if let Some(r) = f.required {
        set(&err, "required", (r as f64).into());
    }
    err.into()
}

fn set(o: &JsValue, k: &str, v: JsValue) {
    // Setting a property of a new plain object or `Error` cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(k), &v);
}

/// A glue result on this host.
pub(crate) trait Js<T> {
    /// Throw the glue's error as a JavaScript `Error`.
    fn js(self) -> JsResult<T>;
}

impl<T> Js<T> for R<T> {
    fn js(self) -> JsResult<T> {
        self.map_err(js_err)
    }
}

/// A glue value as a JavaScript value (byte strings as new `Uint8Array`s).
pub(crate) fn js(v: R<Val>) -> JsResult<JsValue> {
    Ok(value(v.js()?))
}

fn value(v: Val) -> JsValue {
    match v {
        Val::Null | Val::Other => JsValue::NULL,
        Val::Bool(b) => b.into(),
        Val::Num(n) => n.into(),
        Val::Str(s) => s.into(),
        // A copy the caller owns; the glue's buffer is wiped when `b` drops.
        Val::Bytes(b) => Uint8Array::from(&b[..]).into(),
        Val::List(l) => l.into_iter().map(value).collect::<Array>().into(),
        Val::Obj(props) => {
            let o: JsValue = Object::new().into();
            for (k, x) in props {
                set(&o, &k, value(x));
            }
            o
        }
    }
}

/// A JavaScript value as a glue value (`Val::Other` for what no option takes).
fn from_js(v: &JsValue) -> Val {
    if v.is_undefined() || v.is_null() {
        Val::Null
    } else if let Some(b) = v.as_bool() {
        Val::Bool(b)
    } else if let Some(n) = v.as_f64() {
        Val::Num(n)
    } else if let Some(s) = v.as_string() {
        Val::Str(s)
    } else if Array::is_array(v) {
        Val::List(Array::from(v).iter().map(|x| from_js(&x)).collect())
    } else {
        Val::Other
    }
}

/// An options object, read one property at a time.
pub(crate) struct Options<'a>(pub(crate) &'a JsValue);

impl Opts for Options<'_> {
    fn get(&self, key: &str) -> R<Val> {
        if !self.0.is_object() {
            return Ok(Val::Null);
        }
        Ok(Reflect::get(self.0, &JsValue::from_str(key)).map_or(Val::Null, |v| from_js(&v)))
    }
}

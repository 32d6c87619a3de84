//! Node-API bindings of the `s3-encryption` core: the native engine of the npm package
//! `s3-encryption`, with the same classes and functions as its WebAssembly build
//! (`bindings/wasm`), so that the package's JavaScript runs on either.
//!
//! Everything but the host is in `s3-encryption-glue`: this crate declares the classes with
//! napi-rs, converts values ([`Val`] to JavaScript values, option objects one property at a
//! time through napi's serde support) and throws the glue's [`Fail`] as an `Error` with `code`, `errorClass`, `status`
//! and `required`.
//!
//! Memory: byte arguments are views of the caller's `Uint8Array`s (what the WebAssembly build
//! copies in and, for the in-place calls `body`, `encrypt` and `encryptPart`, copies back); the
//! package passes only buffers it owns to the in-place calls, exactly as on WebAssembly. Byte
//! results are new JavaScript buffers; secrets stay in the core's zeroizing types.
#![deny(missing_docs)]
// napi-rs's attribute macros expand to `unsafe` FFI glue; the lint accepts that expansion, so
// the crate denies `unsafe` for everything written here.
#![deny(unsafe_code)]

mod keys;
mod machines;
mod rotate;

pub use keys::{AesKey, DataKey, Envelope, RsaPrivateKey, RsaPublicKey, parse_envelope};
pub use machines::{Delete, Describe, Get, Put};
pub use rotate::Rotate;

use napi::bindgen_prelude::{Env, Null, Object, Result, Status, ToNapiValue, Uint8Array, Unknown};
use napi::{JsValue, ValueType};
use napi_derive::napi;
use s3_encryption_glue::{Fail, Opts, R, Val};

/// The glue's error as a thrown JavaScript `Error`.
fn throw(env: &Env, f: Fail) -> napi::Error {
    let made = env
        .create_error(napi::Error::new(Status::GenericFailure, f.message.clone()))
        .and_then(|mut e| {
            e.set("code", f.code)?;
            e.set("errorClass", f.class)?;
            if let Some(s) = f.status {
                e.set("status", s)?;
            }
            if let Some(r) = f.required {
                e.set("required", r as f64)?;
            }
            Ok(napi::Error::from(e.to_unknown()))
        });
    made.unwrap_or_else(|e| e)
}

/// A glue result on this host.
trait Host<T> {
    /// Throw the glue's error as a JavaScript `Error`.
    fn h(self, env: &Env) -> Result<T>;
}

impl<T> Host<T> for R<T> {
    fn h(self, env: &Env) -> Result<T> {
        self.map_err(|f| throw(env, f))
    }
}

/// A glue value as a JavaScript value (byte strings as new `Uint8Array`s).
fn js<'e>(env: &'e Env, v: R<Val>) -> Result<Unknown<'e>> {
    value(env, v.h(env)?)
}

fn value(env: &Env, v: Val) -> Result<Unknown<'_>> {
    match v {
        Val::Null | Val::Other => Null.into_unknown(env),
        Val::Bool(b) => b.into_unknown(env),
        Val::Num(n) => n.into_unknown(env),
        Val::Str(s) => s.into_unknown(env),
        // A copy the caller owns; the glue's buffer is wiped when `b` drops.
        Val::Bytes(b) => Uint8Array::from(b.as_slice()).into_unknown(env),
        Val::List(l) => {
            let mut a = env.create_array(l.len() as u32)?;
            for (i, x) in l.into_iter().enumerate() {
                a.set(i as u32, value(env, x)?)?;
            }
            Ok(a.to_unknown())
        }
        Val::Obj(props) => {
            let mut o = Object::new(env)?;
            for (k, x) in props {
                o.set(k, value(env, x)?)?;
            }
            Ok(o.to_unknown())
        }
    }
}

/// An options object, read one property at a time.
struct Options<'e> {
    env: &'e Env,
    obj: Option<Object<'e>>,
}

impl<'e> Options<'e> {
    fn of(env: &'e Env, v: Unknown<'e>) -> Result<Options<'e>> {
        let obj = match v.get_type()? {
            ValueType::Object => Some(v.coerce_to_object()?),
            _ => None,
        };
        Ok(Options { env, obj })
    }
}

impl Opts for Options<'_> {
    fn get(&self, key: &str) -> R<Val> {
        let Some(obj) = &self.obj else {
            return Ok(Val::Null);
        };
        let v: Option<Unknown> = obj
            .get(key)
            .map_err(|e| s3_encryption_glue::usage(&e.reason))?;
        Ok(match v {
            None => Val::Null,
            // A value serde cannot read (a function, a symbol) is of no option's shape.
            Some(v) => self.env.from_js_value(v).unwrap_or(Val::Other),
        })
    }
}

/// The core's version (the crate version of the bindings, built from the same tree).
#[napi(js_name = "coreVersion")]
pub fn core_version() -> String {
    s3_encryption_glue::core_version()
}

/// Check a client's write settings (`suite`, `commitmentPolicy`) when it is made; returns the
/// suite's spec name.
#[napi(js_name = "checkWriteSettings")]
pub fn check_write_settings(env: &Env, options: Unknown) -> Result<String> {
    s3_encryption_glue::check_write_settings(&Options::of(env, options)?).h(env)
}

/// Whether the metadata (flat pairs) holds no envelope, so that the instruction file must be
/// fetched.
#[napi(js_name = "needsInstructionFile")]
pub fn needs_instruction_file(env: &Env, metadata: Vec<String>) -> Result<bool> {
    s3_encryption_glue::needs_instruction_file(metadata).h(env)
}

/// Whether `name` is an envelope key.
#[napi(js_name = "isEnvelopeKey")]
pub fn is_envelope_key(name: String) -> bool {
    s3_encryption_glue::is_envelope_key(&name)
}

/// A class's Rust value until JavaScript calls `free()` (as on the WebAssembly build, which
/// drops it then: a key or a machine holding a data key is wiped at that call, not at the next
/// garbage collection). A call after `free()` throws.
#[derive(Debug)]
pub(crate) struct Slot<T>(Option<T>);

impl<T> Slot<T> {
    pub(crate) fn new(v: T) -> Slot<T> {
        Slot(Some(v))
    }
    pub(crate) fn r(&self) -> Result<&T> {
        self.0.as_ref().ok_or_else(freed)
    }
    pub(crate) fn w(&mut self) -> Result<&mut T> {
        self.0.as_mut().ok_or_else(freed)
    }
    pub(crate) fn free(&mut self) {
        self.0 = None;
    }
}

fn freed() -> napi::Error {
    napi::Error::new(Status::GenericFailure, "the object was freed")
}

//! Node-API bindings of the `s3-encryption` core: the native engine of the npm package
//! `s3-encryption`, with the same classes and functions as its WebAssembly build
//! (`bindings/wasm`), so that the package's JavaScript runs on either.
//!
//! Everything but the host is in `s3-encryption-glue`: this crate declares the classes with
//! napi-rs, converts values ([`Val`] to JavaScript values, option objects one property at a
//! time through napi's serde support) and throws the glue's [`Fail`] as an `Error` with `code`,
//! `errorClass`, `status` and `required`.
//!
//! Memory: byte arguments are views of the caller's `Uint8Array`s (what the WebAssembly build
//! copies in and, for the in-place calls `body`, `encrypt` and `encryptPart`, copies back); the
//! package passes only buffers it owns to the in-place calls, exactly as on WebAssembly. Byte
//! results are new JavaScript buffers; secrets stay in the core's zeroizing types.
#![deny(missing_docs)]
// napi-rs's attribute macros expand to `unsafe` FFI glue that this lint does not flag (macro
// output); nothing written here is `unsafe`, and the lint holds for all of it.
#![deny(unsafe_code)]

/// `free()` of a class (see [`Slot`]).
macro_rules! freeable {
    ($ty:ident) => {
        #[napi_derive::napi]
        impl $ty {
            /// Drop the Rust value now (its keys are wiped); later calls throw.
            #[napi]
            pub fn free(&mut self) {
                self.0.free();
            }
        }
    };
}

/// The methods every machine class has: `free`, `poll`, `request` and `response`; with `, body`,
/// also `body` (a piece of an instruction file).
macro_rules! machine_class {
    ($ty:ident) => {
        freeable!($ty);

        #[napi_derive::napi]
        impl $ty {
            /// What the machine needs next.
            #[napi]
            pub fn poll<'e>(&mut self, env: &'e Env) -> Result<Unknown<'e>> {
                $crate::js(env, self.0.w()?.poll())
            }
            /// The request `id`.
            #[napi]
            pub fn request<'e>(&self, env: &'e Env, id: u32) -> Result<Unknown<'e>> {
                $crate::js(env, self.0.r()?.request(id))
            }
            /// The response to `id`: its status and flat headers.
            #[napi]
            pub fn response(
                &mut self,
                env: &Env,
                id: u32,
                status: u16,
                headers: Vec<String>,
            ) -> Result<()> {
                use $crate::Host;
                self.0.w()?.response(id, status, &headers).h(env)
            }
        }
    };
    ($ty:ident, body) => {
        machine_class!($ty);

        #[napi_derive::napi]
        impl $ty {
            /// A piece of the instruction file's body.
            #[napi]
            pub fn body(&mut self, env: &Env, id: u32, piece: BufferSlice) -> Result<()> {
                use $crate::Host;
                self.0.w()?.body(id, &piece).h(env)
            }
        }
    };
}

/// The key-unwrapping methods of the machines that read an envelope (`Get`, `Rotate`).
macro_rules! unwrapping {
    ($ty:ident) => {
        #[napi_derive::napi]
        impl $ty {
            /// The key to supply.
            #[napi(js_name = "keyRequest")]
            pub fn key_request<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
                $crate::js(env, self.0.r()?.key_request())
            }
            /// The unwrapped data key.
            #[napi(js_name = "dataKey")]
            pub fn data_key(&mut self, env: &Env, key: &$crate::keys::DataKey) -> Result<()> {
                self.0.w()?.data_key(key.0.r()?).h(env)
            }
            /// Unwrap the data key with an AES master key.
            #[napi(js_name = "unwrapAes")]
            pub fn unwrap_aes(&mut self, env: &Env, key: &$crate::keys::AesKey) -> Result<()> {
                self.0.w()?.unwrap_aes(key.0.r()?).h(env)
            }
            /// Unwrap the data key with an RSA private key.
            #[napi(js_name = "unwrapRsa")]
            pub fn unwrap_rsa(
                &mut self,
                env: &Env,
                key: &$crate::keys::RsaPrivateKey,
            ) -> Result<()> {
                self.0.w()?.unwrap_rsa(key.0.r()?).h(env)
            }
            /// At `unwrapKey`, for a JavaScript keyring: the unwrap request.
            #[napi(js_name = "externalUnwrapRequest")]
            pub fn external_unwrap_request<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
                $crate::js(env, self.0.r()?.external_unwrap_request())
            }
        }
    };
}

/// The methods of the machines that describe the object read (`Get`, `Describe`).
macro_rules! described {
    ($ty:ident) => {
        #[napi_derive::napi]
        impl $ty {
            /// The envelope, once read, or `null`.
            #[napi]
            pub fn envelope<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
                $crate::js(env, Ok(self.0.r()?.envelope()))
            }
            /// The object, once its first response came, or `null`.
            #[napi]
            pub fn object<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
                $crate::js(env, Ok(self.0.r()?.object()))
            }
            /// Whether the envelope came from the instruction file.
            #[napi(js_name = "instructionFileUsed")]
            pub fn instruction_file_used(&self) -> Result<bool> {
                Ok(self.0.r()?.instruction_file_used())
            }
            /// The object's whole plaintext length, when known, or `undefined`.
            #[napi(js_name = "plaintextLength")]
            pub fn plaintext_length(&self) -> Result<Either<f64, ()>> {
                Ok($crate::keys::num_or_undefined(
                    self.0.r()?.plaintext_length(),
                ))
            }
        }
    };
}

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

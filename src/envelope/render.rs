//! Render: the object metadata entries and the instruction-file JSON, both read off the one
//! placement table [`keys::FIELDS`], plus the JSON maps (materials description, encryption
//! context) the encryptor stores.

use super::EncryptionContext;
use super::Envelope;
use super::keys::*;
use super::keys::{FIELDS, Home};
use crate::encoding::arena::{Arena, Span};
use crate::encoding::json::{self, Sink};
use crate::error::{Error, Result};
use crate::suite::{ContentAlgorithm, FormatVersion, Placement, TAG_LEN_BITS};

impl Envelope {
    /// The stored text of row `i` of [`keys::FIELDS`] for this envelope, `None` when the row
    /// does not apply to it.
    fn value(&self, i: usize) -> Option<&str> {
        let a = &self.arena;
        let (v1, v2, v3) = match self.version {
            FormatVersion::V1 => (true, false, false),
            FormatVersion::V2 => (false, true, false),
            FormatVersion::V3 => (false, false, true),
        };
        let v12 = v1 || v2;
        let span = |s: Span| Some(a.str(s));
        match FIELDS[i].0 {
            KEY_V1 if v1 => span(self.edk_b64),
            KEY_V2 if v2 => span(self.edk_b64),
            IV if v12 => span(self.iv_b64),
            MATDESC if v12 => Some(self.matdesc.map(|s| a.str(s)).unwrap_or("{}")),
            WRAP_ALG if v2 => Some(self.wrap.v2_name()),
            CEK_ALG if v2 => Some(self.cek.as_str()),
            TAG_LEN if v2 && self.content == ContentAlgorithm::AesGcm => Some(TAG_LEN_BITS),
            UNENCRYPTED_LEN if v12 && self.unencrypted_len.is_some() => span(self.len_text),
            V3_CONTENT if v3 => Some(self.cek.as_str()),
            V3_KEY if v3 => span(self.edk_b64),
            V3_WRAP if v3 => Some(self.wrap.v3_code().unwrap_or("")),
            V3_MATDESC if v3 => self.matdesc.map(|s| a.str(s)),
            V3_CONTEXT if v3 => self.context.map(|s| a.str(s)),
            V3_COMMITMENT if v3 => span(self.commit_b64),
            V3_MESSAGE_ID if v3 => span(self.mid_b64),
            _ => None,
        }
    }

    /// The rows that go to the object metadata (`true`) or to the instruction file (`false`).
    fn rows(&self, to_metadata: bool) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let in_meta = self.placement == Placement::ObjectMetadata;
        (0..FIELDS.len()).filter_map(move |i| {
            let (name, _, home) = FIELDS[i];
            let here = match home {
                Home::KeyMaterial => in_meta == to_metadata,
                Home::Object | Home::ObjectOnly => to_metadata,
            };
            if here {
                self.value(i).map(|v| (name, v))
            } else {
                None
            }
        })
    }

    /// The user-metadata entries to store on the object (keys without `x-amz-meta-`). With
    /// instruction-file placement these are only the keys that stay on the object (V3 `x-amz-c`,
    /// `x-amz-d`, `x-amz-i`; V1/V2 the plaintext length if known).
    pub fn metadata(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.rows(true)
    }

    fn render_instruction_file(&self, s: &mut Sink<'_>) {
        s.put(b"{");
        for (n, (k, v)) in self.rows(false).enumerate() {
            if n > 0 {
                s.put(b",");
            }
            s.json_str(k);
            s.put(b":");
            s.json_str(v);
        }
        s.put(b"}");
    }

    /// The instruction-file JSON length in bytes.
    pub fn instruction_file_len(&self) -> usize {
        let mut c = Sink::counter();
        self.render_instruction_file(&mut c);
        c.len
    }

    /// Render the instruction-file JSON into `out`, returning its length. For V3 it holds only
    /// `x-amz-3`, `x-amz-w` and `x-amz-m`/`x-amz-t`; for V1/V2 the whole key material.
    pub fn write_instruction_file(&self, out: &mut [u8]) -> Result<usize> {
        json::render_into(out, |s| self.render_instruction_file(s))
    }

    /// The instruction-file JSON as a `String`.
    #[cfg(feature = "alloc")]
    pub fn instruction_file(&self) -> alloc::string::String {
        let mut v = alloc::vec![0u8; self.instruction_file_len()];
        let n = self.write_instruction_file(&mut v).unwrap_or(0);
        v.truncate(n);
        alloc::string::String::from_utf8(v).unwrap_or_default()
    }
}

/// Render `pairs` (and `extra`) as a flat JSON object into the arena.
pub(super) fn render_map(
    a: &mut Arena,
    pairs: EncryptionContext<'_>,
    extra: Option<(&str, &str)>,
) -> Result<Span> {
    let f = |s: &mut Sink<'_>| {
        s.put(b"{");
        let mut first = true;
        for (k, v) in pairs.iter().copied().chain(extra) {
            if !first {
                s.put(b",");
            }
            first = false;
            s.json_str(k);
            s.put(b":");
            s.json_str(v);
        }
        s.put(b"}");
    };
    let mut c = Sink::counter();
    f(&mut c);
    if c.len > a.free() {
        return Err(Error::TooLarge);
    }
    a.fill(c.len, |dst| {
        let mut s = Sink::slice(dst);
        f(&mut s);
        Ok(s.len)
    })
}

/// Write `v` in decimal into the arena.
pub(super) fn write_u64(a: &mut Arena, mut v: u64) -> Result<Span> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    a.push(&buf[i..])
}

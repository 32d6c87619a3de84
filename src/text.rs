//! Byte-level text handling without an allocator: a fixed arena, base64, a strict flat-JSON
//! reader and writer, and RFC 2047 encoded words.

use crate::error::{Error, Result};
use base64ct::{Base64, Base64Unpadded, Encoding};

/// Capacity in bytes of the fixed storage an [`crate::Envelope`] keeps its decoded values in
/// (encrypted data key, materials description, encryption context). S3 limits user metadata to
/// 2 KB, so only an unusually large instruction file can exceed it ([`Error::TooLarge`]).
pub const ARENA_CAPACITY: usize = 8192;

/// A position in an [`Arena`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u16,
    len: u16,
}

impl Span {
    pub(crate) fn len(self) -> usize {
        self.len as usize
    }
}

/// Fixed-capacity append-only byte storage.
#[derive(Clone)]
pub(crate) struct Arena {
    buf: [u8; ARENA_CAPACITY],
    len: usize,
}

impl Arena {
    pub(crate) const fn new() -> Self {
        Arena {
            buf: [0; ARENA_CAPACITY],
            len: 0,
        }
    }
    pub(crate) fn get(&self, s: Span) -> &[u8] {
        &self.buf[s.start as usize..s.start as usize + s.len as usize]
    }
    pub(crate) fn str(&self, s: Span) -> &str {
        // Every span holding text was validated as UTF-8 when it was stored.
        core::str::from_utf8(self.get(s)).unwrap_or("")
    }
    pub(crate) fn push(&mut self, b: &[u8]) -> Result<Span> {
        let start = self.len;
        let end = start.checked_add(b.len()).ok_or(Error::TooLarge)?;
        if end > ARENA_CAPACITY {
            return Err(Error::TooLarge);
        }
        self.buf[start..end].copy_from_slice(b);
        self.len = end;
        Ok(Span {
            start: start as u16,
            len: b.len() as u16,
        })
    }
    /// Reserve `n` bytes and let `f` fill them; `f` returns how many it used.
    pub(crate) fn fill(
        &mut self,
        n: usize,
        f: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<Span> {
        let start = self.len;
        let avail = ARENA_CAPACITY - start;
        let n = n.min(avail);
        let used = f(&mut self.buf[start..start + n])?;
        if used > n {
            return Err(Error::TooLarge);
        }
        self.len = start + used;
        Ok(Span {
            start: start as u16,
            len: used as u16,
        })
    }
    pub(crate) fn free(&self) -> usize {
        ARENA_CAPACITY - self.len
    }
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = len.min(self.len)
    }
    pub(crate) fn used(&self) -> usize {
        self.len
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf[..]);
    }
}

// ---------------------------------------------------------------- base64

/// Decode standard base64 (padded, or unpadded as Ruby's lenient reader allows) into the arena.
pub(crate) fn b64_decode_into(a: &mut Arena, src: &str, key: &'static str) -> Result<Span> {
    let src = src.trim();
    let need = src.len() / 4 * 3 + 3;
    if need > a.free() {
        return Err(Error::TooLarge);
    }
    a.fill(need, |dst| {
        if let Ok(out) = Base64::decode(src, dst) {
            return Ok(out.len());
        }
        Base64Unpadded::decode(src, dst)
            .map(|o| o.len())
            .map_err(|_| Error::InvalidMetadata(key))
    })
}

/// Decode base64 into a fixed array; the decoded length must be exactly `N`.
pub(crate) fn b64_decode_fixed<const N: usize>(src: &str, key: &'static str) -> Result<[u8; N]> {
    let src = src.trim();
    let mut buf = [0u8; 64];
    let n = match Base64::decode(src, &mut buf) {
        Ok(o) => o.len(),
        Err(_) => Base64Unpadded::decode(src, &mut buf)
            .map_err(|_| Error::InvalidMetadata(key))?
            .len(),
    };
    if n != N {
        return Err(Error::InvalidMetadata(key));
    }
    let mut out = [0u8; N];
    out.copy_from_slice(&buf[..N]);
    Ok(out)
}

/// Decode base64 of 12 or 16 bytes (an IV).
pub(crate) fn b64_decode_iv(src: &str, key: &'static str) -> Result<([u8; 16], usize)> {
    let mut buf = [0u8; 64];
    let src = src.trim();
    let n = match Base64::decode(src, &mut buf) {
        Ok(o) => o.len(),
        Err(_) => Base64Unpadded::decode(src, &mut buf)
            .map_err(|_| Error::InvalidMetadata(key))?
            .len(),
    };
    if n != 12 && n != 16 {
        return Err(Error::InvalidMetadata(key));
    }
    let mut out = [0u8; 16];
    out[..n].copy_from_slice(&buf[..n]);
    Ok((out, n))
}

/// Encode `src` as standard padded base64 into the arena.
pub(crate) fn b64_encode_into(a: &mut Arena, src: &[u8]) -> Result<Span> {
    let n = Base64::encoded_len(src);
    if n > a.free() {
        return Err(Error::TooLarge);
    }
    a.fill(n, |dst| {
        Base64::encode(src, dst)
            .map(|s| s.len())
            .map_err(|_| Error::TooLarge)
    })
}

// ---------------------------------------------------------------- output sink

/// A byte sink that either counts or writes into a slice.
pub(crate) struct Sink<'a> {
    buf: Option<&'a mut [u8]>,
    pub(crate) len: usize,
}

impl<'a> Sink<'a> {
    pub(crate) fn counter() -> Sink<'static> {
        Sink { buf: None, len: 0 }
    }
    pub(crate) fn slice(buf: &'a mut [u8]) -> Sink<'a> {
        Sink {
            buf: Some(buf),
            len: 0,
        }
    }
    pub(crate) fn put(&mut self, b: &[u8]) {
        if let Some(buf) = self.buf.as_deref_mut() {
            let end = self.len + b.len();
            if end <= buf.len() {
                buf[self.len..end].copy_from_slice(b);
            }
        }
        self.len += b.len();
    }
    /// Write `s` as a JSON string literal (with quotes), escaping as JSON requires.
    pub(crate) fn json_str(&mut self, s: &str) {
        self.put(b"\"");
        let mut start = 0;
        let bytes = s.as_bytes();
        for (i, &c) in bytes.iter().enumerate() {
            let esc: Option<&[u8]> = match c {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0..=0x1f => None,
                _ => {
                    continue;
                }
            };
            self.put(&bytes[start..i]);
            match esc {
                Some(e) => self.put(e),
                None => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.put(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(c >> 4) as usize],
                        HEX[(c & 15) as usize],
                    ]);
                }
            }
            start = i + 1;
        }
        self.put(&bytes[start..]);
        self.put(b"\"");
    }
}

/// Render into `out` with the two-pass contract: count, check, then write.
pub(crate) fn render_into(out: &mut [u8], f: impl Fn(&mut Sink<'_>)) -> Result<usize> {
    let mut c = Sink::counter();
    f(&mut c);
    if c.len > out.len() {
        return Err(Error::BufferTooSmall { required: c.len });
    }
    let mut s = Sink::slice(out);
    f(&mut s);
    Ok(s.len)
}

// ---------------------------------------------------------------- JSON

/// A JSON string as it appears between its quotes, escapes not yet resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JStr<'a>(pub(crate) &'a [u8]);

/// A JSON value in a flat object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JVal<'a> {
    Str(JStr<'a>),
    Num(&'a str),
    Other,
}

impl<'a> JStr<'a> {
    /// The decoded characters. The text was validated when parsed, so this never fails.
    pub(crate) fn chars(self) -> JChars<'a> {
        JChars { s: self.0, i: 0 }
    }
    pub(crate) fn eq_str(self, other: &str) -> bool {
        self.chars().eq(other.chars())
    }
    pub(crate) fn eq_jstr(self, other: JStr<'_>) -> bool {
        self.chars().eq(other.chars())
    }
    /// Decode into the arena as UTF-8.
    pub(crate) fn decode_into(self, a: &mut Arena) -> Result<Span> {
        let n = self.0.len();
        a.fill(n, |dst| {
            let mut i = 0;
            for c in self.chars() {
                let mut tmp = [0u8; 4];
                let e = c.encode_utf8(&mut tmp).as_bytes();
                if i + e.len() > dst.len() {
                    return Err(Error::TooLarge);
                }
                dst[i..i + e.len()].copy_from_slice(e);
                i += e.len();
            }
            Ok(i)
        })
    }
}

/// Iterator over the characters of a validated JSON string body.
#[derive(Debug, Clone)]
pub(crate) struct JChars<'a> {
    s: &'a [u8],
    i: usize,
}

fn hex4(s: &[u8]) -> Option<u32> {
    if s.len() < 4 {
        return None;
    }
    let mut v = 0u32;
    for &c in &s[..4] {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Decode one character of a JSON string body at `i`; returns it and the next index.
fn next_json_char(s: &[u8], i: usize) -> Option<(char, usize)> {
    let c = *s.get(i)?;
    if c == b'\\' {
        let e = *s.get(i + 1)?;
        let ch = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(s.get(i + 2..)?)?;
                if (0xD800..0xDC00).contains(&hi) {
                    if s.get(i + 6) != Some(&b'\\') || s.get(i + 7) != Some(&b'u') {
                        return None;
                    }
                    let lo = hex4(s.get(i + 8..)?)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return Some((char::from_u32(cp)?, i + 12));
                }
                return Some((char::from_u32(hi)?, i + 6));
            }
            _ => return None,
        };
        return Some((ch, i + 2));
    }
    if c < 0x20 {
        return None;
    }
    let w = match c {
        0..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    let chunk = s.get(i..i + w)?;
    let st = core::str::from_utf8(chunk).ok()?;
    Some((st.chars().next()?, i + w))
}

impl Iterator for JChars<'_> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        let (c, n) = next_json_char(self.s, self.i)?;
        self.i = n;
        Some(c)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

const MAX_DEPTH: usize = 16;

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(c) = self.s.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn string(&mut self) -> Option<JStr<'a>> {
        self.ws();
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i + 1;
        let mut i = start;
        loop {
            match self.s.get(i)? {
                b'"' => break,
                _ => {
                    let (_, n) = next_json_char(self.s, i)?;
                    i = n;
                }
            }
        }
        self.i = i + 1;
        Some(JStr(&self.s[start..i]))
    }
    fn number(&mut self) -> Option<&'a str> {
        self.ws();
        let start = self.i;
        while let Some(c) = self.s.get(self.i) {
            if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i == start {
            return None;
        }
        let t = core::str::from_utf8(&self.s[start..self.i]).ok()?;
        valid_json_number(t).then_some(t)
    }
    fn value(&mut self, depth: usize) -> Option<JVal<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match *self.s.get(self.i)? {
            b'"' => self.string().map(JVal::Str),
            b'{' => {
                self.i += 1;
                if self.eat(b'}') {
                    return Some(JVal::Other);
                }
                loop {
                    self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    self.value(depth + 1)?;
                    if self.eat(b'}') {
                        return Some(JVal::Other);
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.eat(b']') {
                    return Some(JVal::Other);
                }
                loop {
                    self.value(depth + 1)?;
                    if self.eat(b']') {
                        return Some(JVal::Other);
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b't' | b'f' | b'n' => {
                for lit in [&b"true"[..], b"false", b"null"] {
                    if self.s[self.i..].starts_with(lit) {
                        self.i += lit.len();
                        return Some(JVal::Other);
                    }
                }
                None
            }
            _ => self.number().map(JVal::Num),
        }
    }
}

/// Parse a JSON object and call `f` for each member, in order. Fails on any syntax error,
/// trailing data, or nesting deeper than 16. Values other than strings and numbers are reported
/// as [`JVal::Other`].
pub(crate) fn json_object<'a>(
    text: &'a [u8],
    mut f: impl FnMut(JStr<'a>, JVal<'a>) -> Result<()>,
    err: Error,
) -> Result<()> {
    let mut p = Parser { s: text, i: 0 };
    if !p.eat(b'{') {
        return Err(err);
    }
    if !p.eat(b'}') {
        loop {
            let k = p.string().ok_or(err)?;
            if !p.eat(b':') {
                return Err(err);
            }
            let v = p.value(1).ok_or(err)?;
            f(k, v)?;
            if p.eat(b'}') {
                break;
            }
            if !p.eat(b',') {
                return Err(err);
            }
        }
    }
    p.ws();
    if p.i != text.len() {
        return Err(err);
    }
    Ok(())
}

/// Validate a JSON object whose members are all strings, with no repeated key.
/// Returns the number of members.
pub(crate) fn validate_string_map(text: &[u8], err: Error) -> Result<usize> {
    let mut n = 0usize;
    json_object(
        text,
        |k, v| {
            if !matches!(v, JVal::Str(_)) {
                return Err(err);
            }
            // Reject repeated keys: quadratic, but maps here are tiny (metadata is ≤ 2 KB).
            let mut seen = 0usize;
            json_object(
                text,
                |k2, _| {
                    if k2.eq_jstr(k) {
                        seen += 1;
                    }
                    Ok(())
                },
                err,
            )?;
            if seen != 1 {
                return Err(err);
            }
            n += 1;
            Ok(())
        },
        err,
    )?;
    Ok(n)
}

/// Iterate over the members of a validated string map.
pub(crate) fn string_map_entries<'a>(
    text: &'a [u8],
    mut f: impl FnMut(JStr<'a>, JStr<'a>) -> bool,
) {
    let _ = json_object(
        text,
        |k, v| {
            if let JVal::Str(v) = v
                && !f(k, v)
            {
                return Err(Error::InvalidState);
            }
            Ok(())
        },
        Error::InvalidState,
    );
}

// ---------------------------------------------------------------- RFC 2047

/// Whether `v` looks like one or more RFC 2047 encoded words.
pub(crate) fn is_encoded_word(v: &str) -> bool {
    let t = v.trim();
    t.starts_with("=?") && t.ends_with("?=")
}

fn hexval(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Decode RFC 2047 encoded words into the arena, then undo S3's double encoding: if every
/// character is ≤ U+00FF and those bytes form UTF-8, the result is that UTF-8 (S3EC-FORMAT §1.1).
pub(crate) fn rfc2047_decode_into(a: &mut Arena, v: &str, key: &'static str) -> Result<Span> {
    let err = Error::InvalidMetadata(key);
    if v.len() > a.free() {
        return Err(Error::TooLarge);
    }
    let mark = a.used();
    // Pass 1: raw decoded bytes of every word, with the charset of the words (all must agree).
    let mut latin1 = None::<bool>;
    let raw = a.fill(v.len(), |dst| {
        let mut o = 0;
        let mut rest = v.trim();
        while !rest.is_empty() {
            let body = rest.strip_prefix("=?").ok_or(err)?;
            let q1 = body.find('?').ok_or(err)?;
            let charset = &body[..q1];
            let charset = charset.split('*').next().unwrap_or("");
            let after = &body[q1 + 1..];
            let enc = after.as_bytes().first().copied().ok_or(err)?;
            if after.as_bytes().get(1) != Some(&b'?') {
                return Err(err);
            }
            let text_and_rest = &after[2..];
            let end = text_and_rest.find("?=").ok_or(err)?;
            let text = &text_and_rest[..end];
            let l1 = if charset.eq_ignore_ascii_case("utf-8")
                || charset.eq_ignore_ascii_case("us-ascii")
            {
                false
            } else if charset.eq_ignore_ascii_case("iso-8859-1")
                || charset.eq_ignore_ascii_case("latin1")
            {
                true
            } else {
                return Err(err);
            };
            if *latin1.get_or_insert(l1) != l1 {
                return Err(err);
            }
            match enc {
                b'B' | b'b' => {
                    let n = match Base64::decode(text, &mut dst[o..]) {
                        Ok(out) => out.len(),
                        Err(_) => Base64Unpadded::decode(text, &mut dst[o..])
                            .map_err(|_| err)?
                            .len(),
                    };
                    o += n;
                }
                b'Q' | b'q' => {
                    let t = text.as_bytes();
                    let mut i = 0;
                    while i < t.len() {
                        let c = match t[i] {
                            b'_' => b' ',
                            b'=' => {
                                let h = hexval(*t.get(i + 1).ok_or(err)?).ok_or(err)?;
                                let l = hexval(*t.get(i + 2).ok_or(err)?).ok_or(err)?;
                                i += 2;
                                h * 16 + l
                            }
                            c => c,
                        };
                        *dst.get_mut(o).ok_or(Error::TooLarge)? = c;
                        o += 1;
                        i += 1;
                    }
                }
                _ => return Err(err),
            }
            rest = text_and_rest[end + 2..].trim_start();
        }
        Ok(o)
    })?;
    let latin1 = latin1.unwrap_or(false);
    // Pass 2: the characters of the decoded string. For UTF-8 words they must be valid UTF-8.
    if !latin1 && core::str::from_utf8(a.get(raw)).is_err() {
        a.truncate(mark);
        return Err(err);
    }
    let all_small = latin1 || a.str(raw).chars().all(|c| (c as u32) <= 0xff);
    if all_small {
        // Map each character to its byte value, in place (never longer than the source), and keep
        // the result if it is UTF-8: S3's double encoding undone.
        let n = raw.len();
        let mut tmp = [0u8; 2048];
        if n > tmp.len() {
            a.truncate(mark);
            return Err(Error::TooLarge);
        }
        let mut o = 0;
        if latin1 {
            tmp[..n].copy_from_slice(a.get(raw));
            o = n;
        } else {
            for c in a.str(raw).chars() {
                tmp[o] = c as u32 as u8;
                o += 1;
            }
        }
        if core::str::from_utf8(&tmp[..o]).is_ok() {
            a.truncate(mark);
            return a.push(&tmp[..o]);
        }
        if latin1 {
            // Latin-1 text that is not double-encoded UTF-8: re-encode each byte as a character.
            a.truncate(mark);
            let mut buf = [0u8; 4096];
            let mut w = 0;
            for &b in &tmp[..o] {
                let mut t = [0u8; 4];
                let e = (b as char).encode_utf8(&mut t).as_bytes();
                buf[w..w + e.len()].copy_from_slice(e);
                w += e.len();
            }
            return a.push(&buf[..w]);
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_map() {
        let t = br#" { "a" : "b\u00e9\n", "c\"":"" } "#;
        assert_eq!(validate_string_map(t, Error::InvalidState), Ok(2));
        assert!(validate_string_map(br#"{"a":"b","a":"c"}"#, Error::InvalidState).is_err());
        assert!(validate_string_map(br#"{"a":1}"#, Error::InvalidState).is_err());
        assert!(validate_string_map(br#"{"a":"b"} x"#, Error::InvalidState).is_err());
        assert!(validate_string_map(br#"{"a":"\ud800"}"#, Error::InvalidState).is_err());
        let mut got = 0;
        string_map_entries(t, |k, v| {
            if k.eq_str("a") {
                assert!(v.eq_str("b\u{e9}\n"));
                got += 1;
            }
            true
        });
        assert_eq!(got, 1);
    }

    #[test]
    fn rfc2047() {
        let mut a = Arena::new();
        // "é" as UTF-8 bytes C3 A9, each taken as a Latin-1 char and UTF-8 encoded again: S3's
        // double encoding.
        let s = rfc2047_decode_into(&mut a, "=?UTF-8?B?w4PCqQ==?=", "k").unwrap();
        assert_eq!(a.str(s), "é");
        let s = rfc2047_decode_into(&mut a, "=?UTF-8?Q?caf=C3=A9_x?=", "k").unwrap();
        assert_eq!(a.str(s), "café x");
        assert!(rfc2047_decode_into(&mut a, "=?UTF-8?X?abc?=", "k").is_err());
        assert!(rfc2047_decode_into(&mut a, "=?koi8?B?abc?=", "k").is_err());
    }
}

/// RFC 8259 number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn valid_json_number(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - s
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod number_tests {
    #[test]
    fn json_numbers() {
        for ok in ["0", "128", "-1", "1.5", "1e9", "1E+2", "-0.25e-3"] {
            assert!(super::valid_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "1-2e+e", "--", "+1", "1e+"] {
            assert!(!super::valid_json_number(bad), "{bad}");
        }
    }
}

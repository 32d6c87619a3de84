//! A strict flat-JSON reader and writer without an allocator: the instruction file, the
//! materials description and the encryption context.

use super::arena::{Arena, Span};
use crate::error::{Error, Result};

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
                return Err(Error::Internal("json map walk stopped"));
            }
            Ok(())
        },
        Error::Internal("json map walk stopped"),
    );
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
mod tests {
    use super::*;

    #[test]
    fn json_string_map() {
        let t = br#" { "a" : "b\u00e9\n", "c\"":"" } "#;
        assert_eq!(validate_string_map(t, Error::InvalidMetadata("t")), Ok(2));
        assert!(validate_string_map(br#"{"a":"b","a":"c"}"#, Error::InvalidMetadata("t")).is_err());
        assert!(validate_string_map(br#"{"a":1}"#, Error::InvalidMetadata("t")).is_err());
        assert!(validate_string_map(br#"{"a":"b"} x"#, Error::InvalidMetadata("t")).is_err());
        assert!(validate_string_map(br#"{"a":"\ud800"}"#, Error::InvalidMetadata("t")).is_err());
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
    fn json_numbers() {
        for ok in ["0", "128", "-1", "1.5", "1e9", "1E+2", "-0.25e-3"] {
            assert!(valid_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "1-2e+e", "--", "+1", "1e+"] {
            assert!(!valid_json_number(bad), "{bad}");
        }
    }
}

//! RFC 2047 encoded words, as S3 returns non-ASCII user metadata.

use super::arena::{Arena, Span};
use crate::error::{Error, Result};
use base64ct::{Base64, Base64Unpadded, Encoding};

/// Whether `v` looks like one or more RFC 2047 encoded words.
pub(crate) fn is_encoded_word(v: &str) -> bool {
    let t = v.trim();
    t.starts_with("=?") && t.ends_with("?=")
}

fn hexval(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Decode RFC 2047 encoded words into the arena, then undo S3's double encoding: if every
/// character is ≤ U+00FF and those bytes form UTF-8, the result is that UTF-8 (the AWS S3EC
/// specification, `metadata-strategy.md`; the Java and Go clients decode the same way).
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

//! Constant-time standard base64 (padded; unpadded accepted on read, as Ruby writes it) into
//! and out of the envelope storage.

use super::arena::{Arena, Span};
use crate::error::{Error, Result};
use base64ct::{Base64, Base64Unpadded, Encoding};

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

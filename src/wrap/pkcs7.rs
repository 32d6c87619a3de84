//! PKCS#7 unpadding, shared by the legacy AES-ECB wrap and CBC content.

use subtle::ConstantTimeEq;

/// PKCS#7 padding check over the last block, without early exit on the padding bytes.
/// Returns the unpadded length.
pub(crate) fn unpad_pkcs7(b: &[u8]) -> Option<usize> {
    if b.is_empty() || !b.len().is_multiple_of(16) {
        return None;
    }
    let last = b[b.len() - 1];
    let p = last as usize;
    let mut bad = subtle::Choice::from((p == 0 || p > 16) as u8);
    let tail = &b[b.len() - 16..];
    for (i, &x) in tail.iter().enumerate() {
        // Byte i (from the end, 1-based: 16 - i) must equal `last` if it is within the padding.
        let in_pad = subtle::Choice::from(((16 - i) <= p) as u8);
        bad |= in_pad & !x.ct_eq(&last);
    }
    if bool::from(bad) {
        None
    } else {
        Some(b.len() - p)
    }
}

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

#[cfg(test)]
mod tests {
    use super::unpad_pkcs7;

    #[test]
    fn only_whole_blocks_with_consistent_padding_unpad() {
        assert_eq!(unpad_pkcs7(&[]), None);
        assert_eq!(unpad_pkcs7(&[1; 17]), None);
        assert_eq!(unpad_pkcs7(&[1; 15]), None);
        assert_eq!(unpad_pkcs7(&[16; 16]), Some(0));
        assert_eq!(unpad_pkcs7(&[1; 32]), Some(31));
        let mut b = [7u8; 32];
        b[31] = 3;
        assert_eq!(unpad_pkcs7(&b), None, "padding bytes differ");
        b[29..].fill(3);
        assert_eq!(unpad_pkcs7(&b), Some(29));
        for last in [0u8, 17, 255] {
            assert_eq!(unpad_pkcs7(&[last; 32]), None, "{last}");
        }
    }
}

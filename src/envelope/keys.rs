//! The envelope's names, each written once: the metadata keys (without `x-amz-meta-`, as in the
//! spec), the reserved encryption-context keys, the instruction-file suffix and marker, and
//! [`FIELDS`], the one table that says where each key is stored.

/// V1: base64 of the wrapped data key.
pub const KEY_V1: &str = "x-amz-key";
/// V2: base64 of the wrapped data key.
pub const KEY_V2: &str = "x-amz-key-v2";
/// V1/V2: base64 of the content IV.
pub const IV: &str = "x-amz-iv";
/// V1/V2: materials description (or, for KMS, the encryption context) as JSON.
pub const MATDESC: &str = "x-amz-matdesc";
/// V2: key-wrapping algorithm.
pub const WRAP_ALG: &str = "x-amz-wrap-alg";
/// V2: content-encryption algorithm.
pub const CEK_ALG: &str = "x-amz-cek-alg";
/// V2: GCM tag length in bits (always 128).
pub const TAG_LEN: &str = "x-amz-tag-len";
/// V1/V2: plaintext length.
pub const UNENCRYPTED_LEN: &str = "x-amz-unencrypted-content-length";
/// V3: content-encryption suite id (`115`).
pub const V3_CONTENT: &str = "x-amz-c";
/// V3: base64 of the wrapped data key.
pub const V3_KEY: &str = "x-amz-3";
/// V3: compressed wrapping algorithm (`02`, `12`, `22`).
pub const V3_WRAP: &str = "x-amz-w";
/// V3: materials description JSON (AES and RSA wraps).
pub const V3_MATDESC: &str = "x-amz-m";
/// V3: KMS encryption context JSON.
pub const V3_CONTEXT: &str = "x-amz-t";
/// V3: base64 of the 28-byte key commitment.
pub const V3_COMMITMENT: &str = "x-amz-d";
/// V3: base64 of the 28-byte message id.
pub const V3_MESSAGE_ID: &str = "x-amz-i";

/// The reserved encryption-context key binding the content algorithm.
pub const EC_CEK_ALG: &str = "aws:x-amz-cek-alg";
/// Legacy `kms` objects name the KMS key in their context under this key.
pub const EC_KMS_CMK_ID: &str = "kms_cmk_id";

/// The default instruction-file suffix: the instruction file of `key` is `key.instruction`.
pub const INSTRUCTION_SUFFIX: &str = ".instruction";
/// The user-metadata key (without `x-amz-meta-`, empty value) that marks an object as an
/// instruction file, as the AWS SDKs write it.
pub const INSTRUCTION_FILE_MARKER: &str = "x-amz-crypto-instr-file";
/// The prefix S3 puts before user-metadata keys in HTTP headers.
pub const USER_METADATA_PREFIX: &str = "x-amz-meta-";

/// Where a key of the envelope is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Home {
    /// Key material: in the object metadata, or in the instruction file with instruction-file
    /// placement.
    KeyMaterial,
    /// Always in the object metadata; readers also accept it from an instruction file (J1 and
    /// Ruby wrote the V1/V2 plaintext length there).
    Object,
    /// Always in the object metadata, and never taken from an instruction file: the V3 keys
    /// that bind the object (`x-amz-c`, `x-amz-d`, `x-amz-i`).
    ObjectOnly,
}

/// Which format versions a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Versions {
    /// V1 only.
    V1,
    /// V2 only.
    V2,
    /// V1 and V2.
    V1V2,
    /// V3 only.
    V3,
}

/// The placement table: every envelope key, its format versions and its [`Home`], in the order
/// they are written. Parsing, metadata rendering and instruction-file rendering all read it.
pub const FIELDS: [(&str, Versions, Home); 15] = [
    (KEY_V1, Versions::V1, Home::KeyMaterial),
    (KEY_V2, Versions::V2, Home::KeyMaterial),
    (IV, Versions::V1V2, Home::KeyMaterial),
    (MATDESC, Versions::V1V2, Home::KeyMaterial),
    (WRAP_ALG, Versions::V2, Home::KeyMaterial),
    (CEK_ALG, Versions::V2, Home::KeyMaterial),
    (TAG_LEN, Versions::V2, Home::KeyMaterial),
    (UNENCRYPTED_LEN, Versions::V1V2, Home::Object),
    (V3_CONTENT, Versions::V3, Home::ObjectOnly),
    (V3_KEY, Versions::V3, Home::KeyMaterial),
    (V3_WRAP, Versions::V3, Home::KeyMaterial),
    (V3_MATDESC, Versions::V3, Home::KeyMaterial),
    (V3_CONTEXT, Versions::V3, Home::KeyMaterial),
    (V3_COMMITMENT, Versions::V3, Home::ObjectOnly),
    (V3_MESSAGE_ID, Versions::V3, Home::ObjectOnly),
];

/// Every envelope key, in [`FIELDS`] order.
pub const ALL: [&str; 15] = {
    let mut out = [""; 15];
    let mut i = 0;
    while i < FIELDS.len() {
        out[i] = FIELDS[i].0;
        i += 1;
    }
    out
};

/// Strip an optional `x-amz-meta-` prefix (any case) and surrounding blanks.
pub fn bare(name: &str) -> &str {
    let k = name.trim();
    let p = USER_METADATA_PREFIX.len();
    if k.len() >= p && k.as_bytes()[..p].eq_ignore_ascii_case(USER_METADATA_PREFIX.as_bytes()) {
        &k[p..]
    } else {
        k
    }
}

/// The position of `name` in [`FIELDS`]: case-insensitive, with or without `x-amz-meta-`.
pub fn index_of(name: &str) -> Option<usize> {
    let k = bare(name);
    ALL.iter().position(|n| n.eq_ignore_ascii_case(k))
}

/// Whether `name` is an envelope key (any case, with or without `x-amz-meta-`), so that a
/// caller's own user metadata can be told apart from the envelope.
pub fn is_envelope_key(name: &str) -> bool {
    index_of(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_envelope_key("X-Amz-Meta-X-Amz-Key-V2"));
        assert!(is_envelope_key(" x-amz-d "));
        assert!(!is_envelope_key("x-amz-meta-purpose"));
        assert!(!is_envelope_key(INSTRUCTION_FILE_MARKER));
        assert_eq!(index_of("x-amz-meta-x-amz-i"), Some(14));
        assert_eq!(ALL[0], KEY_V1);
    }
}

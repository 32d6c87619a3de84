//! The envelope model: format versions, algorithms, metadata keys, and parse/render of the
//! S3 user-metadata map and the instruction-file JSON.

use crate::encoding::{base64, json, rfc2047};
use crate::error::{Error, Result};
use crate::key_commitment::COMMIT_LEN;
use crate::policy::{CommitmentPolicy, DecryptPolicy};
use json::{JVal, Sink};
use storage::{Arena, Span};

pub(crate) mod storage;
pub use storage::ARENA_CAPACITY;

/// Metadata key names, written without the `x-amz-meta-` prefix, as in the spec.
pub mod keys {
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
    /// The default instruction-file suffix.
    pub const INSTRUCTION_SUFFIX: &str = ".instruction";
}

use keys::*;

/// S3EC format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatVersion {
    /// `x-amz-key`: AES-CBC content, AES-ECB or RSA PKCS#1 v1.5 key wraps. Read only.
    V1,
    /// `x-amz-key-v2`: AES-GCM (or legacy CBC) content, named wraps.
    V2,
    /// `x-amz-3`: key-committing AES-GCM, suite 115.
    V3,
}

/// Content encryption algorithm (algorithm suite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentAlgorithm {
    /// 0x0070: AES-CBC with PKCS#7 padding, 16-byte IV. Legacy, decrypt only, unauthenticated.
    AesCbc,
    /// 0x0072: AES-256-GCM, 12-byte random IV, no AAD (format V2).
    AesGcm,
    /// 0x0073: AES-256-GCM with HKDF-SHA-512 key derivation and a 28-byte key commitment (V3).
    AesGcmCommitting,
}

impl ContentAlgorithm {
    /// The suite id from the AWS algorithm-suite table.
    pub const fn suite_id(self) -> u16 {
        match self {
            ContentAlgorithm::AesCbc => 0x0070,
            ContentAlgorithm::AesGcm => 0x0072,
            ContentAlgorithm::AesGcmCommitting => 0x0073,
        }
    }
    /// Whether the suite commits to its key.
    pub const fn is_committing(self) -> bool {
        matches!(self, ContentAlgorithm::AesGcmCommitting)
    }
    /// Tag bytes appended to the ciphertext.
    pub const fn tag_len(self) -> u64 {
        match self {
            ContentAlgorithm::AesCbc => 0,
            _ => 16,
        }
    }
}

/// The exact content-cipher name stored on the object; wraps bind to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CekName {
    /// V1 objects carry no name.
    None,
    CbcPkcs5,
    CbcPkcs7,
    Gcm,
    Suite115,
}

impl CekName {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            CekName::None => "",
            CekName::CbcPkcs5 => "AES/CBC/PKCS5Padding",
            CekName::CbcPkcs7 => "AES/CBC/PKCS7Padding",
            CekName::Gcm => "AES/GCM/NoPadding",
            CekName::Suite115 => "115",
        }
    }
}

/// Key-wrapping algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrapAlgorithm {
    /// `AES/GCM` (V3 `02`): AES-GCM under the master key, AAD = content-cipher id, 60-byte EDK.
    AesGcm,
    /// `RSA-OAEP-SHA1` (V3 `22`): OAEP of `len ‖ key ‖ content-cipher id`.
    RsaOaepSha1,
    /// `kms+context` (V3 `12`): KMS with the encryption context bound to the content cipher.
    KmsContext,
    /// Legacy V1 `x-amz-key`: AES-ECB/PKCS#7 under an AES master key, or RSA PKCS#1 v1.5.
    V1Legacy,
    /// Legacy `AESWrap` (RFC 3394).
    AesWrap,
    /// Legacy `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` of the raw key.
    RsaOaepSha256,
    /// Legacy `kms`: the materials description is the KMS encryption context.
    Kms,
}

impl WrapAlgorithm {
    /// The V2 `x-amz-wrap-alg` name (empty for V1).
    pub const fn v2_name(self) -> &'static str {
        match self {
            WrapAlgorithm::AesGcm => "AES/GCM",
            WrapAlgorithm::RsaOaepSha1 => "RSA-OAEP-SHA1",
            WrapAlgorithm::KmsContext => "kms+context",
            WrapAlgorithm::V1Legacy => "",
            WrapAlgorithm::AesWrap => "AESWrap",
            WrapAlgorithm::RsaOaepSha256 => "RSA/ECB/OAEPWithSHA-256AndMGF1Padding",
            WrapAlgorithm::Kms => "kms",
        }
    }
    /// The V3 `x-amz-w` code, for the three wraps V3 allows.
    pub const fn v3_code(self) -> Option<&'static str> {
        match self {
            WrapAlgorithm::AesGcm => Some("02"),
            WrapAlgorithm::KmsContext => Some("12"),
            WrapAlgorithm::RsaOaepSha1 => Some("22"),
            _ => None,
        }
    }
    /// Whether only `legacy_wrapping_algorithms` lets this wrap be read.
    pub const fn is_legacy(self) -> bool {
        matches!(
            self,
            WrapAlgorithm::V1Legacy
                | WrapAlgorithm::AesWrap
                | WrapAlgorithm::RsaOaepSha256
                | WrapAlgorithm::Kms
        )
    }
    /// Whether the data key comes from KMS.
    pub const fn is_kms(self) -> bool {
        matches!(self, WrapAlgorithm::Kms | WrapAlgorithm::KmsContext)
    }
}

/// Where the key material of the envelope lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Placement {
    /// Everything in the object's user metadata (the default).
    #[default]
    ObjectMetadata,
    /// Key material in a separate instruction-file object (`<key>.instruction`).
    InstructionFile,
}

// ---------------------------------------------------------------- raw slots

const KNOWN: [&str; 15] = [
    KEY_V1,
    KEY_V2,
    IV,
    MATDESC,
    WRAP_ALG,
    CEK_ALG,
    TAG_LEN,
    UNENCRYPTED_LEN,
    V3_CONTENT,
    V3_KEY,
    V3_WRAP,
    V3_MATDESC,
    V3_CONTEXT,
    V3_COMMITMENT,
    V3_MESSAGE_ID,
];
const S_KEY: usize = 0;
const S_KEY_V2: usize = 1;
const S_IV: usize = 2;
const S_MATDESC: usize = 3;
const S_WRAP: usize = 4;
const S_CEK: usize = 5;
const S_TAG: usize = 6;
const S_LEN: usize = 7;
const S_C: usize = 8;
const S_3: usize = 9;
const S_W: usize = 10;
const S_M: usize = 11;
const S_T: usize = 12;
const S_D: usize = 13;
const S_I: usize = 14;
const V12_SLOTS: [usize; 8] = [
    S_KEY, S_KEY_V2, S_IV, S_MATDESC, S_WRAP, S_CEK, S_TAG, S_LEN,
];

/// Strip an optional `x-amz-meta-` prefix and find the known key, case-insensitively.
fn known_index(key: &str) -> Option<usize> {
    let k = key.trim();
    let k = if k.len() >= 11 && k.as_bytes()[..11].eq_ignore_ascii_case(b"x-amz-meta-") {
        &k[11..]
    } else {
        k
    };
    KNOWN.iter().position(|n| n.eq_ignore_ascii_case(k))
}

#[derive(Default, Clone, Copy)]
struct Slots {
    v: [Option<Span>; 15],
}

impl Slots {
    fn has(&self, i: usize) -> bool {
        self.v[i].is_some()
    }
    fn any(&self, list: &[usize]) -> bool {
        list.iter().any(|&i| self.has(i))
    }
}

fn collect_metadata<I, K, V>(a: &mut Arena, metadata: I) -> Result<Slots>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut s = Slots::default();
    for (k, v) in metadata {
        let Some(i) = known_index(k.as_ref()) else {
            continue;
        };
        let v = v.as_ref();
        if s.v[i].is_some() {
            return Err(Error::AmbiguousFormat);
        }
        if v.trim().is_empty() {
            // Go v4 may store empty values; treat them as absent.
            continue;
        }
        let span = if rfc2047::is_encoded_word(v) {
            rfc2047::rfc2047_decode_into(a, v, KNOWN[i])?
        } else {
            a.push(v.as_bytes())?
        };
        s.v[i] = Some(span);
    }
    Ok(s)
}

fn collect_instruction_file(a: &mut Arena, json: &[u8]) -> Result<Slots> {
    let mut s = Slots::default();
    let err = Error::InvalidMetadata("instruction file");
    // The arena must not be borrowed inside the callback while `json` is; collect spans of
    // `json` first, then decode.
    let mut found: [Option<(usize, JVal<'_>)>; 15] = [None; 15];
    let mut dup = false;
    json::json_object(
        json,
        |k, v| {
            let mut kb = [0u8; 40];
            let mut n = 0;
            for c in k.chars() {
                if n >= kb.len() || !c.is_ascii() {
                    return Ok(());
                }
                kb[n] = c as u8;
                n += 1;
            }
            let ks = core::str::from_utf8(&kb[..n]).unwrap_or("");
            if let Some(i) = known_index(ks) {
                if found[i].is_some() {
                    dup = true;
                }
                found[i] = Some((i, v));
            }
            Ok(())
        },
        err,
    )?;
    if dup {
        return Err(Error::AmbiguousFormat);
    }
    for (i, f) in found.iter().enumerate() {
        let Some((_, v)) = f else { continue };
        let span = match v {
            JVal::Str(js) => {
                let sp = js.decode_into(a)?;
                if a.get(sp).iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                sp
            }
            JVal::Num(n) if i == S_TAG || i == S_LEN => a.push(n.as_bytes())?,
            _ => return Err(Error::InvalidMetadata(KNOWN[i])),
        };
        s.v[i] = Some(span);
    }
    Ok(s)
}

// ---------------------------------------------------------------- envelope

/// A parsed (or newly built) S3EC envelope: everything but the body.
///
/// It owns its decoded values in fixed storage ([`crate::ARENA_CAPACITY`] bytes), so it needs no
/// allocator and borrows nothing from the input.
#[derive(Clone)]
pub struct Envelope {
    pub(crate) version: FormatVersion,
    pub(crate) content: ContentAlgorithm,
    pub(crate) cek: CekName,
    pub(crate) wrap: WrapAlgorithm,
    pub(crate) placement: Placement,
    pub(crate) iv: [u8; 16],
    pub(crate) iv_len: u8,
    pub(crate) message_id: [u8; COMMIT_LEN],
    pub(crate) commitment: [u8; COMMIT_LEN],
    pub(crate) edk: Span,
    /// Materials description (V1/V2 `x-amz-matdesc`, V3 `x-amz-m`); for V1/V2 KMS wraps it is
    /// the encryption context.
    pub(crate) matdesc: Option<Span>,
    /// V3 `x-amz-t`.
    pub(crate) context: Option<Span>,
    pub(crate) unencrypted_len: Option<u64>,
    // Rendered text, for metadata output.
    pub(crate) edk_b64: Span,
    pub(crate) iv_b64: Span,
    pub(crate) mid_b64: Span,
    pub(crate) commit_b64: Span,
    pub(crate) len_text: Span,
    pub(crate) arena: Arena,
}

impl core::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Envelope")
            .field("version", &self.version)
            .field("content", &self.content)
            .field("wrap", &self.wrap)
            .field("placement", &self.placement)
            .field("encrypted_data_key_len", &self.edk.len())
            .field("materials_description", &self.materials_description())
            .field("encryption_context", &self.encryption_context())
            .field("unencrypted_content_length", &self.unencrypted_len)
            .finish()
    }
}

fn parse_u64(a: &Arena, s: Span, key: &'static str) -> Result<u64> {
    let t = a.str(s).trim();
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidMetadata(key));
    }
    t.parse::<u64>().map_err(|_| Error::InvalidMetadata(key))
}

impl Envelope {
    /// Whether the object metadata alone holds no envelope, so that the instruction file
    /// (`<key>` + suffix) must be fetched before [`Envelope::parse`] can succeed.
    ///
    /// Returns `Ok(false)` when the metadata holds a complete V1/V2/V3 envelope, `Ok(true)` when it
    /// holds none or only the V3 object-side keys (`x-amz-c`, `x-amz-d`, `x-amz-i`).
    pub fn needs_instruction_file<I, K, V>(metadata: I) -> Result<bool>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut s = Slots::default();
        for (k, v) in metadata {
            if let Some(i) = known_index(k.as_ref()) {
                if s.v[i].is_some() {
                    return Err(Error::AmbiguousFormat);
                }
                if !v.as_ref().trim().is_empty() {
                    s.v[i] = Some(Span::default());
                }
            }
        }
        Ok(!(s.has(S_KEY) || s.has(S_KEY_V2) || s.has(S_3)))
    }

    /// Parse an envelope from the object's user metadata (keys with or without `x-amz-meta-`,
    /// any case; RFC 2047 encoded values decoded) and, if the metadata holds no key material,
    /// the instruction file's bytes. The policy's gates are applied before any key work.
    pub fn parse<I, K, V>(
        metadata: I,
        instruction_file: Option<&[u8]>,
        policy: &DecryptPolicy,
    ) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let env = Self::parse_unchecked(metadata, instruction_file)?;
        env.check_policy(policy)?;
        Ok(env)
    }

    /// Parse without applying any policy gate (for inspection tools). Never decrypt with an
    /// envelope from here without calling [`Envelope::check_policy`].
    pub fn parse_unchecked<I, K, V>(metadata: I, instruction_file: Option<&[u8]>) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut a = Arena::new();
        let meta = collect_metadata(&mut a, metadata)?;
        let n_exclusive = [S_KEY, S_KEY_V2, S_3]
            .iter()
            .filter(|&&i| meta.has(i))
            .count();
        if n_exclusive > 1 {
            return Err(Error::AmbiguousFormat);
        }
        const V3_ALL: [usize; 7] = [S_C, S_3, S_W, S_M, S_T, S_D, S_I];
        const V3_OBJECT: [usize; 3] = [S_C, S_D, S_I];
        const V3_INSTR: [usize; 4] = [S_3, S_W, S_M, S_T];
        if meta.has(S_KEY) || meta.has(S_KEY_V2) {
            if meta.any(&V3_ALL) {
                return Err(Error::AmbiguousFormat);
            }
            return Self::build_v12(a, meta, Placement::ObjectMetadata);
        }
        if meta.has(S_3) {
            if meta.any(&V12_SLOTS) {
                return Err(Error::AmbiguousFormat);
            }
            return Self::build_v3(a, meta, meta, Placement::ObjectMetadata);
        }
        if meta.any(&V3_OBJECT) {
            if meta.any(&V12_SLOTS) || meta.any(&V3_INSTR) {
                return Err(Error::AmbiguousFormat);
            }
            let json = instruction_file.ok_or(Error::InstructionFileRequired)?;
            let ins = collect_instruction_file(&mut a, json)?;
            if ins.any(&V3_OBJECT) {
                return Err(Error::ForbiddenInstructionFileKey);
            }
            if ins.any(&V12_SLOTS) {
                return Err(Error::AmbiguousFormat);
            }
            return Self::build_v3(a, meta, ins, Placement::InstructionFile);
        }
        let json = instruction_file.ok_or(Error::InstructionFileRequired)?;
        let ins = collect_instruction_file(&mut a, json)?;
        let n_exclusive = [S_KEY, S_KEY_V2, S_3]
            .iter()
            .filter(|&&i| ins.has(i))
            .count();
        if n_exclusive > 1 {
            return Err(Error::AmbiguousFormat);
        }
        if ins.has(S_KEY) || ins.has(S_KEY_V2) {
            if ins.any(&V3_ALL) {
                return Err(Error::AmbiguousFormat);
            }
            let mut env = Self::build_v12(a, ins, Placement::InstructionFile)?;
            // J1 and Ruby keep the plaintext length on the object itself.
            if env.unencrypted_len.is_none()
                && let Some(s) = meta.v[S_LEN]
            {
                env.unencrypted_len = Some(parse_u64(&env.arena, s, UNENCRYPTED_LEN)?);
                env.len_text = s;
            }
            return Ok(env);
        }
        if ins.any(&V3_OBJECT) {
            return Err(Error::ForbiddenInstructionFileKey);
        }
        if ins.has(S_3) {
            return Err(Error::MissingMetadata(V3_CONTENT));
        }
        Err(Error::NotEncrypted)
    }

    fn empty(a: Arena, version: FormatVersion, placement: Placement) -> Self {
        Envelope {
            version,
            content: ContentAlgorithm::AesGcm,
            cek: CekName::None,
            wrap: WrapAlgorithm::AesGcm,
            placement,
            iv: [0; 16],
            iv_len: 0,
            message_id: [0; COMMIT_LEN],
            commitment: [0; COMMIT_LEN],
            edk: Span::default(),
            matdesc: None,
            context: None,
            unencrypted_len: None,
            edk_b64: Span::default(),
            iv_b64: Span::default(),
            mid_b64: Span::default(),
            commit_b64: Span::default(),
            len_text: Span::default(),
            arena: a,
        }
    }

    fn json_map(a: &Arena, s: Option<Span>, key: &'static str) -> Result<()> {
        if let Some(s) = s {
            json::validate_string_map(a.get(s), Error::InvalidMetadata(key))?;
        }
        Ok(())
    }

    fn build_v12(a: Arena, s: Slots, placement: Placement) -> Result<Self> {
        let v1 = s.has(S_KEY);
        let mut e = Self::empty(
            a,
            if v1 {
                FormatVersion::V1
            } else {
                FormatVersion::V2
            },
            placement,
        );
        let iv_span = s.v[S_IV].ok_or(Error::MissingMetadata(IV))?;
        let (iv, n) = base64::b64_decode_iv(e.arena.str(iv_span), IV)?;
        e.iv = iv;
        e.iv_len = n as u8;
        if v1 {
            e.content = ContentAlgorithm::AesCbc;
            e.cek = CekName::None;
            e.wrap = WrapAlgorithm::V1Legacy;
            // A V1 object names no algorithms; if it does, they must agree with V1.
            if let Some(c) = s.v[S_CEK]
                && !matches!(
                    e.arena.str(c),
                    "AES/CBC/PKCS5Padding" | "AES/CBC/PKCS7Padding"
                )
            {
                return Err(Error::AmbiguousFormat);
            }
            if s.has(S_WRAP) {
                return Err(Error::AmbiguousFormat);
            }
        } else {
            let cek = s.v[S_CEK].ok_or(Error::MissingMetadata(CEK_ALG))?;
            (e.content, e.cek) = match e.arena.str(cek).trim() {
                "AES/GCM/NoPadding" => (ContentAlgorithm::AesGcm, CekName::Gcm),
                "AES/CBC/PKCS5Padding" => (ContentAlgorithm::AesCbc, CekName::CbcPkcs5),
                "AES/CBC/PKCS7Padding" => (ContentAlgorithm::AesCbc, CekName::CbcPkcs7),
                _ => return Err(Error::UnsupportedSuite),
            };
            let wrap = s.v[S_WRAP].ok_or(Error::MissingMetadata(WRAP_ALG))?;
            e.wrap = match e.arena.str(wrap).trim() {
                "AES/GCM" => WrapAlgorithm::AesGcm,
                "RSA-OAEP-SHA1" => WrapAlgorithm::RsaOaepSha1,
                "kms+context" => WrapAlgorithm::KmsContext,
                "AESWrap" => WrapAlgorithm::AesWrap,
                "RSA/ECB/OAEPWithSHA-256AndMGF1Padding" => WrapAlgorithm::RsaOaepSha256,
                "kms" => WrapAlgorithm::Kms,
                _ => return Err(Error::UnsupportedWrap),
            };
        }
        match (e.content, e.iv_len) {
            (ContentAlgorithm::AesCbc, 16) | (ContentAlgorithm::AesGcm, 12) => {}
            _ => return Err(Error::InvalidMetadata(IV)),
        }
        if let Some(t) = s.v[S_TAG]
            && e.arena.str(t).trim() != "128"
        {
            return Err(Error::InvalidMetadata(TAG_LEN));
        }
        if let Some(l) = s.v[S_LEN] {
            e.unencrypted_len = Some(parse_u64(&e.arena, l, UNENCRYPTED_LEN)?);
            e.len_text = l;
        }
        let edk_src =
            s.v[if v1 { S_KEY } else { S_KEY_V2 }].ok_or(Error::MissingMetadata(KEY_V2))?;
        e.set_edk_from_b64(edk_src, if v1 { KEY_V1 } else { KEY_V2 })?;
        e.matdesc = s.v[S_MATDESC];
        Self::json_map(&e.arena, e.matdesc, MATDESC)?;
        e.iv_b64 = base64::b64_encode_into(&mut e.arena, &iv[..n])?;
        Ok(e)
    }

    fn set_edk_from_b64(&mut self, src: Span, key: &'static str) -> Result<()> {
        // Copy the text out so the arena can be appended to.
        let mut tmp = [0u8; 2048];
        let t = self.arena.get(src);
        if t.len() > tmp.len() {
            return Err(Error::TooLarge);
        }
        tmp[..t.len()].copy_from_slice(t);
        let t = core::str::from_utf8(&tmp[..t.len()]).map_err(|_| Error::InvalidMetadata(key))?;
        self.edk = base64::b64_decode_into(&mut self.arena, t, key)?;
        if self.edk.len() == 0 {
            return Err(Error::InvalidMetadata(key));
        }
        let mut bytes = [0u8; 1536];
        let n = self.edk.len();
        if n > bytes.len() {
            return Err(Error::TooLarge);
        }
        bytes[..n].copy_from_slice(self.arena.get(self.edk));
        self.edk_b64 = base64::b64_encode_into(&mut self.arena, &bytes[..n])?;
        Ok(())
    }

    fn build_v3(a: Arena, meta: Slots, ins: Slots, placement: Placement) -> Result<Self> {
        let mut e = Self::empty(a, FormatVersion::V3, placement);
        let c = meta.v[S_C].ok_or(Error::MissingMetadata(V3_CONTENT))?;
        if e.arena.str(c).trim() != "115" {
            return Err(Error::UnsupportedSuite);
        }
        e.content = ContentAlgorithm::AesGcmCommitting;
        e.cek = CekName::Suite115;
        let w = ins.v[S_W].ok_or(Error::MissingMetadata(V3_WRAP))?;
        e.wrap = match e.arena.str(w).trim() {
            "02" => WrapAlgorithm::AesGcm,
            "12" => WrapAlgorithm::KmsContext,
            "22" => WrapAlgorithm::RsaOaepSha1,
            _ => return Err(Error::UnsupportedWrap),
        };
        let d = meta.v[S_D].ok_or(Error::MissingMetadata(V3_COMMITMENT))?;
        e.commitment = base64::b64_decode_fixed::<COMMIT_LEN>(e.arena.str(d), V3_COMMITMENT)?;
        let i = meta.v[S_I].ok_or(Error::MissingMetadata(V3_MESSAGE_ID))?;
        e.message_id = base64::b64_decode_fixed::<COMMIT_LEN>(e.arena.str(i), V3_MESSAGE_ID)?;
        let k = ins.v[S_3].ok_or(Error::MissingMetadata(V3_KEY))?;
        e.set_edk_from_b64(k, V3_KEY)?;
        e.matdesc = ins.v[S_M];
        e.context = ins.v[S_T];
        Self::json_map(&e.arena, e.matdesc, V3_MATDESC)?;
        Self::json_map(&e.arena, e.context, V3_CONTEXT)?;
        match e.wrap {
            WrapAlgorithm::KmsContext if e.matdesc.is_some() => return Err(Error::AmbiguousFormat),
            WrapAlgorithm::AesGcm | WrapAlgorithm::RsaOaepSha1 if e.context.is_some() => {
                return Err(Error::AmbiguousFormat);
            }
            _ => {}
        }
        let (mid, cm) = (e.message_id, e.commitment);
        e.mid_b64 = base64::b64_encode_into(&mut e.arena, &mid)?;
        e.commit_b64 = base64::b64_encode_into(&mut e.arena, &cm)?;
        Ok(e)
    }

    /// Apply the policy's gates: the commitment policy, legacy wrapping algorithms and legacy
    /// unauthenticated modes. [`Envelope::parse`] calls this.
    pub fn check_policy(&self, policy: &DecryptPolicy) -> Result<()> {
        if policy.commitment_policy == CommitmentPolicy::RequireEncryptRequireDecrypt
            && !self.content.is_committing()
        {
            return Err(Error::PolicyRejected);
        }
        if self.wrap.is_legacy() && !policy.legacy_wrapping_algorithms {
            return Err(Error::LegacyModeDisabled);
        }
        if self.content == ContentAlgorithm::AesCbc && !policy.legacy_unauthenticated_modes {
            return Err(Error::LegacyModeDisabled);
        }
        Ok(())
    }

    // ------------------------------------------------------------ accessors

    /// The format version.
    pub fn version(&self) -> FormatVersion {
        self.version
    }
    /// The content algorithm.
    pub fn content_algorithm(&self) -> ContentAlgorithm {
        self.content
    }
    /// The key-wrapping algorithm.
    pub fn wrap_algorithm(&self) -> WrapAlgorithm {
        self.wrap
    }
    /// Where the key material was (or will be) stored.
    pub fn placement(&self) -> Placement {
        self.placement
    }
    /// The encrypted data key.
    pub fn encrypted_data_key(&self) -> &[u8] {
        self.arena.get(self.edk)
    }
    /// The materials description JSON for AES/RSA wraps (`x-amz-matdesc`, `x-amz-m`), `None` for
    /// KMS wraps.
    pub fn materials_description(&self) -> Option<&str> {
        if self.wrap.is_kms() {
            return None;
        }
        Some(self.matdesc.map(|s| self.arena.str(s)).unwrap_or("{}"))
    }
    /// The stored KMS encryption context JSON (`x-amz-matdesc` for V2 `kms`/`kms+context`,
    /// `x-amz-t` for V3), `None` for non-KMS wraps.
    pub fn encryption_context(&self) -> Option<&str> {
        if !self.wrap.is_kms() {
            return None;
        }
        let s = if self.version == FormatVersion::V3 {
            self.context
        } else {
            self.matdesc
        };
        Some(s.map(|s| self.arena.str(s)).unwrap_or("{}"))
    }
    /// The declared plaintext length (`x-amz-unencrypted-content-length`), if any.
    pub fn unencrypted_content_length(&self) -> Option<u64> {
        self.unencrypted_len
    }
    /// The V3 message id.
    pub fn message_id(&self) -> Option<&[u8; COMMIT_LEN]> {
        (self.version == FormatVersion::V3).then_some(&self.message_id)
    }
    /// The V3 key commitment.
    pub fn key_commitment(&self) -> Option<&[u8; COMMIT_LEN]> {
        (self.version == FormatVersion::V3).then_some(&self.commitment)
    }
    /// The content IV (V1/V2).
    pub fn iv(&self) -> Option<&[u8]> {
        (self.version != FormatVersion::V3).then(|| &self.iv[..self.iv_len as usize])
    }
    /// The content-cipher identifier that wraps bind to (`AES/GCM/NoPadding`, `115`, …).
    pub fn content_cipher_id(&self) -> &'static str {
        self.cek.as_str()
    }
    /// Plaintext length for a stored body of `body_len` bytes, when it can be derived without
    /// decrypting (GCM formats; CBC only from the declared length).
    pub fn plaintext_len(&self, body_len: u64) -> Option<u64> {
        match self.content {
            ContentAlgorithm::AesCbc => self.unencrypted_len,
            _ => body_len.checked_sub(16),
        }
    }

    // ------------------------------------------------------------ render

    fn pairs(&self) -> ([(&'static str, &str); 9], usize) {
        let mut out: [(&'static str, &str); 9] = [("", ""); 9];
        let mut n = 0;
        let a = &self.arena;
        let md = |s: Option<Span>| s.map(|s| a.str(s)).unwrap_or("{}");
        let in_meta = self.placement == Placement::ObjectMetadata;
        macro_rules! push {
            ($k:expr, $v:expr) => {{
                out[n] = ($k, $v);
                n += 1;
            }};
        }
        match self.version {
            FormatVersion::V3 => {
                push!(V3_CONTENT, "115");
                if in_meta {
                    push!(V3_KEY, a.str(self.edk_b64));
                    push!(V3_WRAP, self.wrap.v3_code().unwrap_or(""));
                    if let Some(m) = self.matdesc {
                        push!(V3_MATDESC, a.str(m));
                    }
                    if let Some(t) = self.context {
                        push!(V3_CONTEXT, a.str(t));
                    }
                }
                push!(V3_COMMITMENT, a.str(self.commit_b64));
                push!(V3_MESSAGE_ID, a.str(self.mid_b64));
            }
            FormatVersion::V1 | FormatVersion::V2 => {
                if in_meta {
                    let k = if self.version == FormatVersion::V1 {
                        KEY_V1
                    } else {
                        KEY_V2
                    };
                    push!(k, a.str(self.edk_b64));
                    push!(IV, a.str(self.iv_b64));
                    push!(MATDESC, md(self.matdesc));
                    if self.version == FormatVersion::V2 {
                        push!(WRAP_ALG, self.wrap.v2_name());
                        push!(CEK_ALG, self.cek.as_str());
                        if self.content == ContentAlgorithm::AesGcm {
                            push!(TAG_LEN, "128");
                        }
                    }
                }
                if self.unencrypted_len.is_some() {
                    push!(UNENCRYPTED_LEN, a.str(self.len_text));
                }
            }
        }
        (out, n)
    }

    /// The user-metadata entries to store on the object (keys without `x-amz-meta-`). With
    /// instruction-file placement these are only the keys that stay on the object (V3 `x-amz-c`,
    /// `x-amz-d`, `x-amz-i`; V1/V2 the plaintext length if known).
    pub fn metadata(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let (arr, n) = self.pairs();
        arr.into_iter().take(n)
    }

    fn render_instruction_file(&self, s: &mut Sink<'_>) {
        s.put(b"{");
        let mut first = true;
        let mut field = |s: &mut Sink<'_>, k: &str, v: &str| {
            if !first {
                s.put(b",");
            }
            first = false;
            s.json_str(k);
            s.put(b":");
            s.json_str(v);
        };
        let md = |sp: Option<Span>| sp.map(|x| self.arena.str(x)).unwrap_or("{}");
        match self.version {
            FormatVersion::V3 => {
                field(s, V3_KEY, self.arena.str(self.edk_b64));
                field(s, V3_WRAP, self.wrap.v3_code().unwrap_or(""));
                if let Some(m) = self.matdesc {
                    field(s, V3_MATDESC, self.arena.str(m));
                }
                if let Some(t) = self.context {
                    field(s, V3_CONTEXT, self.arena.str(t));
                }
            }
            FormatVersion::V1 | FormatVersion::V2 => {
                let k = if self.version == FormatVersion::V1 {
                    KEY_V1
                } else {
                    KEY_V2
                };
                field(s, k, self.arena.str(self.edk_b64));
                field(s, IV, self.arena.str(self.iv_b64));
                field(s, MATDESC, md(self.matdesc));
                if self.version == FormatVersion::V2 {
                    field(s, WRAP_ALG, self.wrap.v2_name());
                    field(s, CEK_ALG, self.cek.as_str());
                    if self.content == ContentAlgorithm::AesGcm {
                        field(s, TAG_LEN, "128");
                    }
                }
            }
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

    /// The same envelope with another placement (for writing, or re-encrypting an instruction file).
    pub fn with_placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }
}

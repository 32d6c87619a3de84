//! Parse: the object metadata map and the instruction file into an [`Envelope`], with strict
//! format detection. Which key may come from where is read off [`keys::FIELDS`].

use super::Envelope;
use super::keys::*;
use super::keys::{self, ALL, FIELDS, Home, Versions};
use crate::encoding::arena::{Arena, Span};
use crate::encoding::json::{self, JVal};
use crate::encoding::{base64, rfc2047};
use crate::error::{Error, Result};
use crate::key_commitment::COMMIT_LEN;
use crate::policy::DecryptPolicy;
use crate::suite::{
    CekName, ContentAlgorithm, FormatVersion, Placement, TAG_LEN_BITS, WrapAlgorithm,
};

// Slots: positions in `keys::FIELDS` (checked below at compile time).
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

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
const _: () = {
    let slots = [
        (S_KEY, KEY_V1),
        (S_KEY_V2, KEY_V2),
        (S_IV, IV),
        (S_MATDESC, MATDESC),
        (S_WRAP, WRAP_ALG),
        (S_CEK, CEK_ALG),
        (S_TAG, TAG_LEN),
        (S_LEN, UNENCRYPTED_LEN),
        (S_C, V3_CONTENT),
        (S_3, V3_KEY),
        (S_W, V3_WRAP),
        (S_M, V3_MATDESC),
        (S_T, V3_CONTEXT),
        (S_D, V3_COMMITMENT),
        (S_I, V3_MESSAGE_ID),
    ];
    let mut i = 0;
    while i < slots.len() {
        assert!(same(ALL[slots[i].0], slots[i].1));
        i += 1;
    }
};

fn v12(v: Versions, _: Home) -> bool {
    !matches!(v, Versions::V3)
}
fn v3(v: Versions, _: Home) -> bool {
    matches!(v, Versions::V3)
}
/// The V3 keys that bind the object (`x-amz-c`, `x-amz-d`, `x-amz-i`): never from an
/// instruction file.
fn object_only(_: Versions, h: Home) -> bool {
    h == Home::ObjectOnly
}
fn v3_key_material(v: Versions, h: Home) -> bool {
    v == Versions::V3 && h == Home::KeyMaterial
}

#[derive(Default, Clone, Copy)]
struct Slots {
    v: [Option<Span>; 15],
}

impl Slots {
    fn has(&self, i: usize) -> bool {
        self.v[i].is_some()
    }
    /// Whether any slot whose [`keys::FIELDS`] row satisfies `row` is filled.
    fn any(&self, row: fn(Versions, Home) -> bool) -> bool {
        (0..FIELDS.len()).any(|i| self.has(i) && row(FIELDS[i].1, FIELDS[i].2))
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
        let Some(i) = keys::index_of(k.as_ref()) else {
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
            rfc2047::rfc2047_decode_into(a, v, ALL[i])?
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
            if let Some(i) = keys::index_of(ks) {
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
            _ => return Err(Error::InvalidMetadata(ALL[i])),
        };
        s.v[i] = Some(span);
    }
    Ok(s)
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
            if let Some(i) = keys::index_of(k.as_ref()) {
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
        if meta.has(S_KEY) || meta.has(S_KEY_V2) {
            if meta.any(v3) {
                return Err(Error::AmbiguousFormat);
            }
            return Self::build_v12(a, meta, Placement::ObjectMetadata);
        }
        if meta.has(S_3) {
            if meta.any(v12) {
                return Err(Error::AmbiguousFormat);
            }
            return Self::build_v3(a, meta, meta, Placement::ObjectMetadata);
        }
        if meta.any(object_only) {
            if meta.any(v12) || meta.any(v3_key_material) {
                return Err(Error::AmbiguousFormat);
            }
            let json = instruction_file.ok_or(Error::InstructionFileRequired)?;
            let ins = collect_instruction_file(&mut a, json)?;
            if ins.any(object_only) {
                return Err(Error::ForbiddenInstructionFileKey);
            }
            if ins.any(v12) {
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
            if ins.any(v3) {
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
        if ins.any(object_only) {
            return Err(Error::ForbiddenInstructionFileKey);
        }
        if ins.has(S_3) {
            return Err(Error::MissingMetadata(V3_CONTENT));
        }
        Err(Error::NotEncrypted)
    }

    fn json_map(a: &Arena, s: Option<Span>, key: &'static str) -> Result<()> {
        if let Some(s) = s {
            json::validate_string_map(a.get(s), Error::InvalidMetadata(key))?;
        }
        Ok(())
    }

    fn build_v12(a: Arena, s: Slots, placement: Placement) -> Result<Self> {
        let v1 = s.has(S_KEY);
        let mut e = Self::blank(
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
            && e.arena.str(t).trim() != TAG_LEN_BITS
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
        let mut e = Self::blank(a, FormatVersion::V3, placement);
        let c = meta.v[S_C].ok_or(Error::MissingMetadata(V3_CONTENT))?;
        if e.arena.str(c).trim() != CekName::Suite115.as_str() {
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
}

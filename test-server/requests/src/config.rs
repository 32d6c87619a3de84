//! `S3ECConfig` and `KeyMaterial`: the JSON of `CreateClient` and `ReEncrypt`.
//!
//! Smithy's JSON rules apply: a member that is `null` is a member that is absent, and members the
//! model does not name are ignored.

use crate::Error;
use base64ct::Encoding;
use core::fmt;
use s3_encryption::rsa::PrivateKey;
use s3_encryption::rsa::pkcs8::DecodePrivateKey;
use s3_encryption::{AesKey, CommitmentPolicy, ContentAlgorithm, EncryptConfig, Placement};
use serde_json::{Map, Value};

type Object = Map<String, Value>;

/// The key of a `KeyMaterial`: exactly one of `aesKey`, `rsaKey` or `kmsKeyId` (the model's
/// three, so a server matches them exhaustively).
#[derive(Clone)]
pub enum KeyMaterial {
    /// `aesKey`: a raw AES key (base64), 128, 192 or 256 bits.
    Aes(AesKey),
    /// `rsaKey`: an RSA private key, PKCS#8 DER (base64).
    Rsa(Box<PrivateKey>),
    /// `kmsKeyId`: a KMS key id, ARN or alias.
    Kms(String),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use s3_encryption::rsa::traits::PublicKeyParts;
        match self {
            KeyMaterial::Aes(k) => write!(f, "Aes(<redacted {}-bit key>)", k.len() * 8),
            KeyMaterial::Rsa(k) => write!(f, "Rsa(<redacted {}-bit key>)", k.size() * 8),
            KeyMaterial::Kms(id) => f.debug_tuple("Kms").field(id).finish(),
        }
    }
}

/// A parsed `KeyMaterial`: the key and its `materialsDescription` (for the raw keyrings; a KMS
/// keyring's context comes per operation).
#[derive(Debug, Clone)]
pub struct Keyring {
    /// The key.
    pub material: KeyMaterial,
    /// The `materialsDescription` pairs, in document order.
    pub description: Vec<(String, String)>,
}

impl Keyring {
    /// Parse a `KeyMaterial` document (the body of `ReEncrypt`).
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        let doc = parse_json(body)?;
        let km = doc
            .as_object()
            .ok_or_else(|| Error::malformed("the body must be a KeyMaterial object"))?;
        Self::from_object(km)
    }

    /// Whether the key is a raw (AES or RSA) key, whose materials description a per-operation
    /// `Content-Metadata` replaces.
    pub fn is_raw(&self) -> bool {
        !matches!(self.material, KeyMaterial::Kms(_))
    }

    /// This keyring with `description` in place of its own.
    pub fn with_description(&self, description: &[(String, String)]) -> Self {
        Keyring {
            material: self.material.clone(),
            description: description.to_vec(),
        }
    }

    fn from_object(km: &Object) -> Result<Self, Error> {
        let aes = string(km, "aesKey")?;
        let rsa = string(km, "rsaKey")?;
        let kms = string(km, "kmsKeyId")?;
        let given = [aes.is_some(), rsa.is_some(), kms.is_some()];
        if given.iter().filter(|x| **x).count() != 1 {
            return Err(Error::malformed(
                "keyMaterial must hold exactly one of aesKey, rsaKey, kmsKeyId",
            ));
        }
        let mut description = Vec::new();
        if let Some(md) = object(km, "materialsDescription")? {
            for (k, v) in md {
                let v = v.as_str().ok_or_else(|| {
                    Error::malformed("materialsDescription values must be strings")
                })?;
                description.push((k.clone(), v.to_owned()));
            }
        }
        let material = if let Some(a) = aes {
            let bytes = blob(a)?;
            KeyMaterial::Aes(
                AesKey::from_slice(&bytes)
                    .map_err(|e| Error::Refused(format!("invalid AES key: {e}")))?,
            )
        } else if let Some(r) = rsa {
            let der = blob(r)?;
            KeyMaterial::Rsa(Box::new(PrivateKey::from_pkcs8_der(&der).map_err(
                |_| Error::Refused("invalid RSA key: not a PKCS#8 RSA private key".into()),
            )?))
        } else {
            KeyMaterial::Kms(kms.unwrap_or_default().to_owned())
        };
        Ok(Keyring {
            material,
            description,
        })
    }
}

/// A parsed `S3ECConfig`: everything `CreateClient` configures.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `keyMaterial` (required).
    pub keyring: Keyring,
    /// `commitmentPolicy`, or the core's default.
    pub commitment_policy: CommitmentPolicy,
    /// `encryptionAlgorithm`: the suite written, or `None` for the policy's default.
    pub encryption_algorithm: Option<ContentAlgorithm>,
    /// `instructionFileConfig.enableInstructionFilePutObject`: where the envelope is written.
    pub placement: Placement,
    /// `instructionFileConfig.disableInstructionFile`: never read an instruction file.
    pub disable_instruction_files: bool,
    /// `enableLegacyWrappingAlgorithms`.
    pub legacy_wrapping: bool,
    /// `enableLegacyUnauthenticatedModes`.
    pub legacy_unauthenticated: bool,
    /// `enableDelayedAuthenticationMode`.
    pub delayed_authentication: bool,
    /// `setBufferSize`: the most bytes the client may hold, if set (never with delayed
    /// authentication).
    pub buffer_size: Option<u64>,
}

impl ClientConfig {
    /// Parse the body of `CreateClient`, `{"config": S3ECConfig}`, and check it as the S3EC
    /// does at client creation: an algorithm that is legacy, or that the policy forbids, is
    /// refused here (spec, `client.md`: "Encryption Algorithm" and "Key Commitment").
    pub fn from_create_client(body: &[u8]) -> Result<Self, Error> {
        let doc = parse_json(body)?;
        let empty = Object::new();
        let c = match doc.get("config") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(o)) => o,
            Some(_) => return Err(Error::malformed("config must be an object")),
        };
        Self::from_object(c)
    }

    fn from_object(c: &Object) -> Result<Self, Error> {
        let km = object(c, "keyMaterial")?
            .ok_or_else(|| Error::malformed("config.keyMaterial is required"))?;
        let keyring = Keyring::from_object(km)?;
        let legacy_wrapping = flag(c, "enableLegacyWrappingAlgorithms")?;
        let legacy_unauthenticated = flag(c, "enableLegacyUnauthenticatedModes")?;
        let delayed_authentication = flag(c, "enableDelayedAuthenticationMode")?;
        let commitment_policy = match string(c, "commitmentPolicy")? {
            None => CommitmentPolicy::default(),
            Some(name) => name
                .parse()
                .map_err(|_| Error::Malformed(format!("unknown commitmentPolicy {name}")))?,
        };
        let mut disable_instruction_files = false;
        let mut placement = Placement::ObjectMetadata;
        if let Some(ifc) = object(c, "instructionFileConfig")? {
            disable_instruction_files = flag(ifc, "disableInstructionFile")?;
            if string(ifc, "clientId")?.is_some() {
                return Err(Error::Unsupported(
                    "unsupported by s3ec test-server: instructionFileConfig.clientId (a separate instruction-file client)".into(),
                ));
            }
            if flag(ifc, "enableInstructionFilePutObject")? {
                placement = Placement::InstructionFile;
            }
        }
        let encryption_algorithm = match string(c, "encryptionAlgorithm")? {
            None => None,
            Some(name) => Some(
                name.parse::<ContentAlgorithm>()
                    .map_err(|_| Error::Malformed(format!("unknown encryptionAlgorithm {name}")))?,
            ),
        };
        EncryptConfig::from_settings(commitment_policy, encryption_algorithm, placement).map_err(
            |e| match e {
                s3_encryption::Error::UnsupportedSuite => Error::Refused(format!(
                    "{} is a legacy algorithm and cannot be configured for encryption",
                    encryption_algorithm.map_or("", ContentAlgorithm::spec_name)
                )),
                e => Error::Refused(format!(
                    "the encryption algorithm is incompatible with the commitment policy: {e}"
                )),
            },
        )?;
        let buffer_size =
            match c.get("setBufferSize") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or_else(|| {
                    Error::malformed("setBufferSize must be a non-negative integer")
                })?),
            };
        if buffer_size.is_some() && delayed_authentication {
            return Err(Error::Refused(
                "a buffer size cannot be set with delayed authentication mode enabled".into(),
            ));
        }
        Ok(ClientConfig {
            keyring,
            commitment_policy,
            encryption_algorithm,
            placement,
            disable_instruction_files,
            legacy_wrapping,
            legacy_unauthenticated,
            delayed_authentication,
            buffer_size,
        })
    }
}

fn parse_json(body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Malformed(format!("invalid JSON: {e}")))
}

fn blob(s: &str) -> Result<Vec<u8>, Error> {
    base64ct::Base64::decode_vec(s.trim())
        .map_err(|_| Error::malformed("a key blob is not valid base64"))
}

fn flag(c: &Object, name: &str) -> Result<bool, Error> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Error::Malformed(format!("{name} must be a boolean"))),
    }
}

fn string<'a>(c: &'a Object, name: &str) -> Result<Option<&'a str>, Error> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::Malformed(format!("{name} must be a string"))),
    }
}

fn object<'a>(c: &'a Object, name: &str) -> Result<Option<&'a Object>, Error> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(Error::Malformed(format!("{name} must be an object"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AES: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // 32 bytes

    fn config(c: &str) -> Result<ClientConfig, Error> {
        ClientConfig::from_create_client(format!(r#"{{"config": {c}}}"#).as_bytes())
    }

    /// An RSA private key written by the Java SDK's vector generator, as the harness sends it:
    /// the PKCS#8 DER in base64, without the PEM lines.
    fn rsa_der_base64() -> String {
        let doc: Value = serde_json::from_str(include_str!(
            "../../../test-vectors/derived/java-rsa-wrong-key.json"
        ))
        .unwrap();
        let pem = doc["key"]["private_key_pem"].as_str().unwrap();
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    #[test]
    fn key_material() {
        let c = config(&format!(
            r#"{{"keyMaterial": {{"aesKey": "{AES}", "materialsDescription": {{"a": "b"}}}}}}"#
        ))
        .unwrap();
        assert!(matches!(c.keyring.material, KeyMaterial::Aes(ref k) if k.len() == 32));
        assert_eq!(c.keyring.description, vec![("a".into(), "b".into())]);
        assert!(c.keyring.is_raw());
        assert_eq!(c.commitment_policy, CommitmentPolicy::default());
        assert_eq!(c.placement, Placement::ObjectMetadata);
        assert_eq!(c.buffer_size, None);

        let rsa = Keyring::from_json(format!(r#"{{"rsaKey": "{}"}}"#, rsa_der_base64()).as_bytes())
            .unwrap();
        assert!(matches!(rsa.material, KeyMaterial::Rsa(_)) && rsa.is_raw());
        assert!(!format!("{rsa:?}").contains("MII"));

        let kms = Keyring::from_json(br#"{"kmsKeyId": "k", "aesKey": null}"#).unwrap();
        assert!(matches!(kms.material, KeyMaterial::Kms(ref id) if id == "k"));
        let redescribed = kms.with_description(&[("x".into(), "y".into())]);
        assert_eq!(redescribed.description.len(), 1);

        for (body, want_refused) in [
            (r#"{}"#.to_owned(), false),
            (format!(r#"{{"aesKey": "{AES}", "kmsKeyId": "k"}}"#), false),
            (r#"{"aesKey": "not base64!"}"#.to_owned(), false),
            (r#"{"aesKey": 7}"#.to_owned(), false),
            (
                r#"{"kmsKeyId": "k", "materialsDescription": {"a": 1}}"#.to_owned(),
                false,
            ),
            (
                r#"{"kmsKeyId": "k", "materialsDescription": []}"#.to_owned(),
                false,
            ),
            (r#"{"aesKey": "AAEC"}"#.to_owned(), true),
            (format!(r#"{{"rsaKey": "{AES}"}}"#), true),
        ] {
            match Keyring::from_json(body.as_bytes()) {
                Err(Error::Refused(_)) => assert!(want_refused, "{body}"),
                Err(Error::Malformed(_)) => assert!(!want_refused, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        assert!(matches!(
            Keyring::from_json(b"[]"),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(Keyring::from_json(b"{"), Err(Error::Malformed(_))));
    }

    #[test]
    fn settings() {
        let kms = r#""keyMaterial": {"kmsKeyId": "k"}"#;
        let c = config(&format!(
            r#"{{{kms}, "commitmentPolicy": "FORBID_ENCRYPT_ALLOW_DECRYPT",
                "encryptionAlgorithm": "ALG_AES_256_GCM_IV12_TAG16_NO_KDF",
                "instructionFileConfig": {{"enableInstructionFilePutObject": true,
                                           "disableInstructionFile": null}},
                "enableLegacyWrappingAlgorithms": true, "enableLegacyUnauthenticatedModes": true,
                "setBufferSize": 1048576, "unknownMember": [1, 2]}}"#
        ))
        .unwrap();
        assert_eq!(
            c.commitment_policy,
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        );
        assert_eq!(c.placement, Placement::InstructionFile);
        assert!(c.legacy_wrapping && c.legacy_unauthenticated && !c.delayed_authentication);
        assert!(!c.disable_instruction_files);
        assert_eq!(c.buffer_size, Some(1 << 20));
        assert!(c.encryption_algorithm.is_some());

        let refused = |c: &str| matches!(config(c), Err(Error::Refused(_)));
        let malformed = |c: &str| matches!(config(c), Err(Error::Malformed(_)));
        // A legacy algorithm for writing; a non-committing one under the default policy.
        assert!(refused(&format!(
            r#"{{{kms}, "encryptionAlgorithm": "ALG_AES_256_CBC_IV16_NO_KDF"}}"#
        )));
        assert!(refused(&format!(
            r#"{{{kms}, "encryptionAlgorithm": "ALG_AES_256_GCM_IV12_TAG16_NO_KDF"}}"#
        )));
        assert!(refused(&format!(
            r#"{{{kms}, "enableDelayedAuthenticationMode": true, "setBufferSize": 0}}"#
        )));
        assert!(malformed(&format!(
            r#"{{{kms}, "encryptionAlgorithm": "AES"}}"#
        )));
        assert!(malformed(&format!(
            r#"{{{kms}, "commitmentPolicy": "NONE"}}"#
        )));
        assert!(malformed(&format!(r#"{{{kms}, "setBufferSize": -1}}"#)));
        assert!(malformed(&format!(r#"{{{kms}, "setBufferSize": 1.5}}"#)));
        assert!(malformed(&format!(
            r#"{{{kms}, "enableLegacyWrappingAlgorithms": "true"}}"#
        )));
        assert!(malformed(&format!(
            r#"{{{kms}, "instructionFileConfig": true}}"#
        )));
        assert!(malformed(r#"{"keyMaterial": "k"}"#));
        assert!(malformed("null"));
        assert!(malformed("7"));
        assert!(matches!(
            config(&format!(
                r#"{{{kms}, "instructionFileConfig": {{"clientId": "c"}}}}"#
            )),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            ClientConfig::from_create_client(b"\xff"),
            Err(Error::Malformed(_))
        ));
    }
}

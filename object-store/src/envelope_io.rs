//! The envelope on the way out (sealing a body, storing its metadata where the store can keep
//! it) and on the way in (finding the envelope, unwrapping the data key).

use crate::error::{crypto, is_not_found};
use crate::{EncryptedStore, METADATA_SUFFIX};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutOptions,
    PutPayload, PutResult, Result,
};
use s3_encryption::envelope::keys;
use s3_encryption::{Decryptor, EncryptConfig, Encryptor, Envelope, Placement};

/// The largest side file read (instruction or metadata file), whatever the store says.
const SIDE_FILE_LIMIT: u64 = 16 * 1024;

/// Files to write next to an object: path and bytes.
pub(crate) type SideFiles = Vec<(Path, Vec<u8>)>;

/// An encryptor with its envelope rendered.
pub(crate) struct Begun {
    pub enc: Encryptor,
    /// The entries for the object's user metadata.
    pub rows: Vec<(String, String)>,
    /// The instruction file, when the placement needs one.
    pub instruction_file: Option<Vec<u8>>,
}

/// User metadata entries from `Attributes`, and the other attributes.
fn split_user(attributes: &Attributes) -> (Vec<(String, String)>, Attributes) {
    let mut meta = Vec::new();
    let mut other = Attributes::new();
    for (k, v) in attributes.iter() {
        match k {
            Attribute::Metadata(name) => meta.push((name.to_string(), v.to_string())),
            k => {
                other.insert(k.clone(), v.clone());
            }
        }
    }
    (meta, other)
}

/// The attributes of a response without the envelope's entries.
pub(crate) fn user_attributes(attributes: &Attributes) -> Attributes {
    let mut out = Attributes::new();
    for (k, v) in attributes.iter() {
        if let Attribute::Metadata(name) = k
            && (keys::is_envelope_key(name)
                || name.eq_ignore_ascii_case(keys::INSTRUCTION_FILE_MARKER))
        {
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    out
}

impl<S: ObjectStore> EncryptedStore<S> {
    /// Start encrypting an object of `len` bytes (if known), with instruction-file placement when
    /// `files` (or when the configuration asks for it).
    pub(crate) fn begin(&self, path: &Path, len: Option<u64>, files: bool) -> Result<Begun> {
        let c = self.config;
        let config = if files {
            EncryptConfig::new(c.suite(), c.commitment_policy(), Placement::InstructionFile)
                .map_err(|e| crypto(path, e))?
        } else {
            c
        };
        let ctx: Vec<(&str, &str)> = self
            .context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let m = self
            .keyring
            .encryption_materials(&config, &ctx, s3_encryption::wrap::os_random)
            .map_err(|e| crypto(path, e))?;
        let enc = Encryptor::new(m, len).map_err(|e| crypto(path, e))?;
        let env = enc.envelope();
        let rows = env
            .metadata()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let instruction_file = (config.placement() == Placement::InstructionFile)
            .then(|| env.instruction_file().into_bytes());
        Ok(Begun {
            enc,
            rows,
            instruction_file,
        })
    }

    /// Refuse user metadata that would be read as part of an envelope.
    pub(crate) fn check_user_metadata(&self, path: &Path, attributes: &Attributes) -> Result<()> {
        for (k, _) in attributes.iter() {
            if let Attribute::Metadata(name) = k {
                let n = name.to_ascii_lowercase();
                if keys::is_envelope_key(&n) || n.starts_with("x-amz-") {
                    return Err(crypto(
                        path,
                        s3_encryption::Error::InvalidMetadata(
                            "user metadata named like an envelope key",
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The attributes to store on the object itself, and the files to write next to it.
    pub(crate) fn placement_of(
        &self,
        path: &Path,
        b: &Begun,
        attributes: &Attributes,
        files: bool,
    ) -> Result<(Attributes, SideFiles)> {
        let [ifile, mfile] = self.side_files(path);
        let mut side = Vec::new();
        let mut attrs = attributes.clone();
        if files {
            let (user, other) = split_user(attributes);
            attrs = other;
            let mut map = serde_json::Map::new();
            for (k, v) in b.rows.iter().chain(user.iter()) {
                map.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
            let json = serde_json::to_vec(&map).map_err(|e| object_store::Error::Generic {
                store: crate::STORE,
                source: Box::new(e),
            })?;
            side.push((mfile, json));
        } else {
            for (k, v) in &b.rows {
                attrs.insert(
                    Attribute::Metadata(k.clone().into()),
                    AttributeValue::from(v.clone()),
                );
            }
        }
        if let Some(f) = &b.instruction_file {
            side.push((ifile, f.clone()));
        }
        Ok((attrs, side))
    }

    /// Store a sealed object, then its side files (removing the object if they fail).
    pub(crate) async fn store_sealed(
        &self,
        path: &Path,
        body: PutPayload,
        mut opts: PutOptions,
        attrs: Attributes,
        side: SideFiles,
    ) -> Result<PutResult> {
        opts.attributes = attrs;
        let r = self.inner.put_opts(path, body, opts).await?;
        self.write_side_files(path, side).await?;
        Ok(r)
    }

    pub(crate) async fn write_side_files(&self, path: &Path, side: SideFiles) -> Result<()> {
        for (p, bytes) in side {
            if let Err(e) = self.inner.put(&p, PutPayload::from(bytes)).await {
                let _ = self.inner.delete(path).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// `put_opts`: encrypt the payload and store it with its envelope.
    ///
    /// The payload is encrypted in its own buffer when the caller handed over the only reference
    /// to it (no one else can see the buffer change) and the placement is settled (no retry will
    /// need the plaintext again); otherwise it is copied first. The tag goes as a second chunk
    /// of the stored payload, so the buffer never grows.
    pub(crate) async fn write(
        &self,
        path: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.check_user_metadata(path, &opts.attributes)?;
        let mut plaintext = Some(bytes::Bytes::from(payload));
        loop {
            let files = self.files_placement();
            let settled = self.placement_settled();
            let mut b = self.begin(path, plaintext.as_ref().map(|p| p.len() as u64), files)?;
            let mut body = match (settled, plaintext.take()) {
                (true, Some(p)) => p
                    .try_into_mut()
                    .unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..])),
                (false, Some(p)) => {
                    let copy = bytes::BytesMut::from(&p[..]);
                    plaintext = Some(p);
                    copy
                }
                (_, None) => {
                    return Err(crypto(
                        path,
                        s3_encryption::Error::Internal("a put retried without its plaintext"),
                    ));
                }
            };
            b.enc
                .encrypt_in_place(&mut body)
                .map_err(|e| crypto(path, e))?;
            let (attrs, side) = self.placement_of(path, &b, &opts.attributes, files)?;
            let tag = b.enc.finish().map_err(|e| crypto(path, e))?;
            let stored: PutPayload = [body.freeze(), bytes::Bytes::copy_from_slice(&tag)]
                .into_iter()
                .collect();
            match self
                .store_sealed(path, stored, opts.clone(), attrs, side)
                .await
            {
                Err(object_store::Error::NotImplemented { .. })
                    if !files && !settled && self.placement == crate::MetadataPlacement::Auto =>
                {
                    self.learn(true);
                }
                r => {
                    if r.is_ok() && !files {
                        self.learn(false);
                    }
                    return r;
                }
            }
        }
    }

    /// Read a small side file, capped; `None` when there is none.
    async fn side_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let r = match self.inner.get_opts(path, GetOptions::default()).await {
            Ok(r) => r,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        if r.meta.size > SIDE_FILE_LIMIT {
            return Err(crypto(
                path,
                s3_encryption::Error::InvalidMetadata("instruction file"),
            ));
        }
        let b = r.bytes().await?;
        if b.len() as u64 > SIDE_FILE_LIMIT {
            return Err(crypto(
                path,
                s3_encryption::Error::InvalidMetadata("instruction file"),
            ));
        }
        Ok(Some(b.to_vec()))
    }

    /// Find the envelope of the object at `path` whose response carried `attributes`, unwrap its
    /// data key, and return the decryptor and the user's attributes (without the envelope).
    pub(crate) async fn open(
        &self,
        path: &Path,
        attributes: &Attributes,
    ) -> Result<(Decryptor, Attributes)> {
        let (mut pairs, other) = split_user(attributes);
        let from_attributes = pairs.iter().any(|(k, _)| keys::is_envelope_key(k));
        if !from_attributes && let Some(json) = self.side_file(&self.side_files(path)[1]).await? {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&json)
                .map_err(|_| {
                    crypto(path, s3_encryption::Error::InvalidMetadata(METADATA_SUFFIX))
                })?;
            pairs = Vec::with_capacity(map.len());
            for (k, v) in map {
                let serde_json::Value::String(v) = v else {
                    return Err(crypto(
                        path,
                        s3_encryption::Error::InvalidMetadata(METADATA_SUFFIX),
                    ));
                };
                pairs.push((k, v));
            }
        }
        let needs = Envelope::needs_instruction_file(pairs.iter().map(|(k, v)| (k, v)))
            .map_err(|e| crypto(path, e))?;
        let ifile = if needs {
            match self.side_file(&self.side_files(path)[0]).await? {
                Some(f) => Some(f),
                None if pairs.iter().any(|(k, _)| keys::is_envelope_key(k)) => {
                    return Err(crypto(path, s3_encryption::Error::InstructionFileRequired));
                }
                None => return Err(crypto(path, s3_encryption::Error::NotEncrypted)),
            }
        } else {
            None
        };
        let env = Envelope::parse(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ifile.as_deref(),
            &self.policy,
        )
        .map_err(|e| crypto(path, e))?;
        let ctx: Vec<(&str, &str)> = self
            .context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let dk = self
            .keyring
            .decrypt_data_key(&env, &ctx)
            .map_err(|e| crypto(path, e))?;
        let dec = env
            .decryptor(dk, &self.policy)
            .map_err(|e| crypto(path, e))?;
        let mut user = other;
        for (k, v) in pairs {
            if !keys::is_envelope_key(&k) && !k.eq_ignore_ascii_case(keys::INSTRUCTION_FILE_MARKER)
            {
                user.insert(Attribute::Metadata(k.into()), AttributeValue::from(v));
            }
        }
        Ok((dec, user))
    }
}

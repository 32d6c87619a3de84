//! An in-memory S3 stand-in for the migration tests, with the hostile answers they script, and
//! drivers of the describe, GET and PUT machines against it.

use s3_encryption::object::migrate::{DescribeSource, PlaintextDigest, Source};
use s3_encryption::object::{
    GetDone, GetIntent, GetNext, GetObject, Operation, PutIntent, PutNext, PutObject, Released,
    Request, RequestBody, RequestId,
};
use s3_encryption::{AesKey, DataKey, EncryptionMaterials, Error, KeyRequest};
use std::collections::HashMap;

#[derive(Clone)]
pub struct Obj {
    pub meta: Vec<(String, String)>,
    pub content_type: String,
    pub body: Vec<u8>,
    pub etag: String,
    pub version: u32,
}

/// What the store does wrong.
#[derive(Default, Clone, Copy)]
pub struct Hostile {
    /// Answer the n-th conditional write (PutObject / CompleteMultipartUpload) with 412.
    pub fail_write: bool,
    /// Ignore `x-amz-copy-source-if-match`: copy whatever is current (after `overwrite_before_copy`).
    pub overwrite_before_copy: bool,
    /// Ignore `If-Match` on reads: serve whatever is current.
    pub ignore_read_if_match: bool,
    /// Serve these bytes instead of the object's on GETs after the first write.
    pub swap_after_write: Option<u8>,
    /// Ignore `If-Match` on DeleteObject: delete whatever is current.
    pub ignore_delete_if_match: bool,
}

/// An open multipart upload: its metadata and its parts.
pub type Upload = (Vec<(String, String)>, Vec<(u32, Vec<u8>)>);

#[derive(Default)]
pub struct Store {
    pub objects: HashMap<String, Obj>,
    pub uploads: HashMap<String, Upload>,
    pub ops: Vec<(Operation, Option<String>, Option<String>)>,
    pub n: u32,
    pub writes: u32,
    pub hostile: Hostile,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Store {
    pub fn put(&mut self, key: &str, meta: Vec<(String, String)>, body: Vec<u8>) -> String {
        self.n += 1;
        let etag = format!("\"etag{}\"", self.n);
        let version = self.objects.get(key).map_or(1, |o| o.version + 1);
        self.objects.insert(
            key.to_owned(),
            Obj {
                meta,
                content_type: "text/x-test".into(),
                body,
                etag: etag.clone(),
                version,
            },
        );
        etag
    }

    fn head_of(o: &Obj, body: bool) -> Vec<(String, String)> {
        let mut h = vec![
            ("ETag".into(), o.etag.clone()),
            ("x-amz-version-id".into(), format!("v{}", o.version)),
            ("Content-Type".into(), o.content_type.clone()),
            ("Content-Length".into(), o.body.len().to_string()),
        ];
        let _ = body;
        h.extend(
            o.meta
                .iter()
                .map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone())),
        );
        h
    }

    pub fn serve(&mut self, r: &Request<'_>, body: &[u8]) -> Answer {
        let key = r.full_key().to_string();
        self.ops.push((
            r.operation,
            r.if_match.map(str::to_owned),
            r.copy_source.and_then(|c| c.if_match.map(str::to_owned)),
        ));
        let mut a = Answer {
            status: 200,
            headers: vec![],
            body: vec![],
        };
        let meta = || -> Vec<(String, String)> {
            r.metadata()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        let conditional_fails = |s: &Self| {
            r.if_match
                .is_some_and(|m| s.objects.get(&key).is_none_or(|o| !same(m, &o.etag)))
                || s.hostile.fail_write
        };
        match r.operation {
            Operation::HeadObject | Operation::GetObject => {
                let Some(o) = self.objects.get(&key) else {
                    a.status = 404;
                    return a;
                };
                if !self.hostile.ignore_read_if_match
                    && r.if_match.is_some_and(|m| !same(m, &o.etag))
                {
                    a.status = 412;
                    return a;
                }
                a.headers = Self::head_of(o, r.operation == Operation::GetObject);
                if r.operation == Operation::GetObject {
                    a.body = o.body.clone();
                    if let (Some(x), true) = (self.hostile.swap_after_write, self.writes > 0) {
                        a.body.iter_mut().for_each(|b| *b ^= x);
                    }
                }
            }
            Operation::PutObject => {
                if conditional_fails(self) {
                    a.status = 412;
                    return a;
                }
                self.writes += 1;
                let etag = self.put(&key, meta(), body.to_vec());
                let v = self.objects[&key].version;
                a.headers = vec![
                    ("ETag".into(), etag),
                    ("x-amz-version-id".into(), format!("v{v}")),
                ];
            }
            Operation::CreateMultipartUpload => {
                self.n += 1;
                let id = format!("up{}", self.n);
                self.uploads.insert(id.clone(), (meta(), vec![]));
                a.headers = vec![("upload-id".into(), id)];
            }
            Operation::UploadPart | Operation::UploadPartCopy => {
                let data = match r.copy_source {
                    Some(c) => {
                        let (x, y) = c.range.unwrap();
                        self.objects[c.key].body[x as usize..=y as usize].to_vec()
                    }
                    None => body.to_vec(),
                };
                let up = self.uploads.get_mut(r.upload_id.unwrap()).unwrap();
                up.1.push((r.part_number.unwrap(), data));
            }
            Operation::CompleteMultipartUpload => {
                if conditional_fails(self) {
                    a.status = 412;
                    return a;
                }
                let (m, mut parts) = self.uploads.remove(r.upload_id.unwrap()).unwrap();
                parts.sort_by_key(|p| p.0);
                self.writes += 1;
                let etag = self.put(&key, m, parts.into_iter().flat_map(|p| p.1).collect());
                let etag = etag.replace('"', "") + "-2"; // unquoted, as some stores answer
                self.objects.get_mut(&key).unwrap().etag = format!("\"{etag}\"");
                let v = self.objects[&key].version;
                a.headers = vec![
                    ("ETag".into(), etag),
                    ("x-amz-version-id".into(), format!("v{v}")),
                ];
            }
            Operation::AbortMultipartUpload => {
                self.uploads.remove(r.upload_id.unwrap());
                a.status = 204;
            }
            Operation::CopyObject => {
                let c = r.copy_source.unwrap();
                if self.hostile.overwrite_before_copy {
                    // Another writer, and a store that ignores every copy condition.
                    self.put(&key, vec![], b"the other writer's bytes, not ours".to_vec());
                } else if c
                    .if_match
                    .is_some_and(|m| !same(m, &self.objects[c.key].etag))
                    || conditional_fails(self)
                {
                    a.status = 412;
                    return a;
                }
                let src = self.objects[c.key].clone();
                self.writes += 1;
                let m = if r.replace_metadata {
                    meta()
                } else {
                    src.meta.clone()
                };
                self.put(&key, m, src.body.clone());
                // A single-part copy keeps the MD5 ETag.
                self.objects.get_mut(&key).unwrap().etag = src.etag.clone();
                let v = self.objects[&key].version;
                a.headers = vec![
                    ("ETag".into(), src.etag),
                    ("x-amz-version-id".into(), format!("v{v}")),
                ];
            }
            Operation::DeleteObject => {
                let Some(o) = self.objects.get(&key) else {
                    a.status = 204;
                    return a;
                };
                if !self.hostile.ignore_delete_if_match
                    && r.if_match.is_some_and(|m| !same(m, &o.etag))
                {
                    a.status = 412;
                    return a;
                }
                self.objects.remove(&key);
                a.status = 204;
            }
            _ => a.status = 501,
        }
        a
    }
}

/// ETags compare without their quotes, as S3 compares them.
pub fn same(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

pub fn pairs(h: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Describe `key` and take the migration's snapshot.
pub fn describe(store: &mut Store, key: &str) -> Source {
    let mut d = DescribeSource::new("b", key, ".instruction").unwrap();
    while let Some(id) = d.poll().unwrap() {
        let req = d.request(id).unwrap();
        let is_get = req.operation == Operation::GetObject;
        let a = store.serve(&req, &[]);
        if is_get && a.status < 300 {
            d.body(id, &a.body).unwrap();
        }
        d.response(id, a.status, pairs(&a.headers)).unwrap();
    }
    let mut s = d.finish().unwrap();
    s.set_tagging(Some("team=blue".into()));
    s
}

/// Run a GET to its end, feeding every released byte to `digest`.
pub fn get(
    store: &mut Store,
    intent: GetIntent<'_>,
    key: &AesKey,
    digest: &mut PlaintextDigest,
    out: &mut Vec<u8>,
) -> Result<GetDone, Error> {
    get_with(store, intent, &Unwrap::Aes(key), digest, out)
}

/// How a test unwraps a data key.
pub enum Unwrap<'k> {
    /// A raw AES master key.
    Aes(&'k AesKey),
    /// The vectors' offline KMS: `Decrypt` of exactly this blob under exactly this context
    /// answers this plaintext (what KMS answered the SDK when it wrote the object); anything
    /// else is refused.
    OfflineKms {
        blob: &'k [u8],
        context: Vec<(String, String)>,
        plaintext: &'k [u8],
    },
}

impl Unwrap<'_> {
    /// The data key for `req`, if this is the offline KMS and `req` is exactly what it answers.
    pub fn answer(&self, req: KeyRequest<'_>) -> Result<DataKey, Error> {
        let Unwrap::OfflineKms {
            blob,
            context,
            plaintext,
        } = self
        else {
            return Err(Error::Internal("not a single-part PUT"));
        };
        match req {
            KeyRequest::Kms(r) => {
                let mut c = r.encryption_context();
                c.sort();
                if r.ciphertext_blob != *blob || c != *context {
                    return Err(Error::Authentication);
                }
                DataKey::from_slice(plaintext)
            }
            _ => Err(Error::Authentication),
        }
    }
}

/// [`get`] with any [`Unwrap`].
pub fn get_with(
    store: &mut Store,
    intent: GetIntent<'_>,
    key: &Unwrap<'_>,
    digest: &mut PlaintextDigest,
    out: &mut Vec<u8>,
) -> Result<GetDone, Error> {
    let mut g = GetObject::new(intent)?;
    let mut bodies: HashMap<RequestId, Vec<u8>> = HashMap::new();
    loop {
        match g.poll()? {
            GetNext::Send(id) => {
                let a = store.serve(&g.request(id)?, &[]);
                g.response(id, a.status, pairs(&a.headers))?;
                bodies.insert(id, a.body);
            }
            GetNext::ReadBody(id) => {
                let mut body = bodies.remove(&id).unwrap();
                let mut at = 0;
                while at < body.len() {
                    let n = g.feed(id)?.len.min(body.len() - at);
                    assert!(n > 0, "the machine asked for nothing");
                    let piece = &mut body[at..at + n];
                    if let Released::Plaintext { start, len, offset } = g.body(id, piece)? {
                        digest.update(offset, &piece[start..start + len])?;
                        out.extend_from_slice(&piece[start..start + len]);
                    }
                    at += n;
                }
                g.end_of_body(id)?;
            }
            GetNext::UnwrapKey => match key {
                Unwrap::Aes(k) => g.unwrap_aes(k)?,
                kms => {
                    let dk = kms.answer(g.key_request()?)?;
                    g.data_key(dk)?;
                }
            },
            GetNext::Done(d) => return Ok(d),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// How a test wraps a new data key.
pub enum Wrap<'k> {
    /// A raw AES master key (the intent's encryption context is its materials description).
    Aes(&'k AesKey),
    /// An offline KMS `GenerateDataKey` that answers this data key and blob for the intent's
    /// encryption context.
    OfflineKms { plaintext: &'k [u8], blob: &'k [u8] },
}

/// Run a PUT of `plaintext` under `key`.
pub fn put(
    store: &mut Store,
    intent: PutIntent<'_>,
    key: &AesKey,
    plaintext: &[u8],
) -> Result<(u64, Option<String>, Option<String>), Error> {
    put_with(store, intent, &Wrap::Aes(key), plaintext)
}

/// [`put`] with any [`Wrap`].
pub fn put_with(
    store: &mut Store,
    intent: PutIntent<'_>,
    key: &Wrap<'_>,
    plaintext: &[u8],
) -> Result<(u64, Option<String>, Option<String>), Error> {
    let mut p = PutObject::new(intent)?;
    let mut bufs: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut last = (None, None);
    loop {
        match p.poll()? {
            PutNext::EncryptionMaterials => {
                let m = match key {
                    Wrap::Aes(key) => {
                        EncryptionMaterials::aes_gcm(p.config(), key, p.encryption_context())?
                    }
                    Wrap::OfflineKms { plaintext, blob } => {
                        EncryptionMaterials::kms(p.config(), p.encryption_context())?
                            .into_materials(DataKey::from_slice(plaintext)?, blob)?
                    }
                };
                p.materials(m)?;
            }
            PutNext::ReadPart {
                number,
                offset,
                len,
            } => {
                let a = offset as usize;
                let b = (a + len as usize).min(plaintext.len());
                bufs.insert(number, plaintext[a..b].to_vec());
                p.part_read(number, (b - a) as u64)?;
            }
            PutNext::EncryptPart(job) => {
                let done = job.encrypt(bufs.get_mut(&job.number()).unwrap())?;
                p.part_encrypted(done)?;
            }
            PutNext::Send(id) => {
                let r = p.request(id)?;
                let body = match (r.operation, r.body) {
                    (Operation::PutObject, RequestBody::Ciphertext { .. }) => {
                        let mut b = plaintext.to_vec();
                        p.encrypt(&mut b)?;
                        b.extend_from_slice(&p.tag()?);
                        b
                    }
                    (Operation::UploadPart, RequestBody::Ciphertext { ends_with_tag, .. }) => {
                        let mut b = bufs[&r.part_number.unwrap()].clone();
                        if ends_with_tag {
                            b.extend_from_slice(&p.tag()?);
                        }
                        b
                    }
                    _ => vec![],
                };
                let r = p.request(id)?;
                let a = store.serve(&r, &body);
                if r.operation == Operation::CreateMultipartUpload {
                    p.upload_created(id, a.status, &a.headers[0].1)?;
                } else {
                    let etag = a
                        .headers
                        .iter()
                        .find(|h| h.0 == "ETag")
                        .map(|h| h.1.clone());
                    let ver = a
                        .headers
                        .iter()
                        .find(|h| h.0 == "x-amz-version-id")
                        .map(|h| h.1.clone());
                    if matches!(
                        r.operation,
                        Operation::PutObject | Operation::CompleteMultipartUpload
                    ) {
                        last = (etag, ver);
                    }
                    // A failure is reported by the next poll, after the cleanup it asks for.
                    let _ = p.response(id, a.status, pairs(&a.headers));
                }
            }
            PutNext::Wait => panic!("nothing outstanding"),
            PutNext::Done(d) => return Ok((d.plaintext_len, last.0, last.1)),
        }
    }
}

//! `std::io` adapters (feature `std`), so callers do not write chunk loops.
//!
//! - [`EncryptingWriter`]: a [`Write`] that encrypts into an inner writer;
//!   [`EncryptingWriter::finish`] appends the tag and returns the inner writer.
//! - [`VerifiedReader`]: a [`Read`] of plaintext from a seekable stored body (`Read + Seek`, a
//!   file): pass one verifies the whole body and releases nothing, pass two releases plaintext of
//!   the bytes pass one verified, re-checking the tag at the end (an error then means the
//!   source changed between the passes: discard what was read).
//! - [`encrypt_to_vec`] and [`decrypt_to_vec`]: whole buffers.
//!
//! ```
//! use s3_encryption::io::{EncryptingWriter, VerifiedReader};
//! use s3_encryption::{AesKey, DecryptPolicy, EncryptConfig, EncryptionMaterials, Encryptor, Envelope};
//! use std::io::{Cursor, Read, Write};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let master = AesKey::new_256([7; 32]);
//! let materials = EncryptionMaterials::aes_gcm(&EncryptConfig::default(), &master, &[])?;
//! let mut w = EncryptingWriter::new(Encryptor::new(materials, None)?, Vec::new());
//! let metadata: Vec<(String, String)> =
//!     w.envelope().metadata().map(|(k, v)| (k.into(), v.into())).collect();
//! w.write_all(b"streamed ")?;
//! w.write_all(b"plaintext")?;
//! let body = w.finish()?; // ciphertext ‖ tag
//!
//! let policy = DecryptPolicy::default();
//! let env = Envelope::parse(metadata, None, &policy)?;
//! let dec = env.decryptor(env.unwrap_aes(&master)?, &policy)?;
//! let mut plaintext = String::new();
//! VerifiedReader::new(dec, Cursor::new(body))?.read_to_string(&mut plaintext)?;
//! assert_eq!(plaintext, "streamed plaintext");
//! # Ok(()) }
//! ```
//!
//! Errors of this crate come out as [`io::Error`]s of kind [`io::ErrorKind::Other`] wrapping the
//! [`crate::Error`] (`e.get_ref()` and `downcast_ref::<s3_encryption::Error>()` give it back).

use crate::decrypt::{Decryptor, ReleasePass};
use crate::encrypt::Encryptor;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::vec::Vec;

const CHUNK: usize = 64 * 1024;

fn err(e: crate::Error) -> io::Error {
    io::Error::other(e)
}

/// Encrypt `plaintext` whole: ciphertext ‖ tag.
pub fn encrypt_to_vec(mut encryptor: Encryptor, plaintext: &[u8]) -> crate::Result<Vec<u8>> {
    let mut out = std::vec![0u8; plaintext.len()];
    encryptor.encrypt(plaintext, &mut out)?;
    out.extend_from_slice(&encryptor.finish()?);
    Ok(out)
}

/// Decrypt a whole stored body held in memory; nothing is returned unless it verifies
/// ([`Decryptor::decrypt_whole`]).
pub fn decrypt_to_vec(decryptor: Decryptor, body: &[u8]) -> crate::Result<Vec<u8>> {
    let mut out = std::vec![0u8; decryptor.max_plaintext_len(body.len() as u64)? as usize];
    let n = decryptor.decrypt_whole(body, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// A [`Write`] that encrypts what is written to it into `inner`.
#[derive(Debug)]
pub struct EncryptingWriter<W: Write> {
    encryptor: Encryptor,
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> EncryptingWriter<W> {
    /// Encrypt into `inner`. Store [`Encryptor::envelope`] before the first write.
    pub fn new(encryptor: Encryptor, inner: W) -> Self {
        EncryptingWriter {
            encryptor,
            inner,
            buf: std::vec![0u8; CHUNK],
        }
    }

    /// The encryptor's envelope (what to store beside the body).
    pub fn envelope(&self) -> &crate::Envelope {
        self.encryptor.envelope()
    }

    /// Write the tag and flush; returns the inner writer. A declared plaintext length that was
    /// not reached is an error (the body is then incomplete: discard it).
    pub fn finish(mut self) -> io::Result<W> {
        let tag = self.encryptor.finish().map_err(err)?;
        self.inner.write_all(&tag)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.buf.len());
        self.encryptor
            .encrypt(&data[..n], &mut self.buf[..n])
            .map_err(err)?;
        // Ciphertext that reached the encryptor must reach the writer: write it all.
        self.inner.write_all(&self.buf[..n])?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A [`Read`] of verified plaintext from a seekable stored body: see the [module](self) docs.
pub struct VerifiedReader<R: Read + Seek> {
    inner: R,
    pass: Option<ReleasePass>,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_at: usize,
    out_len: usize,
}

impl<R: Read + Seek> core::fmt::Debug for VerifiedReader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedReader").finish_non_exhaustive()
    }
}

impl<R: Read + Seek> VerifiedReader<R> {
    /// Pass one: read `inner` from where it stands to its end and verify it (nothing is
    /// released; an unauthentic body fails here). Then seek back for pass two.
    pub fn new(decryptor: Decryptor, mut inner: R) -> io::Result<Self> {
        let start = inner.stream_position()?;
        let mut verify = decryptor.verify_first().map_err(err)?;
        let mut inbuf = std::vec![0u8; CHUNK];
        loop {
            let n = inner.read(&mut inbuf)?;
            if n == 0 {
                break;
            }
            verify.update(&inbuf[..n]).map_err(err)?;
        }
        let pass = verify.finish().map_err(err)?;
        inner.seek(SeekFrom::Start(start))?;
        Ok(VerifiedReader {
            inner,
            pass: Some(pass),
            inbuf,
            out: std::vec![0u8; CHUNK + 32],
            out_at: 0,
            out_len: 0,
        })
    }

    /// The inner reader (after the last byte was read, positioned at the body's end).
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn refill(&mut self) -> io::Result<()> {
        let Some(pass) = self.pass.as_mut() else {
            return Ok(());
        };
        self.out_at = 0;
        self.out_len = 0;
        while self.out_len == 0 {
            let n = self.inner.read(&mut self.inbuf)?;
            if n == 0 {
                let pass = self.pass.take().ok_or_else(|| {
                    err(crate::Error::Internal("the verified reader finished twice"))
                })?;
                self.out_len = pass.finish(&mut self.out).map_err(err)?;
                return Ok(());
            }
            self.out_len = pass.update(&self.inbuf[..n], &mut self.out).map_err(err)?;
        }
        Ok(())
    }
}

impl<R: Read + Seek> Read for VerifiedReader<R> {
    /// Plaintext of verified bytes. The last call that reaches the end re-checks the tag; an error
    /// there means the source changed after pass one: discard everything read.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_at == self.out_len {
            self.refill()?;
        }
        let n = buf.len().min(self.out_len - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

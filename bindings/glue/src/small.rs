//! The small machines: [`Describe`] (an object's envelope without a key, [`DescribeObject`])
//! and [`Delete`] (an object and its instruction file, [`DeleteObject`]).

use crate::fail::{Core, R};
use crate::get::with_id;
use crate::opts::header_pairs;
use crate::shape;
use crate::texts::{DeleteCell, DescribeCell, TextCell, Texts};
use crate::val::Val;
use s3_encryption::object::{DeleteNext, DeleteObject, DescribeNext, DescribeObject, RequestId};

/// Describes one object.
#[derive(Debug)]
pub struct Describe {
    m: DescribeCell,
}

impl Describe {
    /// Describe `bucket/key` (a version, if given), instruction file at `key + suffix`.
    pub fn new(
        bucket: &str,
        key: &str,
        version_id: Option<String>,
        suffix: Option<String>,
    ) -> R<Describe> {
        let mut t = Texts::new(bucket.into(), key.into());
        t.version_id = version_id;
        if let Some(s) = suffix {
            t.suffix = s;
        }
        let m = DescribeCell::try_new(TextCell::of(t), |c| {
            let t = c.texts();
            DescribeObject::new(&t.bucket, &t.key, t.version_id.as_deref(), &t.suffix)
        })
        .c()?;
        Ok(Describe { m })
    }

    fn m(&self) -> &DescribeObject<'_> {
        self.m.borrow_dependent()
    }

    fn m_mut<T>(&mut self, f: impl for<'x> FnOnce(&mut DescribeObject<'x>) -> T) -> T {
        self.m.with_dependent_mut(|_, m| f(m))
    }

    /// `{kind: "send", id}` or `{kind: "done"}`.
    pub fn poll(&mut self) -> R<Val> {
        Ok(match self.m_mut(|m| m.poll()).c()? {
            DescribeNext::Send(id) => with_id("send", id),
            DescribeNext::Done => Val::kind("done"),
        })
    }

    /// The request `id`.
    pub fn request(&self, id: u32) -> R<Val> {
        Ok(shape::request(
            &self.m().request(RequestId::from_raw(id)).c()?,
        ))
    }

    /// A piece of the instruction file's body.
    pub fn body(&mut self, id: u32, piece: &[u8]) -> R<()> {
        self.m_mut(|m| m.body(RequestId::from_raw(id), piece)).c()
    }

    /// The response to `id`.
    pub fn response(&mut self, id: u32, status: u16, headers: &[String]) -> R<()> {
        let h = header_pairs(headers)?;
        self.m_mut(|m| m.response(RequestId::from_raw(id), status, h))
            .c()
    }

    /// The envelope (see [`shape::envelope`]), or `null`.
    pub fn envelope(&self) -> Val {
        self.m().envelope().map_or(Val::Null, shape::envelope)
    }

    /// The object (`storedLength`, `etag`, `versionId`), or `null`.
    pub fn object(&self) -> Val {
        self.m().object().map_or(Val::Null, shape::head)
    }

    /// Whether the envelope came from the instruction file.
    pub fn instruction_file_used(&self) -> bool {
        self.m().instruction_file_used()
    }

    /// The plaintext length, when the envelope and the stored length say it.
    pub fn plaintext_length(&self) -> Option<f64> {
        let env = self.m().envelope()?;
        let o = self.m().object()?;
        env.plaintext_len(o.stored_len()).map(|n| n as f64)
    }
}

/// Deletes one object and its instruction file.
#[derive(Debug)]
pub struct Delete {
    m: DeleteCell,
}

impl Delete {
    /// Delete `bucket/key` and, when it has one, its instruction file at `key + suffix`.
    pub fn new(bucket: &str, key: &str, suffix: Option<String>) -> R<Delete> {
        let mut t = Texts::new(bucket.into(), key.into());
        if let Some(s) = suffix {
            t.suffix = s;
        }
        let m = DeleteCell::try_new(TextCell::of(t), |c| {
            let t = c.texts();
            DeleteObject::new(&t.bucket, &t.key, &t.suffix)
        })
        .c()?;
        Ok(Delete { m })
    }

    fn m_mut<T>(&mut self, f: impl for<'x> FnOnce(&mut DeleteObject<'x>) -> T) -> T {
        self.m.with_dependent_mut(|_, m| f(m))
    }

    /// `{kind: "send", id}` or `{kind: "done", object, instructionFile}`.
    pub fn poll(&mut self) -> R<Val> {
        Ok(match self.m_mut(|m| m.poll()).c()? {
            DeleteNext::Send(id) => with_id("send", id),
            DeleteNext::Done(d) => Val::kind("done")
                .with("object", d.object)
                .with("instructionFile", d.instruction_file),
        })
    }

    /// The request `id`.
    pub fn request(&self, id: u32) -> R<Val> {
        Ok(shape::request(
            &self
                .m
                .borrow_dependent()
                .request(RequestId::from_raw(id))
                .c()?,
        ))
    }

    /// A piece of the instruction file's body.
    pub fn body(&mut self, id: u32, piece: &[u8]) -> R<()> {
        self.m_mut(|m| m.body(RequestId::from_raw(id), piece)).c()
    }

    /// The response to `id`.
    pub fn response(&mut self, id: u32, status: u16, headers: &[String]) -> R<()> {
        let h = header_pairs(headers)?;
        self.m_mut(|m| m.response(RequestId::from_raw(id), status, h))
            .c()
    }
}

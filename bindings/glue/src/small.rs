//! The small machines: [`Describe`] (an object's envelope without a key, [`DescribeObject`])
//! and [`Delete`] (an object and its instruction file, [`DeleteObject`]).

use crate::fail::{Core, R};
use crate::get::with_id;
use crate::shape;
use crate::texts::{DeleteCell, DescribeCell, TextCell, Texts};
use crate::val::Val;
use s3_encryption::object::{DeleteNext, DeleteObject, DescribeNext, DescribeObject};

/// Describes one object.
#[derive(Debug)]
pub struct Describe {
    m: DescribeCell,
}

machine_common!(Describe, DescribeObject, body);

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

    /// `{kind: "send", id}` or `{kind: "done"}`.
    pub fn poll(&mut self) -> R<Val> {
        Ok(match self.m_mut(|m| m.poll()).c()? {
            DescribeNext::Send(id) => with_id("send", id),
            DescribeNext::Done => Val::kind("done"),
        })
    }

    /// The envelope (see `shape::envelope`), or `null`.
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

machine_common!(Delete, DeleteObject, body);

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

    /// `{kind: "send", id}` or `{kind: "done", object, instructionFile}`.
    pub fn poll(&mut self) -> R<Val> {
        Ok(match self.m_mut(|m| m.poll()).c()? {
            DeleteNext::Send(id) => with_id("send", id),
            DeleteNext::Done(d) => Val::kind("done")
                .with("object", d.object)
                .with("instructionFile", d.instruction_file),
        })
    }
}

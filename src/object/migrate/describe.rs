//! A migration's first step: describe the object (its HEAD, then its instruction file when the
//! metadata holds no envelope) and take the owned [`Source`] snapshot that every later request is
//! pinned to.
//!
//! Unlike [`DescribeObject`], a plain object is not an error here: a migration reports it and
//! leaves it alone, so it is a [`Source`] whose [`Source::plan`] is
//! [`Plan::NotEncrypted`](super::Plan::NotEncrypted).

use super::plan::{HeadFacts, Source};
use crate::error::{Error, Result};
use crate::object::describe::{DescribeNext, DescribeObject};
use crate::object::request::{Request, RequestId};

/// The description of a migration's source object. Drive it like [`DescribeObject`]:
///
/// ```text
/// let mut d = DescribeSource::new(bucket, key, suffix)?;
/// while let Some(id) = d.poll()? {
///     let resp = http.send(d.request(id)?);       // a HEAD, maybe a capped GET
///     if let Some(body) = resp.body { d.body(id, &body)?; }
///     d.response(id, resp.status, resp.headers)?;
/// }
/// let source = d.finish()?;                         // then source.plan(...)
/// ```
pub struct DescribeSource<'a> {
    bucket: &'a str,
    key: &'a str,
    suffix: &'a str,
    describe: DescribeObject<'a>,
    head: Option<HeadFacts>,
    plain: bool,
    done: bool,
}

impl core::fmt::Debug for DescribeSource<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DescribeSource")
            .field("describe", &self.describe)
            .field("plain", &self.plain)
            .finish_non_exhaustive()
    }
}

impl<'a> DescribeSource<'a> {
    /// Describe the current version of `bucket/key`, its instruction file at `key + suffix`.
    pub fn new(bucket: &'a str, key: &'a str, suffix: &'a str) -> Result<Self> {
        Ok(DescribeSource {
            bucket,
            key,
            suffix,
            describe: DescribeObject::new(bucket, key, None, suffix)?,
            head: None,
            plain: false,
            done: false,
        })
    }

    /// The next request to make, or `None` when the description is complete
    /// ([`DescribeSource::finish`]). A plain object ends the description; it is not an error.
    pub fn poll(&mut self) -> Result<Option<RequestId>> {
        let next = if self.plain {
            None
        } else {
            match self.describe.poll() {
                Ok(DescribeNext::Send(id)) => Some(id),
                Ok(DescribeNext::Done) => None,
                Err(Error::NotEncrypted) => {
                    self.plain = true;
                    None
                }
                Err(e) => return Err(e),
            }
        };
        self.done = next.is_none();
        Ok(next)
    }

    /// The request `id` ([`DescribeObject::request`]).
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        self.describe.request(id)
    }

    /// The body of a successful response to `id` (the instruction file's), before
    /// [`DescribeSource::response`]. Capped like every instruction-file read.
    pub fn body(&mut self, id: RequestId, piece: &[u8]) -> Result<()> {
        self.describe.body(id, piece)
    }

    /// Report the response to `id`. The first one (the HEAD) also gives the content type and user
    /// metadata the new object keeps.
    pub fn response<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
        I::IntoIter: Clone,
    {
        let headers = headers.into_iter();
        let first = self.head.is_none();
        match self.describe.response(id, status, headers.clone()) {
            Ok(()) => {}
            Err(Error::NotEncrypted) => self.plain = true,
            Err(e) => return Err(e),
        }
        if first {
            self.head = Some(HeadFacts::read(headers)?);
        }
        Ok(())
    }

    /// The snapshot, once [`DescribeSource::poll`] returned `None`.
    pub fn finish(self) -> Result<Source> {
        if !self.done {
            return Err(Error::ApiMisuse(
                "DescribeSource::finish: not valid in this state",
            ));
        }
        let head = self.head.ok_or(Error::ApiMisuse(
            "DescribeSource::finish: not valid in this state",
        ))?;
        Source::from_description(self.bucket, self.key, self.suffix, &self.describe, head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_refused_before_the_description_is_complete() {
        let mut d = DescribeSource::new("b", "k", ".instruction").unwrap();
        let id = d.poll().unwrap().unwrap();
        assert!(d.request(id).is_ok());
        assert!(d.finish().is_err());
    }

    #[test]
    fn a_plain_object_ends_the_description_without_an_error() {
        let mut d = DescribeSource::new("b", "k", ".instruction").unwrap();
        let id = d.poll().unwrap().unwrap();
        let head = [
            ("content-length", "5"),
            ("etag", "\"e\""),
            ("content-type", "text/plain"),
            ("x-amz-meta-team", "blue"),
        ];
        d.response(id, 200, head.iter().copied()).unwrap();
        // No envelope in the metadata: the instruction file is asked for; it does not exist.
        let id = d.poll().unwrap().unwrap();
        d.response(id, 404, [].iter().copied()).unwrap();
        assert_eq!(d.poll().unwrap(), None);
        let s = d.finish().unwrap();
        assert_eq!(s.etag(), Some("\"e\""));
        assert_eq!(
            s.plan(super::super::MigrateTarget::ToV3),
            Ok(super::super::Plan::NotEncrypted)
        );
    }
}

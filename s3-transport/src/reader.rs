//! Verified plaintext of one object as an `AsyncRead`.

use crate::error::Result;
use crate::info::{GetOutput, ObjectInfo};

/// Verified plaintext of one object as an [`AsyncRead`](tokio::io::AsyncRead); see
/// [`S3EncryptionClient::get_object_reader`](crate::S3EncryptionClient::get_object_reader).
#[derive(Debug)]
pub struct ObjectReader {
    info: ObjectInfo,
    pipe: tokio::io::DuplexStream,
    verdict: tokio::sync::oneshot::Receiver<Result<GetOutput>>,
    output: Option<GetOutput>,
    failed: bool,
    task: tokio::task::JoinHandle<()>,
}

impl ObjectReader {
    pub(crate) fn new(
        info: ObjectInfo,
        pipe: tokio::io::DuplexStream,
        verdict: tokio::sync::oneshot::Receiver<Result<GetOutput>>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        ObjectReader {
            info,
            pipe,
            verdict,
            output: None,
            failed: false,
            task,
        }
    }

    /// The object being read.
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    /// How the read went, once the reader has reported end of stream.
    pub fn output(&self) -> Option<&GetOutput> {
        self.output.as_ref()
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl tokio::io::AsyncRead for ObjectReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::{Poll, ready};
        let this = self.get_mut();
        if this.output.is_some() {
            return Poll::Ready(Ok(()));
        }
        if this.failed {
            return Poll::Ready(Err(std::io::Error::other(
                "the object failed to read (reported earlier)",
            )));
        }
        let before = buf.filled().len();
        ready!(std::pin::Pin::new(&mut this.pipe).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            return Poll::Ready(Ok(()));
        }
        // The task closed the pipe: end of stream only if it succeeded.
        match ready!(std::pin::Pin::new(&mut this.verdict).poll(cx)) {
            Ok(Ok(out)) => {
                this.output = Some(out);
                Poll::Ready(Ok(()))
            }
            Ok(Err(e)) => {
                this.failed = true;
                Poll::Ready(Err(std::io::Error::other(e)))
            }
            Err(_) => {
                this.failed = true;
                Poll::Ready(Err(std::io::Error::other("the GET task stopped")))
            }
        }
    }
}

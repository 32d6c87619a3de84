//! The Python transport: each request of a machine becomes a dict handed to
//! `transport.submit(request, body) -> Future`; a future's result is `(status, headers, body,
//! upload_id)`. Body reading helpers.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use s3_encryption::object::{Operation, Request, RequestBody};

/// The Python transport: `submit(request, body) -> Future`, `wait_any(futures) -> index`; a
/// future's result is `(status, headers, body, upload_id)`.
pub(crate) struct Io<'py> {
    pub(crate) py: Python<'py>,
    pub(crate) t: Bound<'py, PyAny>,
}

pub(crate) struct Resp<'py> {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Bound<'py, PyAny>>,
    pub(crate) upload_id: Option<String>,
}

impl<'py> Resp<'py> {
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<'py> Io<'py> {
    pub(crate) fn request_dict(&self, r: &Request<'_>) -> PyResult<Bound<'py, PyDict>> {
        let py = self.py;
        let d = PyDict::new(py);
        d.set_item("id", r.id.get())?;
        d.set_item("op", r.operation.name())?;
        d.set_item("bucket", r.bucket)?;
        d.set_item("key", r.full_key().to_string())?;
        d.set_item("object_key", r.key)?;
        d.set_item("is_object", r.key_suffix.is_empty())?;
        d.set_item("version_id", r.version_id)?;
        d.set_item("range", r.range_header().map(|v| v.to_string()))?;
        d.set_item("if_match", r.if_match)?;
        d.set_item("upload_id", r.upload_id)?;
        d.set_item("part_number", r.part_number)?;
        d.set_item("content_length", r.content_length)?;
        d.set_item("content_type", r.content_type)?;
        d.set_item("tagging", r.tagging)?;
        d.set_item("body_limit", r.response_body_limit)?;
        let md = PyDict::new(py);
        for (k, v) in r.metadata() {
            md.set_item(k, v)?;
        }
        d.set_item("metadata", md)?;
        Ok(d)
    }

    pub(crate) fn submit(
        &self,
        r: &Request<'_>,
        body: Option<&[u8]>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let d = self.request_dict(r)?;
        let body = match (body, r.body) {
            (Some(b), _) => Some(PyBytes::new(self.py, b)),
            (None, RequestBody::Bytes(b)) => Some(PyBytes::new(self.py, b)),
            _ => None,
        };
        self.t.call_method1("submit", (d, body))
    }

    /// Submit a request whose body is a file-like object (read by the transport's thread).
    pub(crate) fn submit_file(
        &self,
        r: &Request<'_>,
        body: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let d = self.request_dict(r)?;
        self.t.call_method1("submit", (d, body))
    }

    pub(crate) fn wait_any(&self, futs: &[Bound<'py, PyAny>]) -> PyResult<usize> {
        let l = PyList::new(self.py, futs)?;
        self.t.call_method1("wait_any", (l,))?.extract()
    }

    pub(crate) fn result(&self, fut: &Bound<'py, PyAny>) -> PyResult<Resp<'py>> {
        let r = fut.call_method0("result")?;
        let t = r.cast::<PyTuple>().map_err(PyErr::from)?;
        let status: u16 = t.get_item(0)?.extract()?;
        let headers: Vec<(String, String)> = t.get_item(1)?.extract()?;
        let body = t.get_item(2)?;
        let body = if body.is_none() { None } else { Some(body) };
        let upload_id: Option<String> = t.get_item(3)?.extract()?;
        Ok(Resp {
            status,
            headers,
            body,
            upload_id,
        })
    }

    /// Submit and wait (sequential machines).
    pub(crate) fn call(&self, r: &Request<'_>, body: Option<&[u8]>) -> PyResult<Resp<'py>> {
        let f = self.submit(r, body)?;
        self.result(&f)
    }

    /// [`Io::call`] for a request whose answer a machine reads whole and small (a HEAD, an
    /// instruction file's GET, a DELETE): the response, and the body of a successful GET read up
    /// to the request's cap. Any other body is closed unread.
    pub(crate) fn call_small(&self, r: &Request<'_>) -> PyResult<(Resp<'py>, Option<Vec<u8>>)> {
        let resp = self.call(r, None)?;
        let mut bytes = None;
        if let Some(b) = &resp.body {
            if r.operation == Operation::GetObject && (200..300).contains(&resp.status) {
                bytes = Some(read_small(b, r.response_body_limit.unwrap_or(1 << 20))?);
            } else {
                close_body(b);
            }
        }
        Ok((resp, bytes))
    }
}

/// Read up to `n` bytes (exactly `n` unless the stream ends when `exact`).
pub(crate) fn read_body(body: &Bound<'_, PyAny>, n: usize, exact: bool) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(n.min(16 << 20));
    while out.len() < n {
        let want = n - out.len();
        let chunk = body.call_method1("read", (want,))?;
        let b = chunk.cast::<PyBytes>().map_err(PyErr::from)?;
        let b = b.as_bytes();
        if b.is_empty() {
            break;
        }
        out.extend_from_slice(b);
        if !exact {
            break;
        }
    }
    Ok(out)
}

/// Read up to `n` bytes (exactly `n` unless the stream ends when `exact`) as the `bytes`
/// objects the body returned, uncopied.
pub(crate) fn read_pieces<'py>(
    body: &Bound<'py, PyAny>,
    n: usize,
    exact: bool,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let mut out = Vec::new();
    let mut got = 0usize;
    while got < n {
        let chunk = body.call_method1("read", (n - got,))?;
        let b = chunk.cast_into::<PyBytes>().map_err(PyErr::from)?;
        let len = b.as_bytes().len();
        if len == 0 {
            break;
        }
        got += len;
        out.push(b);
        if !exact {
            break;
        }
    }
    Ok(out)
}

pub(crate) fn close_body(body: &Bound<'_, PyAny>) {
    if body.hasattr("close").unwrap_or(false) {
        let _ = body.call_method0("close");
    }
}

/// Read a small body whole (an instruction file), at most `limit + 1` bytes.
pub(crate) fn read_small(body: &Bound<'_, PyAny>, limit: u64) -> PyResult<Vec<u8>> {
    let v = read_body(body, limit as usize + 1, true)?;
    close_body(body);
    Ok(v)
}

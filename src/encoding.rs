//! The text codecs the envelope is written in, without an allocator: base64, a strict flat-JSON
//! reader and writer, and RFC 2047 encoded words. They read from and write into the fixed
//! storage the envelope keeps its values in (`arena`).

pub(crate) mod arena;
pub(crate) mod base64;
pub(crate) mod json;
pub(crate) mod rfc2047;

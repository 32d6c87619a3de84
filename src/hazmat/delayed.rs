//! The delayed-authentication stream.

use crate::decrypt::Stream;
use crate::error::Result;

/// Streaming decryption that releases plaintext before the tag is checked
/// ([`super::delayed_authentication`]). Holds back the last 16 bytes (the GCM tag, or the last
/// CBC block).
#[derive(Debug)]
pub struct DelayedStream(pub(super) Stream);

impl DelayedStream {
    /// How many bytes [`DelayedStream::update`] will write for an input of `input_len` bytes.
    pub fn output_len(&self, input_len: usize) -> usize {
        self.0.output_len(input_len)
    }

    /// Process the next body bytes; writes exactly [`DelayedStream::output_len`] bytes to
    /// `output` and returns that count. Too small an `output` changes nothing. The bytes are
    /// **not authenticated** until [`DelayedStream::finish`] succeeds.
    pub fn update(&mut self, input: &[u8], output: &mut [u8]) -> Result<usize> {
        self.0.update(input, output)
    }

    /// Bytes [`DelayedStream::finish`] writes: 0 for GCM, up to 15 for CBC (the last block).
    pub fn finish_output_len(&self) -> usize {
        self.0.finish_output_len()
    }

    /// End of body: verify the tag (GCM) or padding (CBC) and write any final plaintext (CBC) to
    /// `output`. On error, discard everything this stream released.
    #[must_use = "an error here means the released plaintext must be discarded"]
    pub fn finish(self, output: &mut [u8]) -> Result<usize> {
        self.0.finish(output)
    }
}

//! The bodies of concurrent ranged GETs, read at once: each by its own task, which gathers what
//! the HTTP client reads into pieces of [`DIGEST_CHUNK`] (parts start on such a boundary, so a
//! piece is one digest chunk of the object) and sends them on one bounded channel. The driver
//! feeds every part to the machine as its pieces come (the machine keeps one GHASH state per
//! part), so no part is held whole in memory, and the copying runs beside the driver.

use crate::error::Result;
use crate::sdk;
use aws_sdk_s3::primitives::ByteStream;
use s3_encryption::object::{DIGEST_CHUNK, RequestId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The size of the pieces readers send.
const PIECE: usize = DIGEST_CHUNK as usize;

/// Pieces waiting on the channel, all parts together.
const CHANNEL_PIECES: usize = 4;

/// Buffers kept for reuse.
const POOL: usize = 16;

/// What a reader task sends: a piece, or the end (`None`), or the error that stopped it.
pub(crate) type Arrival = (RequestId, Result<Option<Vec<u8>>>);

/// Part bodies being read, and the piece of each that the driver is gathering for the machine
/// (when the machine asks for other lengths than the readers send).
pub(crate) struct PartBodies {
    tx: mpsc::Sender<Arrival>,
    rx: mpsc::Receiver<Arrival>,
    /// Dropping the set (an error ends the read) aborts the readers.
    readers: JoinSet<()>,
    pieces: HashMap<RequestId, Vec<u8>>,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl PartBodies {
    pub(crate) fn new() -> PartBodies {
        let (tx, rx) = mpsc::channel(CHANNEL_PIECES);
        PartBodies {
            tx,
            rx,
            readers: JoinSet::new(),
            pieces: HashMap::new(),
            pool: Arc::default(),
        }
    }

    /// Whether any body is still being read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Start reading `body` of request `id`.
    pub(crate) fn start(&mut self, id: RequestId, mut body: ByteStream) {
        let (tx, pool) = (self.tx.clone(), Arc::clone(&self.pool));
        self.pieces.insert(id, Vec::new());
        self.readers.spawn(async move {
            let buffer = || {
                let mut b = pool
                    .lock()
                    .ok()
                    .and_then(|mut p| p.pop())
                    .unwrap_or_default();
                b.clear();
                b.reserve_exact(PIECE);
                b
            };
            let mut piece = buffer();
            loop {
                let chunk = match body.try_next().await.map_err(sdk::stream_err) {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        if !piece.is_empty() && tx.send((id, Ok(Some(piece)))).await.is_err() {
                            return;
                        }
                        let _ = tx.send((id, Ok(None))).await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send((id, Err(e))).await;
                        return;
                    }
                };
                let mut rest = &chunk[..];
                while !rest.is_empty() {
                    let take = (PIECE - piece.len()).min(rest.len());
                    piece.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if piece.len() == PIECE {
                        let full = std::mem::replace(&mut piece, buffer());
                        if tx.send((id, Ok(Some(full)))).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }

    /// The next piece (or end, or error) of any body; `None` when none is being read.
    pub(crate) async fn next(&mut self) -> Option<Arrival> {
        if self.pieces.is_empty() {
            return None;
        }
        self.rx.recv().await
    }

    /// The piece the driver is gathering for `id`.
    pub(crate) fn piece(&mut self, id: RequestId) -> Option<&mut Vec<u8>> {
        self.pieces.get_mut(&id)
    }

    /// `id`'s body ended: the piece it was gathering.
    pub(crate) fn finish(&mut self, id: RequestId) -> Option<Vec<u8>> {
        self.pieces.remove(&id)
    }

    /// Keep `buf` for the readers to fill again.
    pub(crate) fn recycle(&self, buf: Vec<u8>) {
        if buf.capacity() >= PIECE
            && let Ok(mut p) = self.pool.lock()
            && p.len() < POOL
        {
            p.push(buf);
        }
    }
}

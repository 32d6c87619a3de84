//! The GET machine against the scripted store, in every read mode.

use super::*;
use s3_encryption::object::{
    GetDone, GetIntent, GetNext, GetObject, INSTRUCTION_FILE_LIMIT, ReadMode, Released, RequestId,
    Verification,
};
use s3_encryption::{ByteRange, DecryptPolicy, hazmat};
use std::collections::{BTreeMap, HashMap};

/// The read modes the target drives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// No hazmat opt-in: in memory, storage, two passes, parallel.
    Verified,
    /// Hazmat: delayed authentication.
    Delayed,
    /// Hazmat: an unauthenticated range.
    Ranged(ByteRange),
    /// Hazmat: GCM plaintext into unnamed storage before the tag is checked.
    UnverifiedStorage,
}

struct Run<'f> {
    f: &'f Fixture,
    mode: Mode,
    /// Largest piece the machine may ask for.
    feed_cap: u64,
    /// Largest piece the driver hands over when the size is not exact.
    piece_max: usize,
    /// Released plaintext by offset.
    released: BTreeMap<u64, Vec<u8>>,
    /// What the machine had stored, by offset (sparse).
    storage: BTreeMap<u64, Vec<u8>>,
    /// Body bytes fed in this input, all requests.
    fed: u64,
}

fn byte_range(u: &mut Unstructured<'_>) -> ByteRange {
    let n = |u: &mut Unstructured<'_>| match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => u.int_in_range(0u64..=1100).unwrap_or(0),
        1 => u.int_in_range(0u64..=40).unwrap_or(0),
        2 => u64::MAX,
        _ => u.arbitrary().unwrap_or(0),
    };
    match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => ByteRange::Inclusive(n(u), n(u)),
        1 => ByteRange::From(n(u)),
        2 => ByteRange::Suffix(n(u)),
        _ => {
            // Through the header parser.
            let s = string(u, 40).unwrap_or_default();
            ByteRange::parse(&s).unwrap_or(ByteRange::From(0))
        }
    }
}

pub fn run(u: &mut Unstructured<'_>, f: &Fixture, which: u8) {
    let mut it = GetIntent::new("bucket", "dir/object");
    it.policy = if u.arbitrary().unwrap_or(false) {
        open_policy()
    } else {
        DecryptPolicy::new()
    };
    it.version_id = match u.int_in_range(0u8..=2).unwrap_or(0) {
        0 => None,
        1 => Some(VERSION),
        _ => Some("another-version"),
    };
    it.if_match = match u.int_in_range(0u8..=2).unwrap_or(0) {
        0 => None,
        1 => Some(ETAG),
        _ => Some("\"not-the-etag\""),
    };
    it.memory_budget = match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => 64 << 20,
        1 => 0,
        2 => 512,
        _ => u.int_in_range(0u64..=4096).unwrap_or(0),
    };
    it.storage = u.arbitrary().unwrap_or(false);
    it.connections = u.int_in_range(1u16..=4).unwrap_or(1);
    it.head_first = u.arbitrary().unwrap_or(false);
    it.read_instruction_file = u.ratio(7u8, 8).unwrap_or(true);
    if u.arbitrary().unwrap_or(false) {
        it.encryption_context = None;
    }
    let piece_max = [1usize << 20, 1, 7, 16, 4097][u.choose_index(5).unwrap_or(0)];
    let mode = match which {
        1 => {
            it.mode = ReadMode::Unauthenticated(hazmat::delayed_authentication_read());
            it.policy.delayed_authentication = u.ratio(7u8, 8).unwrap_or(true);
            Mode::Delayed
        }
        2 => {
            let r = byte_range(u);
            it.mode = ReadMode::Unauthenticated(hazmat::ranged_read(r));
            it.policy.legacy_unauthenticated_modes = u.ratio(7u8, 8).unwrap_or(true);
            Mode::Ranged(r)
        }
        3 => {
            it.storage = true;
            it.unverified_plaintext_storage = Some(hazmat::unverified_plaintext_storage());
            Mode::UnverifiedStorage
        }
        _ => Mode::Verified,
    };
    let mut run = Run {
        f,
        mode,
        feed_cap: it
            .memory_budget
            .max(1 << 20)
            .max(INSTRUCTION_FILE_LIMIT as u64),
        piece_max,
        released: BTreeMap::new(),
        storage: BTreeMap::new(),
        fed: 0,
    };
    let r = drive(u, &mut run, it);
    run.check(r);
}

fn drive(u: &mut Unstructured<'_>, run: &mut Run<'_>, it: GetIntent<'_>) -> Result<GetDone, Error> {
    let mut g = GetObject::new(it)?;
    let mut queue: Vec<RequestId> = Vec::new();
    let mut answers: HashMap<RequestId, (Answer, u64)> = HashMap::new();
    for _ in 0..10_000 {
        match g.poll()? {
            GetNext::Send(id) => queue.push(id),
            GetNext::Wait => {
                assert!(!queue.is_empty(), "Wait with nothing outstanding");
                let i = u.choose_index(queue.len()).unwrap_or(0);
                let id = queue.remove(i);
                let r = g.request(id)?;
                let limit = r.response_body_limit;
                let mut a = honest(&r, run.f);
                mutate(u, &mut a);
                g.response(id, a.status, a.pairs())?;
                let limit = limit
                    .or(g.object().map(|o| o.stored_len()))
                    .unwrap_or(u64::MAX);
                answers.insert(id, (a, limit));
            }
            GetNext::ReadBody(id) => {
                let (a, limit) = answers
                    .remove(&id)
                    .expect("ReadBody of an unanswered request");
                run.feed(&mut g, id, &a.body, a.endless, limit, false)?;
            }
            GetNext::Replay(id) => {
                let (first, last) = g.replay_range(id)?;
                let bytes = run.stored(first, last);
                run.feed(&mut g, id, &bytes, false, last - first + 1, true)?;
            }
            GetNext::UnwrapKey => g.unwrap_aes(&master())?,
            GetNext::Done(d) => return Ok(d),
        }
    }
    panic!("the GET machine did not finish in 10,000 steps");
}

impl Run<'_> {
    /// Read back `[first, last]` of what the machine stored (it must all have been stored).
    fn stored(&self, first: u64, last: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = first;
        while at <= last {
            let (off, piece) = self
                .storage
                .range(..=at)
                .next_back()
                .expect("a replay of bytes never stored");
            let end = off + piece.len() as u64;
            assert!(end > at, "a replay of bytes never stored");
            let to = end.min(last + 1);
            out.extend_from_slice(&piece[(at - off) as usize..(to - off) as usize]);
            at = to;
        }
        out
    }

    fn feed(
        &mut self,
        g: &mut GetObject<'_>,
        id: RequestId,
        body: &[u8],
        endless: bool,
        limit: u64,
        replay: bool,
    ) -> Result<(), Error> {
        let mut pos = 0usize;
        let mut accepted = 0u64;
        loop {
            let f = g.feed(id)?;
            assert!(
                f.len as u64 <= self.feed_cap,
                "the machine asked for a piece of {} bytes",
                f.len
            );
            let avail = if endless {
                FEED_BUDGET.saturating_sub(self.fed) as usize
            } else {
                body.len() - pos
            };
            if avail == 0 {
                return g.end_of_body(id);
            }
            let mut n = if f.len == 0 {
                avail.min(100)
            } else {
                f.len.min(avail)
            };
            if !f.exact {
                n = n.min(self.piece_max);
                // An endless body in tiny pieces is millions of calls (seconds per input under
                // ASan) and no new behaviour: past its first 64 KiB it comes in pieces of at
                // least 4 KiB, as far as the machine's feed allows.
                if endless && self.fed > 64 << 10 {
                    n = n.max(f.len.min(avail).min(4096));
                }
            }
            let mut buf = if endless {
                vec![b'A'; n]
            } else {
                body[pos..pos + n].to_vec()
            };
            pos += if endless { 0 } else { n };
            self.fed += n as u64;
            let released = g.body(id, &mut buf)?;
            accepted += n as u64;
            assert!(
                accepted <= limit,
                "the machine accepted {accepted} body bytes of a request limited to {limit}"
            );
            match released {
                Released::Plaintext { start, len, offset } => {
                    assert!(start + len <= buf.len(), "released outside the piece");
                    self.release(offset, &buf[start..start + len]);
                }
                Released::Store { offset } => {
                    assert!(!replay, "a replay was stored again");
                    self.storage.insert(offset, buf);
                }
                Released::Nothing => {}
            }
            if f.exact && n < f.len {
                // The body ended inside the piece.
                return g.end_of_body(id);
            }
        }
    }

    fn release(&mut self, offset: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let end = offset + bytes.len() as u64;
        match self.mode {
            Mode::Verified => {
                let pt = &self.f.plaintext;
                assert!(
                    end <= pt.len() as u64 && pt[offset as usize..end as usize] == *bytes,
                    "a verified read released bytes at {offset} that are not the plaintext"
                );
            }
            Mode::Ranged(ByteRange::Inclusive(a, b)) => {
                assert!(
                    offset >= a && end <= b.saturating_add(1),
                    "released outside the range"
                );
            }
            Mode::Ranged(ByteRange::From(a)) => assert!(offset >= a, "released before the range"),
            _ => {}
        }
        self.released.insert(offset, bytes.to_vec());
    }

    fn assembled(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for (off, b) in &self.released {
            assert_eq!(
                *off,
                v.len() as u64,
                "released plaintext has a gap or an overlap"
            );
            v.extend_from_slice(b);
        }
        v
    }

    fn check(&self, r: Result<GetDone, Error>) {
        let total: u64 = self.released.values().map(|b| b.len() as u64).sum();
        match r {
            Err(e) => {
                check_error(&e, "GetObject");
                if e == Error::Authentication && self.mode == Mode::Verified {
                    assert_eq!(total, 0, "a failed authentication released plaintext");
                }
            }
            Ok(d) => {
                if self.mode != Mode::UnverifiedStorage {
                    assert_eq!(
                        d.released, total,
                        "GetDone.released is not what was released"
                    );
                }
                match self.mode {
                    Mode::Verified | Mode::Delayed => {
                        assert!(
                            self.assembled() == self.f.plaintext,
                            "a finished read released other bytes than the plaintext"
                        );
                        let want_delayed = self.mode == Mode::Delayed;
                        assert_eq!(
                            d.verification == Verification::DelayedAuthentication,
                            want_delayed
                        );
                    }
                    Mode::UnverifiedStorage if d.verification == Verification::InMemory => {
                        // Small enough for the memory budget: verified in memory instead.
                        assert!(
                            self.assembled() == self.f.plaintext,
                            "a finished read released other bytes than the plaintext"
                        );
                    }
                    Mode::UnverifiedStorage => {
                        assert_eq!(d.verification, Verification::DecryptedInStorage);
                        let mut v = Vec::new();
                        for (off, b) in &self.storage {
                            assert!(*off <= v.len() as u64, "a gap in the storage");
                            v.truncate(*off as usize);
                            v.extend_from_slice(b);
                        }
                        v.truncate(self.f.plaintext.len());
                        assert!(v == self.f.plaintext, "the storage holds other plaintext");
                    }
                    Mode::Ranged(r) => {
                        assert_eq!(d.verification, Verification::UnauthenticatedRange);
                        if let ByteRange::Suffix(n) = r {
                            assert!(total <= n, "a suffix range released more than asked");
                        }
                    }
                }
            }
        }
    }
}

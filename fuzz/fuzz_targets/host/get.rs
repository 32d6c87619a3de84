//! `Get` (the glue's read) driven by a host that follows its requests or does anything else.

use super::*;
use crate::machines::{FEED_BUDGET, Fixture};
use fuzz_support::{DATA_KEY, master};
use s3_encryption_glue::{Get, aes_key, data_key};
use std::collections::{BTreeMap, HashMap};

struct Run<'f> {
    f: &'f Fixture,
    host: Host,
    /// The read mode asked for in the options: `verified` (none) or another.
    verified: bool,
    /// Released plaintext by offset.
    released: BTreeMap<u64, Vec<u8>>,
    /// What the machine stored, by offset.
    storage: BTreeMap<u64, Vec<u8>>,
    /// Requests sent and not answered; answered requests and their bodies.
    queue: Vec<u32>,
    answers: HashMap<u32, Answer>,
    fed: u64,
}

fn faithful_options() -> Val {
    Val::obj()
        .with("bucket", "bucket")
        .with("key", "dir/object")
        .with("commitmentPolicy", "REQUIRE_ENCRYPT_ALLOW_DECRYPT")
        .with(
            "encryptionContext",
            Val::List(vec!["fuzz".into(), "fixture".into()]),
        )
}

pub fn run(u: &mut Unstructured<'_>, f: &Fixture) {
    let mut host = Host::default();
    let o = options(u, &mut host, faithful_options());
    let verified = matches!(
        field(&o, "mode"),
        Val::Null | Val::Str(_) if text(&o, "mode").is_none_or(|m| m == "verified")
    );
    let Some(mut g) = host.call("Get::new", false, Get::new(&o)) else {
        assert!(host.odd_options, "the faithful options were refused");
        return;
    };
    let mut run = Run {
        f,
        host,
        verified,
        released: BTreeMap::new(),
        storage: BTreeMap::new(),
        queue: Vec::new(),
        answers: HashMap::new(),
        fed: 0,
    };
    let done = run.drive(u, &mut g);
    run.finish(done, &g);
}

impl Run<'_> {
    /// Drive until `done`, a failure, or the calls run out; returns whether it finished.
    fn drive(&mut self, u: &mut Unstructured<'_>, g: &mut Get) -> bool {
        let mut failed_polls = 0;
        while !self.host.exhausted() {
            // Out of input: the protocol, faithfully.
            if one_in(u, 5) {
                self.deviate(u, g);
                continue;
            }
            let next = g.poll();
            let ok = next.is_ok();
            let done = next.as_ref().is_ok_and(|v| kind(v) == "done");
            self.host.after_poll("Get::poll", ok, done, true);
            let Some(next) = self.host.call("Get::poll", true, next) else {
                failed_polls += 1;
                if failed_polls > 2 || !self.host.deviated {
                    return false;
                }
                continue;
            };
            let id = num(&next, "id").unwrap_or(0.0) as u32;
            match kind(&next).as_str() {
                "send" => self.queue.push(id),
                "wait" => {
                    assert!(
                        !self.queue.is_empty() || self.host.deviated,
                        "wait with nothing outstanding"
                    );
                    if self.queue.is_empty() {
                        return false;
                    }
                    let i = u.choose_index(self.queue.len()).unwrap_or(0);
                    let id = self.queue.remove(i);
                    self.respond(u, g, id);
                }
                "readBody" => {
                    let a = self.answers.remove(&id);
                    let Some(a) = a else {
                        assert!(self.host.deviated, "readBody of an unanswered request");
                        return false;
                    };
                    let body = if a.endless { Vec::new() } else { a.body };
                    self.feed(u, g, id, &body, a.endless);
                }
                "replay" => {
                    let Some(r) = self
                        .host
                        .call("Get::replay_range", false, g.replay_range(id))
                    else {
                        return false;
                    };
                    let (first, last) = (r[0] as u64, r[1] as u64);
                    let Some(bytes) = self.stored(first, last) else {
                        assert!(self.host.deviated, "a replay of bytes never stored");
                        return false;
                    };
                    self.feed(u, g, id, &bytes, false);
                }
                "unwrapKey" => self.unwrap(u, g),
                "done" => {
                    let released = num(&next, "released").unwrap_or(-1.0) as u64;
                    let total: u64 = self.released.values().map(|b| b.len() as u64).sum();
                    if self.verified {
                        assert_eq!(released, total, "done.released is not what was released");
                    }
                    return true;
                }
                other => panic!("Get::poll answered {other:?}"),
            }
        }
        false
    }

    fn respond(&mut self, u: &mut Unstructured<'_>, g: &mut Get, id: u32) {
        let Some(req) = self.host.call("Get::request", false, g.request(id)) else {
            return;
        };
        let a = answer(u, &mut self.host, &req, self.f);
        if self
            .host
            .call(
                "Get::response",
                true,
                g.response(id, a.status, &headers(&a)),
            )
            .is_some()
        {
            self.answers.insert(id, a);
        }
    }

    /// Hand over the key the machine asks for: the master key, the data key as a KMS answer or
    /// a JavaScript keyring's unwrap, or (tampering) a wrong key.
    fn unwrap(&mut self, u: &mut Unstructured<'_>, g: &mut Get) {
        match u.int_in_range(0u8..=4).unwrap_or(0) {
            0 => {
                self.host
                    .call("Get::unwrap_aes", true, g.unwrap_aes(&master()));
            }
            1 => {
                let r = g.external_unwrap_request();
                if let Some(req) = self.host.call("Get::external_unwrap_request", false, r) {
                    assert_eq!(text(&req, "wrap").as_deref(), Some("AES/GCM"));
                    let dk = data_key(&DATA_KEY).expect("a 32-byte key");
                    self.host.call("Get::data_key", true, g.data_key(&dk));
                } else {
                    // Only the AES/GCM and RSA wraps go to a JavaScript keyring.
                    let dk = data_key(&DATA_KEY).expect("a 32-byte key");
                    self.host.call("Get::data_key", true, g.data_key(&dk));
                }
            }
            2 => {
                let k = self.host.call("Get::key_request", false, g.key_request());
                if let Some(k) = k {
                    assert_eq!(kind(&k), "aes");
                }
                let dk = data_key(&DATA_KEY).expect("a 32-byte key");
                self.host.call("Get::data_key", true, g.data_key(&dk));
            }
            3 => {
                self.host.tampered = true;
                let b = any_bytes(u, 40);
                if let Some(dk) = self.host.call("data_key", false, data_key(&b)) {
                    self.host.call("Get::data_key", true, g.data_key(&dk));
                }
            }
            _ => {
                self.host.tampered = true;
                let b = any_bytes(u, 40);
                if let Some(k) = self.host.call("aes_key", false, aes_key(&b)) {
                    self.host.call("Get::unwrap_aes", true, g.unwrap_aes(&k));
                }
            }
        }
    }

    /// Feed `body` to `id` in the pieces the machine asks for.
    fn feed(&mut self, u: &mut Unstructured<'_>, g: &mut Get, id: u32, body: &[u8], endless: bool) {
        let piece_max = [1usize << 20, 1, 7, 16, 4097][u.choose_index(5).unwrap_or(0)];
        let mut pos = 0usize;
        loop {
            let Some(f) = self.host.call("Get::feed", false, g.feed(id)) else {
                return;
            };
            let (len, exact) = (num(&f, "len").unwrap_or(0.0) as usize, flag(&f, "exact"));
            let avail = if endless {
                FEED_BUDGET.saturating_sub(self.fed) as usize
            } else {
                body.len() - pos
            };
            if avail == 0 {
                self.host.call("Get::end_of_body", true, g.end_of_body(id));
                return;
            }
            let mut n = if len == 0 {
                avail.min(100)
            } else {
                len.min(avail)
            };
            if !exact {
                n = n.min(piece_max);
                if endless && self.fed > 64 << 10 {
                    n = n.max(len.min(avail).min(4096));
                }
            }
            let mut buf = if endless {
                vec![b'A'; n]
            } else {
                body[pos..pos + n].to_vec()
            };
            pos += if endless { 0 } else { n };
            self.fed += n as u64;
            let Some(r) = self.host.call("Get::body", true, g.body(id, &mut buf)) else {
                return;
            };
            self.released(&r, &buf);
            if exact && n < len {
                self.host.call("Get::end_of_body", true, g.end_of_body(id));
                return;
            }
        }
    }

    /// What `body` answered.
    fn released(&mut self, r: &Val, buf: &[u8]) {
        let at = |k| num(r, k).unwrap_or(0.0) as u64;
        match kind(r).as_str() {
            "plaintext" => {
                let (start, len, offset) = (at("start") as usize, at("len") as usize, at("offset"));
                assert!(start + len <= buf.len(), "released outside the piece");
                let bytes = &buf[start..start + len];
                if bytes.is_empty() {
                    return;
                }
                if self.verified || (!self.host.tampered && !self.host.deviated) {
                    let pt = &self.f.plaintext;
                    let end = offset as usize + len;
                    assert!(
                        end <= pt.len() && pt[offset as usize..end] == *bytes,
                        "released bytes at {offset} that are not the plaintext"
                    );
                }
                self.released.insert(offset, bytes.to_vec());
            }
            "store" => {
                self.storage.insert(at("offset"), buf.to_vec());
            }
            "nothing" => {}
            other => panic!("Get::body answered {other:?}"),
        }
    }

    /// `[first, last]` of what the machine stored, if all of it was.
    fn stored(&self, first: u64, last: u64) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = first;
        while at <= last {
            let (off, piece) = self.storage.range(..=at).next_back()?;
            let end = off + piece.len() as u64;
            if end <= at {
                return None;
            }
            let to = end.min(last + 1);
            out.extend_from_slice(&piece[(at - off) as usize..(to - off) as usize]);
            at = to;
        }
        Some(out)
    }

    /// Any call at all, with any arguments.
    fn deviate(&mut self, u: &mut Unstructured<'_>, g: &mut Get) {
        self.host.deviated = true;
        let id = any_id(u);
        match u.int_in_range(0u8..=13).unwrap_or(0) {
            0 => {
                let r = g.poll();
                let (ok, done) = (r.is_ok(), r.as_ref().is_ok_and(|v| kind(v) == "done"));
                self.host.after_poll("Get::poll", ok, done, true);
                self.host.call("Get::poll", true, r);
            }
            1 => {
                self.host.call("Get::request", false, g.request(id));
            }
            2 => {
                let h = any_flat(u);
                let s = any_status(u);
                self.host.call("Get::response", true, g.response(id, s, &h));
            }
            3 => {
                self.host.call("Get::feed", false, g.feed(id));
            }
            4 => {
                let mut b = any_bytes(u, 5000);
                if let Some(r) = self.host.call("Get::body", true, g.body(id, &mut b)) {
                    self.released(&r, &b);
                }
            }
            5 => {
                self.host.call("Get::end_of_body", true, g.end_of_body(id));
            }
            6 => {
                self.host
                    .call("Get::replay_range", false, g.replay_range(id));
            }
            7 => {
                self.host.call("Get::key_request", false, g.key_request());
            }
            8 => {
                let r = g.external_unwrap_request();
                self.host.call("Get::external_unwrap_request", false, r);
            }
            9 => {
                self.host
                    .call("Get::unwrap_aes", true, g.unwrap_aes(&master()));
            }
            10 => {
                let b = any_bytes(u, 40);
                if let Some(dk) = self.host.call("data_key", false, data_key(&b)) {
                    self.host.call("Get::data_key", true, g.data_key(&dk));
                }
            }
            11 => {
                // Ask for a request and answer it faithfully, out of turn.
                self.respond(u, g, id);
            }
            _ => {
                let _ = (g.envelope(), g.object(), g.released(), g.plaintext_length());
                let _ = g.instruction_file_used();
            }
        }
    }

    fn finish(&self, done: bool, g: &Get) {
        let total: u64 = self.released.values().map(|b| b.len() as u64).sum();
        assert!(
            g.released() as u64 >= total || !self.verified,
            "released() is below what was released"
        );
        if done && self.verified {
            let mut v = Vec::new();
            for (off, b) in &self.released {
                assert_eq!(
                    *off,
                    v.len() as u64,
                    "released plaintext has a gap or overlap"
                );
                v.extend_from_slice(b);
            }
            assert!(
                v == self.f.plaintext,
                "a finished verified read released other bytes than the plaintext"
            );
        }
        if self.host.faithful() {
            assert!(
                done,
                "a faithful read did not finish (failed: {:?})",
                self.host.failed
            );
        }
    }
}

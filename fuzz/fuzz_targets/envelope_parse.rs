//! Envelope parse of arbitrary metadata maps and instruction files.
//!
//! Input: metadata lines `key:value` separated by `\n`; a NUL byte, if present, ends the metadata
//! and the rest is the instruction file.
//!
//! Properties: parsing never panics; whatever parses renders (`Envelope::metadata` and
//! `write_instruction_file`) to an envelope that parses again to the same envelope, and renders
//! to the same bytes (render is a fixpoint after one round).
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_encryption::{Envelope, Error, Placement};

type Meta = Vec<(String, String)>;

fn split_input(data: &[u8]) -> (Meta, Option<&[u8]>) {
    let (m, ins) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let text = String::from_utf8_lossy(m);
    let meta = text
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(':') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect();
    (meta, ins)
}

/// Everything observable about an envelope, for comparison.
#[derive(Debug, PartialEq)]
struct Seen {
    version: s3_encryption::FormatVersion,
    content: s3_encryption::ContentAlgorithm,
    wrap: s3_encryption::WrapAlgorithm,
    placement: Placement,
    edk: Vec<u8>,
    matdesc: Option<String>,
    context: Option<String>,
    len: Option<u64>,
    mid: Option<[u8; 28]>,
    commitment: Option<[u8; 28]>,
    iv: Option<Vec<u8>>,
    cipher_id: &'static str,
}

fn seen(e: &Envelope) -> Seen {
    Seen {
        version: e.version(),
        content: e.content_algorithm(),
        wrap: e.wrap_algorithm(),
        placement: e.placement(),
        edk: e.encrypted_data_key().to_vec(),
        matdesc: e.materials_description().map(str::to_owned),
        context: e.encryption_context().map(str::to_owned),
        len: e.unencrypted_content_length(),
        mid: e.message_id().copied(),
        commitment: e.key_commitment().copied(),
        iv: e.iv().map(<[u8]>::to_vec),
        cipher_id: e.content_cipher_id(),
    }
}

fn render(e: &Envelope) -> (Meta, Option<Vec<u8>>) {
    let meta: Meta = e
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let ins = (e.placement() == Placement::InstructionFile).then(|| {
        let n = e.instruction_file_len();
        // Too small a buffer is refused with the exact size and writes nothing.
        if n > 0 {
            let mut small = vec![0xEEu8; n - 1];
            assert_eq!(
                e.write_instruction_file(&mut small),
                Err(Error::BufferTooSmall { required: n })
            );
            assert!(small.iter().all(|&b| b == 0xEE));
        }
        let mut out = vec![0u8; n + 3];
        let w = e.write_instruction_file(&mut out).expect("render");
        assert_eq!(w, n, "instruction_file_len agrees with the rendering");
        out.truncate(w);
        assert_eq!(out, e.instruction_file().into_bytes());
        out
    });
    (meta, ins)
}

fn parse(meta: &Meta, ins: Option<&[u8]>) -> Result<Envelope, Error> {
    Envelope::parse_unchecked(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())), ins)
}

fuzz_target!(|data: &[u8]| {
    let (meta, ins) = split_input(data);
    // `needs_instruction_file` never panics, and agrees with parse: when it says the metadata
    // alone is enough, parsing without an instruction file never asks for one.
    let needs =
        Envelope::needs_instruction_file(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let alone = parse(&meta, None);
    if needs == Ok(false) {
        assert_ne!(alone.as_ref().err(), Some(&Error::InstructionFileRequired));
    }
    let Ok(env) = parse(&meta, ins) else {
        return;
    };
    let first = seen(&env);
    let (m1, i1) = render(&env);
    let again = parse(&m1, i1.as_deref())
        .unwrap_or_else(|e| panic!("rendered envelope does not parse: {e:?}\n{m1:?}\n{i1:?}"));
    assert_eq!(
        seen(&again),
        first,
        "parse → render → parse changed the envelope"
    );
    let (m2, i2) = render(&again);
    assert_eq!(m1, m2, "metadata rendering is not a fixpoint");
    assert_eq!(i1, i2, "instruction-file rendering is not a fixpoint");
    // The policy gate is a pure function of the parsed envelope.
    for p in [
        s3_encryption::DecryptPolicy::default(),
        fuzz_support::open_policy(),
    ] {
        assert_eq!(env.check_policy(&p), again.check_policy(&p));
    }
});

use super::*;
use crate::{AesKey, DecryptPolicy, EncryptConfig, EncryptionMaterials, Encryptor, Envelope};
use alloc::string::ToString;
use alloc::vec;

const CHUNK: u64 = MIN_TABLE_CHUNK;

struct Object {
    plaintext: Vec<u8>,
    body: Vec<u8>,
    metadata: Vec<(String, String)>,
}

fn object(len: usize, seed: u8) -> Object {
    let master = AesKey::new_256([7u8; 32]);
    let plaintext: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect();
    let m = EncryptionMaterials::aes_gcm(&EncryptConfig::default(), &master, &[]).unwrap();
    let mut enc = Encryptor::new(m, Some(len as u64)).unwrap();
    let metadata = enc
        .envelope()
        .metadata()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut body = vec![0u8; len];
    enc.encrypt(&plaintext, &mut body).unwrap();
    body.extend_from_slice(&enc.finish().unwrap());
    Object {
        plaintext,
        body,
        metadata,
    }
}

fn decryptor(o: &Object) -> Decryptor {
    let policy = DecryptPolicy::default();
    let env = Envelope::parse(
        o.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        None,
        &policy,
    )
    .unwrap();
    env.decryptor(
        env.unwrap_aes(&AesKey::new_256([7u8; 32])).unwrap(),
        &policy,
    )
    .unwrap()
}

fn table(o: &Object, piece: usize) -> ChunkTable {
    let mut b = ChunkTableBuilder::new(
        &decryptor(o),
        o.body.len() as u64,
        Some("\"etag\""),
        Some("v1"),
        CHUNK,
    )
    .unwrap();
    for p in o.body.chunks(piece) {
        b.update(p).unwrap();
    }
    b.finish().unwrap()
}

fn read(t: &ChunkTable, body: &[u8], start: u64, end: u64) -> Result<Vec<u8>> {
    let f = t.plan(start, end)?;
    let mut buf = body[f.first as usize..f.end as usize].to_vec();
    let r = t.open(&f, &mut buf)?;
    Ok(buf[r].to_vec())
}

#[test]
fn every_range_shape_decrypts_to_the_plaintext() {
    // Three full chunks and a last one that ends inside an AES block.
    let o = object(3 * CHUNK as usize + 1000 + 5, 1);
    for piece in [1, 15, 16, 17, 4096, 100_000] {
        let t = table(&o, piece);
        assert_eq!(t.plaintext_len(), o.plaintext.len() as u64);
        let n = o.plaintext.len() as u64;
        let edges = [
            0,
            1,
            15,
            16,
            17,
            CHUNK - 1,
            CHUNK,
            CHUNK + 7,
            2 * CHUNK + 3,
            n - 17,
            n - 1,
            n,
        ];
        for &s in &edges {
            for &e in &edges {
                if e < s {
                    continue;
                }
                let got = read(&t, &o.body, s, e).unwrap();
                assert_eq!(got, &o.plaintext[s as usize..e as usize], "{s}..{e}");
            }
        }
    }
}

#[test]
fn plan_fetches_whole_chunks_and_never_the_tag() {
    let o = object(3 * CHUNK as usize + 100, 2);
    let t = table(&o, 1 << 20);
    let f = t.plan(CHUNK + 5, CHUNK + 6).unwrap();
    assert_eq!((f.first, f.end), (CHUNK, 2 * CHUNK));
    let f = t.plan(3 * CHUNK + 1, 3 * CHUNK + 100).unwrap();
    assert_eq!((f.first, f.end), (3 * CHUNK, 3 * CHUNK + 100));
    assert_eq!(t.plan(0, 3 * CHUNK + 101), Err(Error::InvalidRange));
    assert_eq!(t.plan(5, 4), Err(Error::InvalidRange));
    let a = t.plan(10, 20).unwrap();
    let b = t.plan(2 * CHUNK + 1, 2 * CHUNK + 2).unwrap();
    let m = t.merge(&a, &b).unwrap();
    assert_eq!(
        (m.first, m.end, m.plaintext),
        (0, 3 * CHUNK, (10, 2 * CHUNK + 2))
    );
}

#[test]
fn a_flipped_bit_anywhere_in_a_fetched_chunk_is_refused_and_leaves_no_plaintext() {
    let o = object(2 * CHUNK as usize + 33, 3);
    let t = table(&o, 777);
    let f = t.plan(0, o.plaintext.len() as u64).unwrap();
    for at in [
        0,
        1,
        15,
        16,
        CHUNK as usize - 1,
        CHUNK as usize,
        2 * CHUNK as usize + 32,
    ] {
        let mut buf = o.body[..f.end as usize].to_vec();
        buf[at] ^= 0x01;
        let before = buf.clone();
        assert_eq!(
            t.open(&f, &mut buf),
            Err(Error::ObjectChanged),
            "bit at {at}"
        );
        assert_eq!(buf, before, "nothing decrypted after a failed check");
    }
}

#[test]
fn swapped_truncated_extended_or_foreign_chunks_are_refused() {
    let o = object(3 * CHUNK as usize + 40, 4);
    let t = table(&o, 5000);
    let c = CHUNK as usize;
    // Chunk 1's bytes served for chunk 0.
    let f = t.plan(0, 10).unwrap();
    let mut buf = o.body[c..2 * c].to_vec();
    assert_eq!(t.open(&f, &mut buf), Err(Error::ObjectChanged));
    // A short or long body for the fetch.
    let mut short = o.body[..c - 1].to_vec();
    assert!(matches!(
        t.open(&f, &mut short),
        Err(Error::UnexpectedResponse(_))
    ));
    let mut long = o.body[..c + 1].to_vec();
    assert!(matches!(
        t.open(&f, &mut long),
        Err(Error::UnexpectedResponse(_))
    ));
    // The last chunk extended with zero bytes (GHASH pads with zeros) cannot be asked for,
    // and a hand-made fetch past the ciphertext or off the chunk grid is refused.
    let n = o.plaintext.len() as u64;
    let bad = ChunkFetch {
        first: 3 * CHUNK,
        end: n + 8,
        plaintext: (3 * CHUNK, n),
    };
    let mut buf = o.body[3 * c..].to_vec();
    buf.truncate((n + 8 - 3 * CHUNK) as usize);
    assert_eq!(t.open(&bad, &mut buf), Err(Error::InvalidRange));
    let off_grid = ChunkFetch {
        first: 16,
        end: CHUNK,
        plaintext: (16, 20),
    };
    let mut buf = o.body[16..c].to_vec();
    assert_eq!(t.open(&off_grid, &mut buf), Err(Error::InvalidRange));
    // A leading zero block dropped and the chunk shifted (same GHASH from a zero state for
    // the prefix) is refused because the length is fixed and the content differs.
    let mut shifted = vec![0u8; 16];
    shifted.extend_from_slice(&o.body[..c - 16]);
    assert_eq!(t.open(&f, &mut shifted), Err(Error::ObjectChanged));
    // Another object (another data key) at the same offsets.
    let other = object(3 * CHUNK as usize + 40, 4);
    let mut buf = other.body[..c].to_vec();
    assert_eq!(t.open(&f, &mut buf), Err(Error::ObjectChanged));
}

#[test]
fn the_builder_checks_the_tag_and_the_length() {
    let o = object(CHUNK as usize + 3, 5);
    let d = decryptor(&o);
    let len = o.body.len() as u64;
    // A flipped tag bit, and a flipped ciphertext bit.
    for at in [o.body.len() - 1, 7] {
        let mut body = o.body.clone();
        body[at] ^= 0x80;
        let mut b = ChunkTableBuilder::new(&d, len, None, None, CHUNK).unwrap();
        b.update(&body).unwrap();
        assert_eq!(b.finish().err(), Some(Error::Authentication));
    }
    // Truncated, and longer than declared.
    let mut b = ChunkTableBuilder::new(&d, len, None, None, CHUNK).unwrap();
    b.update(&o.body[..o.body.len() - 1]).unwrap();
    assert_eq!(b.finish().err(), Some(Error::TruncatedBody));
    let mut b = ChunkTableBuilder::new(&d, len - 1, None, None, CHUNK).unwrap();
    assert!(matches!(
        b.update(&o.body),
        Err(Error::UnexpectedResponse(_))
    ));
    // A declared length that moves the tag boundary fails authentication.
    let mut b = ChunkTableBuilder::new(&d, len - 1, None, None, CHUNK).unwrap();
    b.update(&o.body[..o.body.len() - 1]).unwrap();
    assert_eq!(b.finish().err(), Some(Error::Authentication));
    // Bad chunk sizes and a body shorter than the tag.
    for c in [0, 16, MIN_TABLE_CHUNK + 8, MAX_TABLE_CHUNK * 2] {
        assert_eq!(
            ChunkTableBuilder::new(&d, len, None, None, c).err(),
            Some(Error::InvalidConfig)
        );
    }
    assert_eq!(
        ChunkTableBuilder::new(&d, 15, None, None, CHUNK).err(),
        Some(Error::TruncatedBody)
    );
}

#[test]
fn an_empty_object_has_an_empty_table() {
    let o = object(0, 6);
    let t = table(&o, 16);
    assert_eq!(t.plaintext_len(), 0);
    assert_eq!(read(&t, &o.body, 0, 0).unwrap(), Vec::<u8>::new());
    assert_eq!(t.plan(0, 1), Err(Error::InvalidRange));
}

#[test]
fn the_table_is_bound_to_its_object_and_redacted() {
    let o = object(100, 7);
    let t = table(&o, 100);
    let len = Some(o.body.len() as u64);
    assert_eq!(t.check_object(Some("\"etag\""), Some("v1"), len), Ok(()));
    assert_eq!(
        t.check_object(Some("\"other\""), Some("v1"), len),
        Err(Error::ObjectChanged)
    );
    assert_eq!(
        t.check_object(Some("\"etag\""), Some("v2"), len),
        Err(Error::ObjectChanged)
    );
    assert_eq!(
        t.check_object(None, Some("v1"), len),
        Err(Error::ObjectChanged)
    );
    assert_eq!(
        t.check_object(Some("\"etag\""), Some("v1"), Some(99)),
        Err(Error::ObjectChanged)
    );
    let dbg = alloc::format!("{t:?}");
    assert!(dbg.contains("redacted"), "{dbg}");
    assert!(t.memory_size() >= core::mem::size_of::<ChunkTable>() + 16);
}

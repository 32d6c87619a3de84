//! Writes objects with this crate's encryptor as `s3ec-vector/1` cases into a directory, for the
//! real AWS SDKs to read back (`test-vectors/peers-read-ours.sh`). Never used as a vector source
//! for our own decryptor.
//!
//! Usage: `cargo run --release --example write_ours -- DIR`

use base64ct::{Base64, Encoding};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use s3_encryption::rsa::pkcs8::{EncodePrivateKey, LineEnding};
use s3_encryption::{
    AesKey, DataKey, EncryptConfig, EncryptionMaterials, Encryptor, PartPlan, Placement,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

const KMS_KEY_ID: &str = "arn:aws:kms:us-east-1:111122223333:key/s3ec-rust-writer";

enum Wrap {
    Aes(AesKey),
    Rsa(Box<s3_encryption::rsa::PrivateKey>),
    Kms(Vec<(String, String)>),
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: write_ours DIR");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = StdRng::seed_from_u64(0x0073_0072);
    let aes = AesKey::new_256(rng.random());
    let rsa = s3_encryption::rsa::PrivateKey::new(&mut rng, 2048).expect("rsa keygen");
    let mut count = 0;
    for (version, config_of) in [
        ("v2", EncryptConfig::v2 as fn(Placement) -> EncryptConfig),
        ("v3", EncryptConfig::v3 as fn(Placement) -> EncryptConfig),
    ] {
        for (wrap_name, wrap) in [
            ("aesgcm", Wrap::Aes(aes.clone())),
            ("rsaoaep", Wrap::Rsa(Box::new(rsa.clone()))),
            ("kmsctx", Wrap::Kms(vec![])),
            (
                "kmsctx-ec",
                Wrap::Kms(vec![
                    ("department".into(), "finance".into()),
                    ("note".into(), "a/b \"q\"".into()),
                ]),
            ),
        ] {
            for (place_name, placement) in [
                ("meta", Placement::ObjectMetadata),
                ("instr", Placement::InstructionFile),
            ] {
                for size in [0usize, 1, 17, 4101, 1 << 20] {
                    let name = format!("{version}-{wrap_name}-{place_name}-{size:07}");
                    write_case(
                        dir,
                        &name,
                        config_of(placement),
                        &wrap,
                        size,
                        None,
                        &mut rng,
                    );
                    count += 1;
                }
            }
            // A multipart upload: the parts are consecutive slices of one stream.
            let name = format!("{version}-{wrap_name}-meta-multipart");
            write_case(
                dir,
                &name,
                config_of(Placement::ObjectMetadata),
                &wrap,
                5 * 1024 * 1024 + 17,
                Some((5 * 1024 * 1024, false)),
                &mut rng,
            );
            count += 1;
            // The transport's parallel multipart upload: each part encrypted as an independent
            // segment of the GCM stream (here in reverse order), the tag combined from the
            // partial GHASH values.
            let name = format!("{version}-{wrap_name}-meta-parallel");
            write_case(
                dir,
                &name,
                config_of(Placement::ObjectMetadata),
                &wrap,
                3 * 5 * 1024 * 1024 + 4099,
                Some((5 * 1024 * 1024, true)),
                &mut rng,
            );
            count += 1;
        }
    }
    eprintln!("wrote {count} cases to {}", dir.display());
}

fn write_case(
    dir: &Path,
    name: &str,
    config: EncryptConfig,
    wrap: &Wrap,
    size: usize,
    part: Option<(u64, bool)>,
    rng: &mut StdRng,
) {
    let pt: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let dk = DataKey::new_256(rng.random());
    let (materials, key) = match wrap {
        Wrap::Aes(k) => (
            EncryptionMaterials::aes_gcm_deterministic(
                &config,
                k,
                dk,
                &rng.random(),
                &[("writer", "s3-encryption-rust")],
            )
            .unwrap(),
            json!({"kind": "aes", "key_b64": Base64::encode_string(k.as_bytes())}),
        ),
        Wrap::Rsa(k) => (
            EncryptionMaterials::rsa_oaep(&config, &k.to_public_key(), dk, rng, &[]).unwrap(),
            json!({"kind": "rsa", "private_key_pem": k.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()}),
        ),
        Wrap::Kms(ec) => {
            let pairs: Vec<(&str, &str)> =
                ec.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let req = EncryptionMaterials::kms(&config, &pairs).unwrap();
            let full: serde_json::Map<String, Value> = req
                .encryption_context()
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let blob: Vec<u8> = (0..184).map(|_| rng.random()).collect();
            let plain = dk.as_bytes().to_vec();
            (
                req.into_materials(dk, &blob).unwrap(),
                json!({"kind": "kms", "key_id": KMS_KEY_ID, "ciphertext_blob_b64": Base64::encode_string(&blob),
                       "encryption_context": full, "plaintext_b64": Base64::encode_string(&plain)}),
            )
        }
    };
    let caller_ec: Value = match wrap {
        Wrap::Kms(ec) if !ec.is_empty() => Value::Object(
            ec.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
        _ => Value::Null,
    };
    let mut enc =
        Encryptor::new_deterministic(materials, &rng.random(), Some(size as u64)).unwrap();
    let env = enc.envelope();
    let metadata: serde_json::Map<String, Value> = env
        .metadata()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let instruction =
        (config.placement() == Placement::InstructionFile).then(|| env.instruction_file());
    let mut body = pt.clone();
    match part {
        Some((p, true)) => {
            let plan = PartPlan::new(size as u64, p).unwrap();
            let gcm = enc.into_parallel().unwrap();
            let parts: Vec<_> = plan.parts().collect();
            let mut partials: Vec<_> = parts
                .iter()
                .rev()
                .map(|part| {
                    let s = part.plaintext_offset as usize;
                    gcm.encrypt_segment(
                        part.plaintext_offset,
                        &mut body[s..s + part.plaintext_len as usize],
                    )
                    .unwrap()
                })
                .collect();
            partials.sort_by_key(|p| p.offset());
            body.extend_from_slice(&gcm.tag(&partials).unwrap());
        }
        Some((p, false)) => {
            let plan = PartPlan::new(size as u64, p).unwrap();
            for part in plan.parts() {
                let s = part.plaintext_offset as usize;
                enc.encrypt_in_place(&mut body[s..s + part.plaintext_len as usize])
                    .unwrap();
            }
            body.extend_from_slice(&enc.finish().unwrap());
        }
        None => {
            enc.encrypt_in_place(&mut body).unwrap();
            body.extend_from_slice(&enc.finish().unwrap());
        }
    }
    std::fs::write(dir.join(format!("{name}.body")), &body).unwrap();
    if let Some(i) = &instruction {
        std::fs::write(dir.join(format!("{name}.instruction")), i).unwrap();
    }
    let v3 = name.starts_with("v3");
    let case = json!({
        "schema": "s3ec-vector/1",
        "producer": format!("s3-encryption (Rust) {} encryptor", env!("CARGO_PKG_VERSION")),
        "derived_from": null,
        "description": format!("written by our encryptor for the peers to read{}", match part { Some((_, true)) => "; parts encrypted as independent segments in reverse order, tag combined (parallel multipart)", Some(_) => "; encrypted part by part as in a multipart upload", None => "" }),
        "object": {"metadata": metadata, "body": format!("{name}.body")},
        "instruction_file": instruction.as_ref().map(|_| json!({"body": format!("{name}.instruction")})),
        "key": key,
        "decrypt": {
            "commitment_policy": if v3 { "REQUIRE_ENCRYPT_REQUIRE_DECRYPT" } else { "REQUIRE_ENCRYPT_ALLOW_DECRYPT" },
            "legacy_wrapping_algorithms": false, "legacy_unauthenticated_modes": false,
            "encryption_context": caller_ec, "instruction_file_suffix": ".instruction", "range": null},
        "expect": {"plaintext_len": size, "plaintext_sha256": hex::encode(Sha256::digest(&pt))},
    });
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(&case).unwrap(),
    )
    .unwrap();
}

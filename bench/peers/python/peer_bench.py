"""The Python peer of bench/peers/run.sh: amazon-s3-encryption-client-python 4.0.0 (the official
client), V2 content encryption (AES-256-GCM, 12-byte IV, no AAD), timed in-process around the
crypto calls only.

    python peer_bench.py encrypt|decrypt KEY_HEX IV_HEX FILE

Prints one line per variant: RESULT <variant> wall=<s>,<s>,<s> cpu=<s>,<s>,<s> <sha256 of the output>
(wall clock and process CPU time of each run).

  sdk     Encrypt: the client's own PutEncryptedObjectPipeline(cmm, ALG_AES_256_GCM_IV12_TAG16_NO_KDF)
          .encrypt(body), with an in-memory materials manager that hands out the benchmark data key
          (in place of the KMS keyring) and the pipeline's os.urandom replaced so that its IV is the
          benchmark IV. Inside: AESGCM(key).encrypt(iv, body, None) plus the metadata dict.
          Decrypt: GetEncryptedObjectPipeline._decrypt_gcm_streaming(materials, body, False, length),
          the client's GCM path with delayed authentication off (its default), over a botocore
          StreamingBody on an in-memory BytesIO; it reads the whole body, decrypts with a
          cryptography GCM decryptor (update + finalize_with_tag) and returns a StreamingBody,
          which is read out.
  aesgcm  cryptography's AESGCM(key).encrypt / .decrypt on the whole buffer (the call the client
          makes for V2 PUT); each call returns a new bytes object, which at 64 MiB is a fresh mmap
          whose pages are faulted in during the call.
  aesgcm_into  AESGCM(key).encrypt_into / .decrypt_into a preallocated, already-written bytearray:
          the same primitive without the allocation.
"""

import hashlib
import io
import os
import sys
import time
import types

from botocore.response import StreamingBody
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from s3_encryption import pipelines
from s3_encryption.materials.crypto_materials_manager import AbstractCryptoMaterialsManager
from s3_encryption.materials.encrypted_data_key import EncryptedDataKey
from s3_encryption.materials.materials import (
    AlgorithmSuite,
    DecryptionMaterials,
    EncryptionMaterials,
)

RUNS = 3
V2 = AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF


class FixedKeyMaterials(AbstractCryptoMaterialsManager):
    """In-memory stand-in for the KMS keyring: always the benchmark data key."""

    def __init__(self, key):
        self.key = key

    def get_encryption_materials(self, enc_mats_request):
        return EncryptionMaterials(
            encryption_algorithm=enc_mats_request.encryption_algorithm,
            encryption_context=enc_mats_request.encryption_context,
            encrypted_data_key=EncryptedDataKey("bench", b"bench", b"not-a-real-wrapped-key"),
            plaintext_data_key=self.key,
        )

    def decrypt_materials(self, dec_mats_request):
        raise NotImplementedError


def now():
    """(wall, process CPU) at one instant."""
    cpu = time.process_time()
    return time.perf_counter(), cpu


def since(start):
    wall = time.perf_counter() - start[0]
    return wall, time.process_time() - start[1]


def report(variant, runs, out):
    wall = ",".join(f"{r[0]:.6f}" for r in runs)
    cpu = ",".join(f"{r[1]:.6f}" for r in runs)
    print(f"RESULT {variant} wall={wall} cpu={cpu} {hashlib.sha256(out).hexdigest()}", flush=True)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("encrypt", "decrypt"):
        print("usage: peer_bench.py encrypt|decrypt KEY_HEX IV_HEX FILE", file=sys.stderr)
        sys.exit(2)
    encrypt = sys.argv[1] == "encrypt"
    key, iv = bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
    with open(sys.argv[4], "rb") as f:
        data = f.read()

    # The pipeline draws its IV from os.urandom: hand it the benchmark IV so the outputs compare.
    pipelines.os = types.SimpleNamespace(urandom=lambda n: iv if n == len(iv) else os.urandom(n))
    put = pipelines.PutEncryptedObjectPipeline(cmm=FixedKeyMaterials(key), encryption_algorithm=V2)

    sdk_t, raw_t, into_t = [], [], []
    sdk_out = raw_out = None
    into = bytearray(b"\xa5") * (len(data) + 16 if encrypt else len(data) - 16)
    for _ in range(RUNS):
        if encrypt:
            t = now()
            ct, meta = put.encrypt(data)
            sdk_t.append(since(t))
            sdk_out = ct

            t = now()
            raw_out = AESGCM(key).encrypt(iv, data, None)
            raw_t.append(since(t))

            t = now()
            AESGCM(key).encrypt_into(iv, data, None, into)
            into_t.append(since(t))
        else:
            mats = DecryptionMaterials(iv=iv, plaintext_data_key=key, algorithm_suite=V2)
            body = StreamingBody(io.BytesIO(data), len(data))
            t = now()
            out = pipelines.GetEncryptedObjectPipeline._decrypt_gcm_streaming(
                mats, body, False, len(data)
            )
            pt = out.read()
            sdk_t.append(since(t))
            sdk_out = pt

            t = now()
            raw_out = AESGCM(key).decrypt(iv, data, None)
            raw_t.append(since(t))

            t = now()
            AESGCM(key).decrypt_into(iv, data, None, into)
            into_t.append(since(t))
    if encrypt:
        assert meta["x-amz-cek-alg"] == "AES/GCM/NoPadding", meta
    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend

    print(
        f"python: {sys.version.split()[0]}; cryptography {cryptography.__version__};"
        f" {backend.openssl_version_text()}",
        file=sys.stderr,
    )
    report("sdk", sdk_t, sdk_out)
    report("aesgcm", raw_t, raw_out)
    report("aesgcm_into", into_t, bytes(into))


if __name__ == "__main__":
    main()

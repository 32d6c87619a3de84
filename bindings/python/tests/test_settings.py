"""Write settings are the core's to judge, when the client is made: the specification's names of
the commitment policy and the encryption algorithm, and whether the suite fits the policy."""

from __future__ import annotations

import os

import pytest

import s3ec

KC = "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
GCM = "ALG_AES_256_GCM_IV12_TAG16_NO_KDF"
CBC = "ALG_AES_256_CBC_IV16_NO_KDF"


def client(s3, **kw):
    return s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(os.urandom(32)), **kw)


def test_the_suite_follows_from_the_policy(s3):
    assert client(s3).encryption_algorithm == KC
    assert client(s3, commitment_policy="REQUIRE_ENCRYPT_ALLOW_DECRYPT").encryption_algorithm == KC
    assert client(s3, commitment_policy="FORBID_ENCRYPT_ALLOW_DECRYPT").encryption_algorithm == GCM
    assert client(s3, commitment_policy="FORBID_ENCRYPT_ALLOW_DECRYPT", encryption_algorithm=GCM).encryption_algorithm == GCM


@pytest.mark.parametrize(
    "policy, alg, message",
    [
        ("REQUIRE_ENCRYPT_REQUIRE_DECRYPT", GCM, "is not written under commitment_policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT"),
        ("REQUIRE_ENCRYPT_ALLOW_DECRYPT", GCM, "is not written under commitment_policy REQUIRE_ENCRYPT_ALLOW_DECRYPT"),
        ("FORBID_ENCRYPT_ALLOW_DECRYPT", KC, "is not written under commitment_policy FORBID_ENCRYPT_ALLOW_DECRYPT"),
        ("REQUIRE_ENCRYPT_REQUIRE_DECRYPT", CBC, "is a legacy algorithm and is never written"),
        ("REQUIRE_ENCRYPT_REQUIRE_DECRYPT", "AES256", "unknown encryption_algorithm AES256"),
    ],
)
def test_contradictory_settings_are_refused_when_the_client_is_made(s3, policy, alg, message):
    with pytest.raises(s3ec.UsageError, match=message):
        client(s3, commitment_policy=policy, encryption_algorithm=alg)


def test_a_v2_writer_writes_v2(s3, bucket):
    c = client(s3, commitment_policy="FORBID_ENCRYPT_ALLOW_DECRYPT", encryption_algorithm=GCM)
    c.put_object(Bucket=bucket, Key="k", Body=b"hello")
    md = s3.head_object(Bucket=bucket, Key="k")["Metadata"]
    assert md["x-amz-cek-alg"] == "AES/GCM/NoPadding"
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"

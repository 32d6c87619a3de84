"""Test keys (generated once per session; never used outside the tests)."""

import functools
import os
import subprocess


@functools.lru_cache(maxsize=None)
def rsa_pems():
    """An RSA-2048 key pair as (private PKCS#8 PEM, public SPKI PEM), made with openssl."""
    priv = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        check=True,
        capture_output=True,
    ).stdout
    pub = subprocess.run(["openssl", "pkey", "-pubout"], input=priv, check=True, capture_output=True).stdout
    return priv.decode(), pub.decode()


def aes(n=32, seed=1):
    return bytes((seed * 31 + i * 7) % 256 for i in range(n))

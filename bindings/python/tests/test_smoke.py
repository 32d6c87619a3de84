import os
import s3ec


def test_aes_round_trip(s3, bucket):
    c = s3ec.S3EncryptionClient(s3, s3ec.AesKeyring(b"k" * 32))
    for n in (0, 1, 17, 100_000, 9 * 1024 * 1024 + 5):
        data = os.urandom(n)
        c.put_object(Bucket=bucket, Key=f"o{n}", Body=data, Metadata={"a": "b"})
        r = c.get_object(Bucket=bucket, Key=f"o{n}")
        assert r["Body"].read() == data
        assert r["Metadata"] == {"a": "b"}
        assert r["ContentLength"] == n

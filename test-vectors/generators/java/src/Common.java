// Shared helpers for the Java (AWS SDK for Java 1.12.262) test-vector generator and reader.
//
// Everything here is test scaffolding written for this project: fixed test keys, an offline KMS
// stand-in, the deterministic plaintext stream, access to what the loopback S3 stand-in (s3stub.py)
// recorded, and JSON output in the s3ec-vector/1 schema.

package s3ecvectors;

import com.amazonaws.ClientConfiguration;
import com.amazonaws.auth.AWSStaticCredentialsProvider;
import com.amazonaws.auth.BasicAWSCredentials;
import com.amazonaws.client.builder.AwsClientBuilder.EndpointConfiguration;
import com.amazonaws.services.kms.AbstractAWSKMS;
import com.amazonaws.services.kms.model.DecryptRequest;
import com.amazonaws.services.kms.model.DecryptResult;
import com.amazonaws.services.kms.model.EncryptRequest;
import com.amazonaws.services.kms.model.EncryptResult;
import com.amazonaws.services.kms.model.GenerateDataKeyRequest;
import com.amazonaws.services.kms.model.GenerateDataKeyResult;
import com.amazonaws.services.kms.model.InvalidCiphertextException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.RSAPrivateCrtKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

final class Common {
    private Common() {}

    static final String SDK = "AWS SDK for Java 1.12.262 (aws-java-sdk-s3)";
    static final String BUCKET = "s3ec-vectors";

    // ---- fixed test master keys (test material only, never used for anything real) -------------

    /** AES-256 master key for every AES case. */
    static final byte[] AES_MASTER_KEY =
        hex("537d1960469d91aac4e327db9c609227186012ed6360be4cd122649246123018");

    /** RSA-2048 master key pair for every RSA case (PKCS#8). */
    static final String RSA_PRIVATE_KEY_PEM = String.join("\n",
        "-----BEGIN PRIVATE KEY-----",
        "MIIEuwIBADANBgkqhkiG9w0BAQEFAASCBKUwggShAgEAAoIBAQCY/4z8tM05UcR4",
        "tb4nB8q6wlnSm2lHp3TZsnJrA+rLGeSdBAUeNJeAqXZ9wJ04aKeNu/gu3YZdB872",
        "St6sSw6qF8Df62z8vj6Oc8xtjRScfm82NPQPXTeAmNYmpna5XcCFmEJMFpx7ce+T",
        "tmPJkSTR3F57KgnloDJ+9av8c4ecayEe79Y45aCxUxfFl9BZdmWBO2WCPad4IZed",
        "SsVcn+vYDAIDlS/bM0OQ2NeC6eOghN+Nm6gssEW5th9cXyFeZ1npwEfcXgMJ4mLR",
        "z9dFyD+PfKI8E9fGCC90po/GbLfelEbKSQJVAVFwkMfD2jSsu84FYA22sld7llGL",
        "bh1PhsS/AgMBAAECgf9xlPvRFepBU5ItFfbp+223jVWb9264gkU7X6wL/fDfjHGO",
        "AbZX83BgosM8drUCD7NQSCrBaGHtvW0Z9DwJT6f1pbfWUE8gOOuf3PdFUd0ptMmC",
        "Cs3IObfBCIzZBvqaw8Ve8a+MpEfGWVapZpqqWQ0Q+n8MBqlzqCLCGk5hsm3xQuee",
        "yc7DsIe2cMfAf2Pzg8uOYmv9Jnnkxw7eTlWrymOj4m350kzb2KbizhiK7k7TZ1wc",
        "UynTPzKxwF4Kx60BUYZTVzXjNLmb0taVm7MDe+3995qzm8Hht4a8eECxktWrotEY",
        "9DUp5pCxTIWmO9meDjr3WIirTKyCdWHGNOlaCZUCgYEAx6Bc+foVR75Jvz1l1xlW",
        "9wi/Zx7VbSYQcFn3iHJISR6YemxA03N5ZOI1u+edEU0EOEWrrmnqtY5e+FIm9V5d",
        "JpOj7UsBavG7lozc2LMLkOP2xbFZBE94Ffjmi3Tl0KxJLnhk3cV2ubijJcwY/P/P",
        "iJyqck8y9XBQlJ90NwvdKIsCgYEAxDRJY6V2qt4wBzVKzJNEYuzntLeseX4gsv/G",
        "8aGF47zXLsJv70J3Zy220fNiwCquJyY86cF6L+/25RmPdBTMoJx7o+gcvh5rwJog",
        "f5rV7CMvOHUvFdJNMfLqt2MgK5Mwy/U8pOUsr89NopqGaxxumWbcDic2R7Pe0YGj",
        "aVBkJx0CgYA6F/D2zlBjEH1lqfh5IGaufV02JUL3AJzIFWZzzs46eSzmc5pp7rDl",
        "Ku94P272GfOgbKYJm8kyDLyWh1HPFicFkvGhnLJM7QwqQ9QBPBmhkLW/0lyVZIsN",
        "2eE9tEcs8vZZD7BK2awzYAgad8rN1aQPnYf8vA+YXZcVqVGos0spAQKBgQC9pdim",
        "Q8KPaJK99OonEdYRVPKmgL9q89pBivBOkRUsy1SncvPlLbbieZJ0H7B9FQQe/Vv1",
        "irlDasyYJ/u8dXpRaNAt32cg8aCvm4r8LLrIND4pcUOg8RUCyc3Mkzj+RZjuHE6R",
        "CKAIE/XzzS9Oiz3wczcTSx2xcxBWK9u7KSSVlQKBgFfgZ46PKR42L3NcntTzqu2E",
        "j081p2pJKiBqKQDNQNlgBQMp0f0V21/+P9j/fwTqQzcEkurUi90JmB49HD0jxKrR",
        "oAGHbai95qSGzAjSFM9P55BZwUOhfEw2RYKXbFbJh4yr05GMrkaWn9gPOMyoGQcj",
        "tHbjz7LZYqB+DY0hv3H8",
        "-----END PRIVATE KEY-----",
        "");

    /** The KMS key id the generator configures (the offline KMS accepts any id). */
    static final String KMS_KEY_ID = "arn:aws:kms:us-east-1:111122223333:key/s3ec-test-java-0001";

    /** The fixed data key the offline KMS hands out on GenerateDataKey. */
    static final byte[] KMS_DATA_KEY =
        hex("8e3c0f5a71d24b96a0c7e15b39f4d2866b1e0a9c7d35f28e4c90b6a1d7e53f02");

    // ---- small utilities ----------------------------------------------------------------------

    static byte[] hex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    static String toHex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String b64(byte[] b) { return Base64.getEncoder().encodeToString(b); }
    static byte[] unb64(String s) { return Base64.getDecoder().decode(s); }

    static byte[] readAll(InputStream in) throws IOException {
        try (InputStream is = in) {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            byte[] buf = new byte[65536];
            int n;
            while ((n = is.read(buf)) > 0) bos.write(buf, 0, n);
            return bos.toByteArray();
        }
    }

    static byte[] bytesOf(ByteBuffer bb) {
        ByteBuffer d = bb.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    /**
     * Deterministic plaintext: the first n bytes of SHA-256("s3ec-test-vectors/plaintext" || be64(i))
     * for i = 0, 1, 2, ...
     */
    static byte[] plaintext(int n) {
        byte[] out = new byte[n];
        byte[] label = "s3ec-test-vectors/plaintext".getBytes(StandardCharsets.US_ASCII);
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            int pos = 0;
            for (long i = 0; pos < n; i++) {
                md.reset();
                md.update(label);
                md.update(ByteBuffer.allocate(8).putLong(i).array());
                byte[] block = md.digest();
                int take = Math.min(block.length, n - pos);
                System.arraycopy(block, 0, out, pos, take);
                pos += take;
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    // ---- keys -----------------------------------------------------------------------------------

    static SecretKey aesKey(byte[] raw) { return new SecretKeySpec(raw, "AES"); }

    /** Parses a PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY") PEM and derives the public key. */
    static KeyPair rsaKeyPair(String pem) throws Exception {
        boolean pkcs1 = pem.contains("BEGIN RSA PRIVATE KEY");
        String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        byte[] der = Base64.getDecoder().decode(body);
        KeyFactory kf = KeyFactory.getInstance("RSA");
        PrivateKey priv;
        if (pkcs1) {
            org.bouncycastle.asn1.pkcs.RSAPrivateKey k = org.bouncycastle.asn1.pkcs.RSAPrivateKey.getInstance(der);
            priv = kf.generatePrivate(new RSAPrivateCrtKeySpec(k.getModulus(), k.getPublicExponent(),
                k.getPrivateExponent(), k.getPrime1(), k.getPrime2(), k.getExponent1(), k.getExponent2(),
                k.getCoefficient()));
        } else {
            priv = kf.generatePrivate(new PKCS8EncodedKeySpec(der));
        }
        RSAPrivateCrtKey crt = (RSAPrivateCrtKey) priv;
        PublicKey pub = kf.generatePublic(new RSAPublicKeySpec(crt.getModulus(), crt.getPublicExponent()));
        return new KeyPair(pub, priv);
    }

    // ---- S3 client plumbing ---------------------------------------------------------------------

    static EndpointConfiguration endpoint(String url) { return new EndpointConfiguration(url, "us-east-1"); }

    static AWSStaticCredentialsProvider creds() {
        return new AWSStaticCredentialsProvider(new BasicAWSCredentials("AKIDEXAMPLE", "s3ec-test-secret"));
    }

    static ClientConfiguration clientConfig() {
        return new ClientConfiguration().withMaxErrorRetry(0).withSocketTimeout(60_000)
            .withConnectionTimeout(10_000);
    }

    // ---- what the S3 stand-in recorded ------------------------------------------------------------

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** One stored object as s3stub.py recorded it. */
    static final class Stored {
        final byte[] body;
        /** x-amz-meta-* headers as received, prefix stripped (case-insensitively), in arrival order. */
        final LinkedHashMap<String, String> metadata;

        Stored(byte[] body, LinkedHashMap<String, String> metadata) {
            this.body = body;
            this.metadata = metadata;
        }
    }

    static Path objectDir(Path store, String bucket, String key) throws Exception {
        String quoted = URLEncoder.encode(key, StandardCharsets.UTF_8.name());
        if (!quoted.equals(key)) throw new IllegalArgumentException("use plain object keys: " + key);
        return store.resolve("objects").resolve(bucket).resolve(key);
    }

    static Stored readStored(Path store, String bucket, String key) throws Exception {
        Path d = objectDir(store, bucket, key);
        if (!Files.isDirectory(d)) return null;
        byte[] body = Files.readAllBytes(d.resolve("body"));
        Map<String, Object> meta = JSON.readValue(d.resolve("meta.json").toFile(),
            new TypeReference<Map<String, Object>>() {});
        LinkedHashMap<String, String> md = new LinkedHashMap<>();
        @SuppressWarnings("unchecked")
        List<List<String>> pairs = (List<List<String>>) meta.get("user_metadata");
        for (List<String> p : pairs) {
            String name = p.get(0);
            if (!name.regionMatches(true, 0, "x-amz-meta-", 0, 11)) continue;
            String k = name.substring(11);
            if (md.containsKey(k)) throw new IllegalStateException("duplicate metadata key " + k);
            md.put(k, p.get(1));
        }
        return new Stored(body, md);
    }

    static Map<String, String> parseStringMap(String json) throws IOException {
        if (json == null) return null;
        return JSON.readValue(json, new TypeReference<LinkedHashMap<String, String>>() {});
    }

    /** Canonical text of a string map (sorted keys), used to derive deterministic KMS blobs. */
    static String canonical(Map<String, String> m) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : new TreeMap<>(m == null ? Map.of() : m).entrySet()) {
            sb.append(e.getKey().length()).append(':').append(e.getKey())
              .append(e.getValue().length()).append(':').append(e.getValue());
        }
        return sb.toString();
    }

    // ---- offline KMS ----------------------------------------------------------------------------

    /**
     * An in-process KMS stand-in. GenerateDataKey returns {@link #KMS_DATA_KEY} with a deterministic
     * ciphertext blob derived from (key id, encryption context). Decrypt answers only for a blob it knows,
     * and only when the request's encryption context equals the recorded one exactly.
     */
    static final class OfflineKms extends AbstractAWSKMS {
        static final class Entry {
            final String keyId;
            final byte[] blob;
            final Map<String, String> context;
            final byte[] plaintext;

            Entry(String keyId, byte[] blob, Map<String, String> context, byte[] plaintext) {
                this.keyId = keyId;
                this.blob = blob;
                this.context = context;
                this.plaintext = plaintext;
            }
        }

        final Map<String, Entry> byBlob = new HashMap<>();
        final List<String> log = new ArrayList<>();

        void add(Entry e) { byBlob.put(b64(e.blob), e); }

        static byte[] blobFor(String keyId, Map<String, String> ctx) {
            byte[] tag = sha256((keyId + "|" + canonical(ctx)).getBytes(StandardCharsets.UTF_8));
            ByteBuffer bb = ByteBuffer.allocate(16 + tag.length);
            bb.put("s3ec-offline-kms".getBytes(StandardCharsets.US_ASCII)).put(tag);
            return bb.array();
        }

        @Override
        public GenerateDataKeyResult generateDataKey(GenerateDataKeyRequest req) {
            if (req.getKeySpec() != null && !"AES_256".equals(req.getKeySpec())) {
                throw new IllegalArgumentException("offline KMS only serves AES_256, got " + req.getKeySpec());
            }
            Map<String, String> ctx = new LinkedHashMap<>(req.getEncryptionContext());
            byte[] blob = blobFor(req.getKeyId(), ctx);
            add(new Entry(req.getKeyId(), blob, ctx, KMS_DATA_KEY.clone()));
            log.add("GenerateDataKey " + req.getKeyId() + " " + ctx);
            return new GenerateDataKeyResult().withKeyId(req.getKeyId())
                .withCiphertextBlob(ByteBuffer.wrap(blob)).withPlaintext(ByteBuffer.wrap(KMS_DATA_KEY.clone()));
        }

        @Override
        public EncryptResult encrypt(EncryptRequest req) {
            throw new UnsupportedOperationException("offline KMS: Encrypt is not expected here");
        }

        @Override
        public DecryptResult decrypt(DecryptRequest req) {
            byte[] blob = bytesOf(req.getCiphertextBlob());
            Entry e = byBlob.get(b64(blob));
            Map<String, String> ctx = req.getEncryptionContext() == null ? Map.of() : req.getEncryptionContext();
            log.add("Decrypt " + req.getKeyId() + " " + ctx);
            if (e == null) throw new InvalidCiphertextException("offline KMS: unknown ciphertext blob");
            if (!ctx.equals(e.context)) {
                throw new InvalidCiphertextException("offline KMS: encryption context mismatch: got " + ctx
                    + ", recorded " + e.context);
            }
            return new DecryptResult().withKeyId(e.keyId).withPlaintext(ByteBuffer.wrap(e.plaintext.clone()));
        }
    }

    // ---- vector JSON --------------------------------------------------------------------------------

    static LinkedHashMap<String, Object> obj() { return new LinkedHashMap<>(); }

    static void writeJson(Path file, Object value) throws IOException {
        byte[] text = JSON.writeValueAsBytes(value);
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        bos.write(text);
        bos.write('\n');
        Files.write(file, bos.toByteArray());
    }

}

// Drives the real AWS SDK for Java 1.12.262 encryption clients against the loopback S3 stand-in and
// records every object they write as an s3ec-vector/1 case.
//
// usage: java Generate STORE_DIR ENDPOINT_URL TEST_VECTORS_DIR
//
// The bytes in each vector (metadata, body, instruction file) are what s3stub.py received from the SDK;
// the expected plaintext digests come from the deterministic plaintext fed to the SDK, and every
// object is read back through the same SDK client before it is written out. Ranged-read vectors
// record what the SDK returned for the range.

package s3ecvectors;

import static s3ecvectors.Common.*;

import com.amazonaws.services.s3.AmazonS3;
import com.amazonaws.services.s3.AmazonS3EncryptionClientBuilder;
import com.amazonaws.services.s3.AmazonS3EncryptionClientV2Builder;
import com.amazonaws.services.s3.model.CompleteMultipartUploadRequest;
import com.amazonaws.services.s3.model.CryptoConfiguration;
import com.amazonaws.services.s3.model.CryptoConfigurationV2;
import com.amazonaws.services.s3.model.CryptoMode;
import com.amazonaws.services.s3.model.CryptoRangeGetMode;
import com.amazonaws.services.s3.model.CryptoStorageMode;
import com.amazonaws.services.s3.model.EncryptedInitiateMultipartUploadRequest;
import com.amazonaws.services.s3.model.EncryptedPutObjectRequest;
import com.amazonaws.services.s3.model.EncryptionMaterials;
import com.amazonaws.services.s3.model.EncryptionMaterialsProvider;
import com.amazonaws.services.s3.model.GetObjectRequest;
import com.amazonaws.services.s3.model.InitiateMultipartUploadResult;
import com.amazonaws.services.s3.model.KMSEncryptionMaterials;
import com.amazonaws.services.s3.model.KMSEncryptionMaterialsProvider;
import com.amazonaws.services.s3.model.ObjectMetadata;
import com.amazonaws.services.s3.model.PartETag;
import com.amazonaws.services.s3.model.PutObjectRequest;
import com.amazonaws.services.s3.model.StaticEncryptionMaterialsProvider;
import com.amazonaws.services.s3.model.UploadPartRequest;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.Security;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

public final class Generate {
    enum Family { V2, LEGACY }

    enum Wrap { AES, RSA, KMS, KMS_EC }

    static final int[] SIZES = {0, 1, 15, 16, 17, 4095, 4101};
    static final int NEAR_1MIB = 1048573;
    static final int PART = 5 * 1024 * 1024;
    static final int MULTIPART_SIZE = PART + 17;

    static final Map<String, String> CUSTOM_MATDESC = orderedMap("purpose", "test", "owner", "s3ec");
    static final Map<String, String> CALLER_EC = orderedMap("tenant", "s3ec", "department", "vectors");

    static final String REQ_REQ = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT";
    static final String REQ_ALLOW = "REQUIRE_ENCRYPT_ALLOW_DECRYPT";

    /** One client configuration + key + placement. */
    static final class Variant {
        String dir;
        String name;
        Family family;
        CryptoMode mode;
        Wrap wrap;
        boolean instructionFile;
        Map<String, String> matdesc;    // custom materials description on the master key, or null
        Map<String, String> callerEc;   // request-level encryption context for KMS, or null
        String wrapText;                // human description of the envelope
        boolean legacyWrapping;         // decrypt flags needed to read it
        boolean legacyUnauthenticated;

        String clientName() {
            return family == Family.V2 ? "AmazonS3EncryptionClientV2" : "AmazonS3EncryptionClient (legacy)";
        }

        String producer() {
            return SDK + ", " + clientName() + ", CryptoMode." + mode + ", CryptoStorageMode."
                + (instructionFile ? "InstructionFile" : "ObjectMetadata")
                + "; Bouncy Castle 1.72 registered; OpenJDK 17";
        }
    }

    /** A written positive case, for derived cases to refer to. */
    static final class Written {
        Variant v;
        String name;
        byte[] plaintext;
        LinkedHashMap<String, String> metadata;
        String bodyFile;
        String instructionFile;
        Map<String, Object> key;
        Map<String, Object> decrypt;

        String path() { return v.dir + "/" + name + ".json"; }
    }

    static Path store;
    static String endpointUrl;
    static Path out;
    static final OfflineKms KMS = new OfflineKms();
    static KeyPair rsa;
    static int count;
    static final Map<String, Integer> counts = new LinkedHashMap<>();

    public static void main(String[] args) throws Exception {
        store = Paths.get(args[0]);
        endpointUrl = args[1];
        out = Paths.get(args[2]);
        // Reproducible output: the SDK's own randomness comes from CryptoConfiguration.withSecureRandom
        // (seeded per case below), but RSA padding inside JCE draws from the JVM default SecureRandom.
        // Make that default deterministic too, so a rerun rewrites identical files.
        Security.insertProviderAt(new DeterministicRandomProvider(), 1);
        Security.addProvider(new BouncyCastleProvider());
        rsa = rsaKeyPair(RSA_PRIVATE_KEY_PEM);
        Files.createDirectories(out.resolve("java-v2"));
        Files.createDirectories(out.resolve("java-legacy"));

        generateV2();
        generateLegacy();

        for (Map.Entry<String, Integer> e : counts.entrySet()) {
            System.out.println(String.format("  %-60s %d", e.getKey(), e.getValue()));
        }
        System.out.println("generated " + count + " cases");
    }

    // ---------------------------------------------------------------------------------------------
    // AmazonS3EncryptionClientV2

    static void generateV2() throws Exception {
        Written rangeParent4101 = null, rangeParent16 = null, rangeKmsInst = null;
        for (CryptoMode mode : new CryptoMode[] {CryptoMode.AuthenticatedEncryption,
                                                  CryptoMode.StrictAuthenticatedEncryption}) {
            for (Wrap wrap : Wrap.values()) {
                for (boolean inst : new boolean[] {false, true}) {
                    Variant v = v2Variant(mode, wrap, inst);
                    for (int size : SIZES) {
                        Written w = putCase(v, v.name + "-" + size, size, "");
                        if (size == 17) requireDecryptCase(w);
                        if (mode == CryptoMode.AuthenticatedEncryption && wrap == Wrap.AES && !inst) {
                            if (size == 4101) rangeParent4101 = w;
                            if (size == 16) rangeParent16 = w;
                        }
                        if (mode == CryptoMode.AuthenticatedEncryption && wrap == Wrap.KMS && inst
                            && size == 4101) {
                            rangeKmsInst = w;
                        }
                    }
                }
            }
        }
        // one near-1 MiB object for the family
        Variant big = v2Variant(CryptoMode.StrictAuthenticatedEncryption, Wrap.AES, false);
        requireDecryptCase(putCase(big, big.name + "-" + NEAR_1MIB, NEAR_1MIB, ""));

        // custom materials description on AES and RSA master keys
        for (Wrap wrap : new Wrap[] {Wrap.AES, Wrap.RSA}) {
            for (boolean inst : new boolean[] {false, true}) {
                Variant v = v2Variant(CryptoMode.StrictAuthenticatedEncryption, wrap, inst);
                v.matdesc = CUSTOM_MATDESC;
                v.name = v.name.replace("-" + (inst ? "inst" : "meta"), "-matdesc-" + (inst ? "inst" : "meta"));
                requireDecryptCase(putCase(v, v.name + "-17", 17,
                    "; master key materials description " + compact(CUSTOM_MATDESC)));
            }
        }

        // multipart upload: two parts (5 MiB, then 17 bytes marked last)
        Variant mp = v2Variant(CryptoMode.StrictAuthenticatedEncryption, Wrap.AES, false);
        requireDecryptCase(multipartCase(mp, mp.name + "-multipart-" + MULTIPART_SIZE));

        // ranged reads with CryptoRangeGetMode.ALL
        long[][] full = {{5, 10}, {10, 40}, {0, 0}, {0, 99}, {32, 47}, {4000, 4100}, {4090, 5000},
                         {4100, 4100}, {0, 4100}};
        Written firstRange = null;
        for (long[] r : full) {
            Written w = rangeCase(rangeParent4101, r[0], r[1]);
            if (firstRange == null && r[0] == 10) firstRange = w;
        }
        for (long[] r : new long[][] {{8, 15}, {0, 15}, {15, 20}}) rangeCase(rangeParent16, r[0], r[1]);
        for (long[] r : new long[][] {{10, 40}, {4090, 5000}}) rangeCase(rangeKmsInst, r[0], r[1]);
        noUnauthenticatedCase(firstRange);
    }

    static Variant v2Variant(CryptoMode mode, Wrap wrap, boolean inst) {
        Variant v = new Variant();
        v.dir = "java-v2";
        v.family = Family.V2;
        v.mode = mode;
        v.wrap = wrap;
        v.instructionFile = inst;
        String m = mode == CryptoMode.AuthenticatedEncryption ? "ae" : "strict";
        String w;
        switch (wrap) {
            case AES: w = "aesgcm"; v.wrapText = "AES-256 master key, AES/GCM key wrap"; break;
            case RSA: w = "rsaoaep"; v.wrapText = "RSA-2048 master key, RSA-OAEP-SHA1 key wrap"; break;
            case KMS: w = "kms"; v.wrapText = "KMS, kms+context key wrap, no caller encryption context"; break;
            default:
                w = "kmsec";
                v.callerEc = CALLER_EC;
                v.wrapText = "KMS, kms+context key wrap, caller encryption context " + compact(CALLER_EC);
        }
        v.wrapText += "; AES/GCM/NoPadding content";
        v.name = m + "-" + w + "-" + (inst ? "inst" : "meta");
        return v;
    }

    // ---------------------------------------------------------------------------------------------
    // legacy AmazonS3EncryptionClient

    static void generateLegacy() throws Exception {
        Map<CryptoMode, Written> range4101 = new LinkedHashMap<>();
        Map<CryptoMode, Written> range16 = new LinkedHashMap<>();
        for (CryptoMode mode : new CryptoMode[] {CryptoMode.EncryptionOnly, CryptoMode.AuthenticatedEncryption}) {
            for (Wrap wrap : new Wrap[] {Wrap.AES, Wrap.RSA, Wrap.KMS}) {
                for (boolean inst : new boolean[] {false, true}) {
                    Variant v = legacyVariant(mode, wrap, inst);
                    for (int size : SIZES) {
                        Written w = putCase(v, v.name + "-" + size, size, "");
                        noLegacyCase(w);
                        if (size == 17) requireDecryptCase(w);
                        if (wrap == Wrap.AES && !inst && size == 4101) range4101.put(mode, w);
                        if (wrap == Wrap.AES && !inst && size == 16) range16.put(mode, w);
                    }
                }
            }
        }
        // one near-1 MiB object per mode family
        Variant bigEo = legacyVariant(CryptoMode.EncryptionOnly, Wrap.RSA, false);
        noLegacyCase(putCase(bigEo, bigEo.name + "-" + NEAR_1MIB, NEAR_1MIB, ""));
        Variant bigAe = legacyVariant(CryptoMode.AuthenticatedEncryption, Wrap.KMS, false);
        noLegacyCase(putCase(bigAe, bigAe.name + "-" + NEAR_1MIB, NEAR_1MIB, ""));

        // custom materials description on AES and RSA master keys
        for (CryptoMode mode : new CryptoMode[] {CryptoMode.EncryptionOnly, CryptoMode.AuthenticatedEncryption}) {
            for (Wrap wrap : new Wrap[] {Wrap.AES, Wrap.RSA}) {
                for (boolean inst : new boolean[] {false, true}) {
                    Variant v = legacyVariant(mode, wrap, inst);
                    v.matdesc = CUSTOM_MATDESC;
                    v.name = v.name.replace("-" + (inst ? "inst" : "meta"), "-matdesc-" + (inst ? "inst" : "meta"));
                    noLegacyCase(putCase(v, v.name + "-17", 17,
                        "; master key materials description " + compact(CUSTOM_MATDESC)));
                }
            }
        }

        // multipart: EncryptionOnly (CBC chained across parts) and AuthenticatedEncryption (GCM)
        Variant mpEo = legacyVariant(CryptoMode.EncryptionOnly, Wrap.AES, false);
        noLegacyCase(multipartCase(mpEo, mpEo.name + "-multipart-" + MULTIPART_SIZE));
        Variant mpAe = legacyVariant(CryptoMode.AuthenticatedEncryption, Wrap.AES, true);
        noLegacyCase(multipartCase(mpAe, mpAe.name + "-multipart-" + MULTIPART_SIZE));

        // ranged reads (EncryptionOnly: CBC; AuthenticatedEncryption: GCM read as CTR)
        long[][] full = {{5, 10}, {10, 40}, {0, 0}, {0, 99}, {32, 47}, {4000, 4100}, {4090, 5000},
                         {4100, 4100}, {0, 4100}};
        for (CryptoMode mode : range4101.keySet()) {
            Written first = null;
            for (long[] r : full) {
                Written w = rangeCase(range4101.get(mode), r[0], r[1]);
                if (first == null && r[0] == 10) first = w;
            }
            for (long[] r : new long[][] {{8, 15}, {0, 15}, {15, 20}}) rangeCase(range16.get(mode), r[0], r[1]);
            noUnauthenticatedCase(first);
        }
    }

    static Variant legacyVariant(CryptoMode mode, Wrap wrap, boolean inst) {
        Variant v = new Variant();
        v.dir = "java-legacy";
        v.family = Family.LEGACY;
        v.mode = mode;
        v.wrap = wrap;
        v.instructionFile = inst;
        v.legacyWrapping = true;
        String m, w;
        if (mode == CryptoMode.EncryptionOnly) {
            m = "eo";
            v.legacyUnauthenticated = true;
            switch (wrap) {
                case AES: w = "aes"; v.wrapText = "AES-256 master key, V1 x-amz-key (AES/ECB/PKCS5Padding wrap)"; break;
                case RSA: w = "rsa"; v.wrapText = "RSA-2048 master key, V1 x-amz-key (RSA PKCS#1 v1.5 wrap)"; break;
                default: w = "kms"; v.wrapText = "KMS, kms key wrap (legacy, kms_cmk_id context)";
            }
            v.wrapText += "; AES/CBC/PKCS5Padding content";
        } else {
            m = "ae";
            switch (wrap) {
                case AES: w = "aeswrap"; v.wrapText = "AES-256 master key, AESWrap (RFC 3394) key wrap"; break;
                case RSA:
                    w = "rsaoaep256";
                    v.wrapText = "RSA-2048 master key, RSA/ECB/OAEPWithSHA-256AndMGF1Padding key wrap";
                    break;
                default: w = "kms"; v.wrapText = "KMS, kms key wrap (legacy, kms_cmk_id context)";
            }
            v.wrapText += "; AES/GCM/NoPadding content";
        }
        v.name = m + "-" + w + "-" + (inst ? "inst" : "meta");
        return v;
    }

    // ---------------------------------------------------------------------------------------------
    // clients

    /** A provider whose only service is a deterministic SecureRandom (test output stability only). */
    public static final class DeterministicRandomProvider extends java.security.Provider {
        public DeterministicRandomProvider() {
            super("S3ecTestRandom", "1.0", "deterministic SecureRandom for reproducible test vectors");
            put("SecureRandom.S3ecTestRandom", DeterministicRandomSpi.class.getName());
        }
    }

    /** Each instance is a SHA1PRNG seeded from a counter, so the n-th instance is the same on every run. */
    public static final class DeterministicRandomSpi extends java.security.SecureRandomSpi {
        private static int instances;
        private final SecureRandom inner;

        public DeterministicRandomSpi() throws Exception {
            int n;
            synchronized (DeterministicRandomSpi.class) { n = instances++; }
            inner = seeded("jvm-default-" + n);
        }

        @Override protected void engineSetSeed(byte[] seed) {}
        @Override protected void engineNextBytes(byte[] bytes) { inner.nextBytes(bytes); }
        @Override protected byte[] engineGenerateSeed(int n) { byte[] b = new byte[n]; inner.nextBytes(b); return b; }
    }

    static SecureRandom seeded(String label) throws Exception {
        SecureRandom r = SecureRandom.getInstance("SHA1PRNG");
        r.setSeed(("s3ec-java-generator|" + label).getBytes(StandardCharsets.UTF_8));
        return r;
    }

    static EncryptionMaterialsProvider materials(Variant v, boolean forRead) {
        switch (v.wrap) {
            case AES: {
                EncryptionMaterials m = new EncryptionMaterials(aesKey(AES_MASTER_KEY));
                if (v.matdesc != null) m.addDescriptions(v.matdesc);
                return new StaticEncryptionMaterialsProvider(m);
            }
            case RSA: {
                EncryptionMaterials m = new EncryptionMaterials(rsa);
                if (v.matdesc != null) m.addDescriptions(v.matdesc);
                return new StaticEncryptionMaterialsProvider(m);
            }
            default: {
                // J1 takes the caller's encryption context on GET from the KMS materials description
                // (it must equal the stored context minus aws:x-amz-cek-alg); on PUT the generator
                // passes it per request (EncryptedPutObjectRequest.withMaterialsDescription).
                KMSEncryptionMaterials m = new KMSEncryptionMaterials(KMS_KEY_ID);
                if (forRead && v.callerEc != null) m.addDescriptions(v.callerEc);
                return new KMSEncryptionMaterialsProvider(m);
            }
        }
    }

    static AmazonS3 client(Variant v, SecureRandom rnd, boolean ranged) {
        return client(v, rnd, ranged, false);
    }

    static AmazonS3 readClient(Variant v, boolean ranged) throws Exception {
        return client(v, seeded("read"), ranged, true);
    }

    static AmazonS3 client(Variant v, SecureRandom rnd, boolean ranged, boolean forRead) {
        CryptoStorageMode sm = v.instructionFile ? CryptoStorageMode.InstructionFile : CryptoStorageMode.ObjectMetadata;
        if (v.family == Family.V2) {
            CryptoConfigurationV2 cc = new CryptoConfigurationV2(v.mode).withStorageMode(sm).withSecureRandom(rnd);
            if (ranged) cc.withRangeGetMode(CryptoRangeGetMode.ALL);
            return AmazonS3EncryptionClientV2Builder.standard()
                .withEndpointConfiguration(endpoint(endpointUrl)).withPathStyleAccessEnabled(true)
                .withCredentials(creds()).withClientConfiguration(clientConfig())
                .withEncryptionMaterialsProvider(materials(v, forRead)).withCryptoConfiguration(cc)
                .withKmsClient(KMS).build();
        }
        CryptoConfiguration cc = new CryptoConfiguration(v.mode).withStorageMode(sm).withSecureRandom(rnd);
        return AmazonS3EncryptionClientBuilder.standard()
            .withEndpointConfiguration(endpoint(endpointUrl)).withPathStyleAccessEnabled(true)
            .withCredentials(creds()).withClientConfiguration(clientConfig())
            .withEncryptionMaterials(materials(v, forRead)).withCryptoConfiguration(cc)
            .withKmsClient(KMS).build();
    }

    static String objectKey(Variant v, String name) { return v.dir + "." + name; }

    // ---------------------------------------------------------------------------------------------
    // cases

    static Written putCase(Variant v, String name, int size, String extraDescription) throws Exception {
        byte[] pt = plaintext(size);
        AmazonS3 c = client(v, seeded(v.dir + "/" + name), false);
        String key = objectKey(v, name);
        ObjectMetadata om = new ObjectMetadata();
        om.setContentLength(size);
        PutObjectRequest req;
        if (v.callerEc != null) {
            req = new EncryptedPutObjectRequest(BUCKET, key, new ByteArrayInputStream(pt), om)
                .withMaterialsDescription(v.callerEc);
        } else {
            req = new PutObjectRequest(BUCKET, key, new ByteArrayInputStream(pt), om);
        }
        c.putObject(req);
        return record(v, c, name, key, pt, v.clientName() + " (CryptoMode." + v.mode + ", "
            + (v.instructionFile ? "instruction file" : "object metadata") + "): " + v.wrapText
            + extraDescription + "; " + size + "-byte plaintext (PutObject).");
    }

    static Written multipartCase(Variant v, String name) throws Exception {
        byte[] pt = plaintext(MULTIPART_SIZE);
        AmazonS3 c = client(v, seeded(v.dir + "/" + name), false);
        String key = objectKey(v, name);
        InitiateMultipartUploadResult init = c.initiateMultipartUpload(
            new EncryptedInitiateMultipartUploadRequest(BUCKET, key));
        List<PartETag> etags = new ArrayList<>();
        int[][] parts = {{0, PART}, {PART, MULTIPART_SIZE - PART}};
        for (int i = 0; i < parts.length; i++) {
            UploadPartRequest up = new UploadPartRequest().withBucketName(BUCKET).withKey(key)
                .withUploadId(init.getUploadId()).withPartNumber(i + 1).withPartSize(parts[i][1])
                .withInputStream(new ByteArrayInputStream(pt, parts[i][0], parts[i][1]))
                .withLastPart(i == parts.length - 1);
            etags.add(c.uploadPart(up).getPartETag());
        }
        c.completeMultipartUpload(new CompleteMultipartUploadRequest(BUCKET, key, init.getUploadId(), etags));
        return record(v, c, name, key, pt, v.clientName() + " (CryptoMode." + v.mode + ", "
            + (v.instructionFile ? "instruction file" : "object metadata") + "): " + v.wrapText + "; "
            + MULTIPART_SIZE + "-byte plaintext uploaded as a multipart upload of two parts ("
            + PART + " bytes, then " + (MULTIPART_SIZE - PART) + " bytes marked as the last part).");
    }

    static Written record(Variant v, AmazonS3 c, String name, String key, byte[] pt, String description)
            throws Exception {
        Stored obj = readStored(store, BUCKET, key);
        Stored inst = readStored(store, BUCKET, key + ".instruction");
        if (obj == null) throw new IllegalStateException("nothing stored for " + key);
        if ((inst != null) != v.instructionFile) {
            throw new IllegalStateException(key + ": instruction file present=" + (inst != null));
        }
        // The SDK must read its own object back.
        byte[] back = readAll(readClient(v, false).getObject(BUCKET, key).getObjectContent());
        if (!Arrays.equals(back, pt)) throw new IllegalStateException(key + ": SDK read-back mismatch");

        Path dir = out.resolve(v.dir);
        Written w = new Written();
        w.v = v;
        w.name = name;
        w.plaintext = pt;
        w.metadata = obj.metadata;
        w.bodyFile = name + ".body";
        Files.write(dir.resolve(w.bodyFile), obj.body);
        if (inst != null) {
            w.instructionFile = name + ".instruction";
            Files.write(dir.resolve(w.instructionFile), inst.body);
        }
        w.key = keyRecord(v, obj, inst);
        w.decrypt = decrypt(REQ_ALLOW, v.legacyWrapping, v.legacyUnauthenticated, v.callerEc, null);
        writeCase(w, name, null, description, w.decrypt, expectPlaintext(pt));
        return w;
    }

    static Map<String, Object> keyRecord(Variant v, Stored obj, Stored inst) throws Exception {
        Map<String, Object> k = obj();
        switch (v.wrap) {
            case AES:
                k.put("kind", "aes");
                k.put("key_b64", b64(AES_MASTER_KEY));
                return k;
            case RSA:
                k.put("kind", "rsa");
                k.put("private_key_pem", RSA_PRIVATE_KEY_PEM);
                return k;
            default: {
                Map<String, String> env = inst != null ? parseStringMap(new String(inst.body, StandardCharsets.UTF_8))
                                                       : obj.metadata;
                String edk = env.get("x-amz-key-v2");
                OfflineKms.Entry e = KMS.byBlob.get(edk);
                if (e == null) throw new IllegalStateException("KMS blob in the object was not issued here");
                Map<String, String> stored = parseStringMap(env.get("x-amz-matdesc"));
                if (!stored.equals(e.context)) {
                    throw new IllegalStateException("stored x-amz-matdesc " + stored + " != KMS context " + e.context);
                }
                k.put("kind", "kms");
                k.put("key_id", e.keyId);
                k.put("ciphertext_blob_b64", edk);
                k.put("encryption_context", e.context);
                k.put("plaintext_b64", b64(e.plaintext));
                return k;
            }
        }
    }

    static Written rangeCase(Written parent, long first, long last) throws Exception {
        Variant v = parent.v;
        AmazonS3 c = readClient(v, true);
        byte[] got = readAll(c.getObject(new GetObjectRequest(BUCKET, objectKey(v, parent.name))
            .withRange(first, last)).getObjectContent());
        int n = parent.plaintext.length;
        long end = Math.min(last, n - 1);
        byte[] slice = first < n ? Arrays.copyOfRange(parent.plaintext, (int) first, (int) end + 1) : new byte[0];
        String note = Arrays.equals(got, slice)
            ? "the SDK returned exactly plaintext[" + first + ".." + end + "] (" + got.length + " bytes)"
            : "NOTE: the SDK returned " + got.length + " bytes that differ from plaintext[" + first + ".."
              + end + "] (" + slice.length + " bytes); recorded as the SDK returned them";
        String rangeClient = v.family == Family.V2
            ? v.clientName() + " (CryptoMode." + v.mode + ", CryptoRangeGetMode.ALL)"
            : v.clientName() + " (CryptoMode." + v.mode + ")";
        Written w = new Written();
        w.v = v;
        w.name = parent.name + ".range-" + first + "-" + last;
        w.plaintext = got;
        w.metadata = parent.metadata;
        w.bodyFile = parent.bodyFile;
        w.instructionFile = parent.instructionFile;
        w.key = parent.key;
        w.decrypt = decrypt(REQ_ALLOW, v.legacyWrapping, true, v.callerEc, new long[] {first, last});
        writeCase(w, w.name, parent.path(), "Ranged GET bytes=" + first + "-" + last + " of " + parent.path()
            + " through " + rangeClient + "; expect = what the SDK returned; " + note + ".",
            w.decrypt, expectPlaintext(got));
        return w;
    }

    static void requireDecryptCase(Written parent) throws Exception {
        Map<String, Object> d = decrypt(REQ_REQ, parent.v.legacyWrapping, parent.v.legacyUnauthenticated,
            parent.v.callerEc, null);
        derived(parent, parent.name + ".require-decrypt", "Same object as " + parent.path()
            + ", read under REQUIRE_ENCRYPT_REQUIRE_DECRYPT: a non-committing object must be refused.",
            d, expectError("policy"));
    }

    static void noLegacyCase(Written parent) throws Exception {
        Map<String, Object> d = decrypt(REQ_ALLOW, false, false, parent.v.callerEc, null);
        String flags = parent.v.legacyUnauthenticated
            ? "legacy_wrapping_algorithms and legacy_unauthenticated_modes both off"
            : "legacy_wrapping_algorithms off";
        derived(parent, parent.name + ".no-legacy", "Same object as " + parent.path() + ", read with "
            + flags + ": a legacy object must be refused.", d, expectError("policy"));
    }

    static void noUnauthenticatedCase(Written rangeParent) throws Exception {
        @SuppressWarnings("unchecked")
        List<Long> r = (List<Long>) rangeParent.decrypt.get("range");
        Map<String, Object> d = decrypt(REQ_ALLOW, rangeParent.v.legacyWrapping, false,
            rangeParent.v.callerEc, new long[] {r.get(0), r.get(1)});
        derived(rangeParent, rangeParent.name + ".no-legacy", "Same ranged read as " + rangeParent.path()
            + " but with legacy_unauthenticated_modes off: ranged (unauthenticated) reads must be refused.",
            d, expectError("policy"));
    }

    static void derived(Written parent, String name, String description, Map<String, Object> decrypt,
                        Map<String, Object> expect) throws Exception {
        writeCase(parent, name, parent.path(), description, decrypt, expect);
    }

    static Map<String, Object> decrypt(String policy, boolean legacyWrap, boolean legacyUnauth,
                                       Map<String, String> ec, long[] range) {
        Map<String, Object> d = obj();
        d.put("commitment_policy", policy);
        d.put("legacy_wrapping_algorithms", legacyWrap);
        d.put("legacy_unauthenticated_modes", legacyUnauth);
        d.put("encryption_context", ec);
        d.put("instruction_file_suffix", ".instruction");
        d.put("range", range == null ? null : List.of(range[0], range[1]));
        return d;
    }

    static Map<String, Object> expectPlaintext(byte[] pt) {
        Map<String, Object> e = obj();
        e.put("plaintext_len", pt.length);
        e.put("plaintext_sha256", toHex(sha256(pt)));
        return e;
    }

    static Map<String, Object> expectError(String cls) {
        Map<String, Object> e = obj();
        e.put("error", cls);
        return e;
    }

    static void writeCase(Written w, String name, String derivedFrom, String description,
                          Map<String, Object> decrypt, Map<String, Object> expect) throws Exception {
        Map<String, Object> c = obj();
        c.put("schema", "s3ec-vector/1");
        c.put("producer", w.v.producer());
        c.put("derived_from", derivedFrom);
        c.put("description", description);
        Map<String, Object> o = obj();
        o.put("metadata", w.metadata);
        o.put("body", w.bodyFile);
        c.put("object", o);
        if (w.instructionFile != null) {
            Map<String, Object> i = obj();
            i.put("body", w.instructionFile);
            c.put("instruction_file", i);
        } else {
            c.put("instruction_file", null);
        }
        c.put("key", w.key);
        c.put("decrypt", decrypt);
        c.put("expect", expect);
        writeJson(out.resolve(w.v.dir).resolve(name + ".json"), c);
        count++;
        String bucket = w.v.dir + " " + w.v.clientName() + " " + w.v.mode + " "
            + (expect.containsKey("error") ? "negative" : decrypt.get("range") != null ? "ranged" : "positive");
        counts.merge(bucket, 1, Integer::sum);
    }

    static String compact(Map<String, String> m) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(m);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, String> orderedMap(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }
}

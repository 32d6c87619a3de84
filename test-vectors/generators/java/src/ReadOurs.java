// Reads s3ec-vector/1 cases (e.g. written by our Rust encryptor) back through the real
// AmazonS3EncryptionClientV2 of the AWS SDK for Java 1.12.262.
//
// usage: java ReadOurs DIR ENDPOINT_URL
//
// For each DIR/*.json: uploads the object body with its metadata (and the instruction file at
// key + suffix) to the loopback S3 stand-in with a plain, non-encrypting S3 client, then GETs it
// through AmazonS3EncryptionClientV2 (CryptoMode.AuthenticatedEncryption; CryptoRangeGetMode.ALL
// only for cases that ask for a range) and compares the result with the case's expectation.
// Prints exactly one line per case: PASS <file>, FAIL <file> <reason> or SKIP <file> <why>.
// Exit status: 0 unless the harness itself broke (2).

package s3ecvectors;

import static s3ecvectors.Common.*;

import com.amazonaws.SdkClientException;
import com.amazonaws.services.s3.AmazonS3;
import com.amazonaws.services.s3.AmazonS3ClientBuilder;
import com.amazonaws.services.s3.AmazonS3EncryptionClientV2Builder;
import com.amazonaws.services.s3.model.CryptoConfigurationV2;
import com.amazonaws.services.s3.model.CryptoMode;
import com.amazonaws.services.s3.model.CryptoRangeGetMode;
import com.amazonaws.services.s3.model.EncryptedGetObjectRequest;
import com.amazonaws.services.s3.model.EncryptionMaterials;
import com.amazonaws.services.s3.model.EncryptionMaterialsProvider;
import com.amazonaws.services.s3.model.KMSEncryptionMaterials;
import com.amazonaws.services.s3.model.KMSEncryptionMaterialsProvider;
import com.amazonaws.services.s3.model.ObjectMetadata;
import com.amazonaws.services.s3.model.StaticEncryptionMaterialsProvider;
import com.fasterxml.jackson.core.type.TypeReference;
import java.io.ByteArrayInputStream;
import java.net.ConnectException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.Security;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

public final class ReadOurs {
    static final String BUCKET = "s3ec-read-ours";
    static final String[] V3_KEYS = {"x-amz-c", "x-amz-3", "x-amz-d", "x-amz-i", "x-amz-w", "x-amz-m", "x-amz-t"};

    static String endpointUrl;
    static AmazonS3 plain;
    static String runPrefix;

    /** A problem with the harness itself, not with the case. */
    static final class HarnessBroke extends Exception {
        HarnessBroke(String m, Throwable cause) { super(m, cause); }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Paths.get(args[0]);
        endpointUrl = args[1];
        Security.addProvider(new BouncyCastleProvider());
        plain = AmazonS3ClientBuilder.standard().withEndpointConfiguration(endpoint(endpointUrl))
            .withPathStyleAccessEnabled(true).withCredentials(creds()).withClientConfiguration(clientConfig())
            .build();
        runPrefix = "run-" + Long.toHexString(System.nanoTime()) + "/";

        List<Path> cases = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            for (Path p : ds) cases.add(p);
        }
        Collections.sort(cases);
        int status = 0;
        for (Path p : cases) {
            String name = p.getFileName().toString();
            String line;
            try {
                line = runCase(p, name);
            } catch (HarnessBroke e) {
                System.out.println("FAIL " + name + " harness error: " + oneLine(e.getMessage()));
                System.err.println("read-ours: harness error on " + name + ": " + e.getMessage());
                status = 2;
                break;
            } catch (Exception e) {
                line = "FAIL " + name + " " + describe(e);
            }
            System.out.println(line);
            System.out.flush();
        }
        System.exit(status);
    }

    @SuppressWarnings("unchecked")
    static String runCase(Path file, String name) throws Exception {
        Map<String, Object> c;
        try {
            c = JSON.readValue(file.toFile(), new TypeReference<Map<String, Object>>() {});
        } catch (Exception e) {
            return "FAIL " + name + " unreadable JSON: " + describe(e);
        }
        if (!"s3ec-vector/1".equals(c.get("schema"))) return "SKIP " + name + " not an s3ec-vector/1 case";
        Path base = file.getParent();
        Map<String, Object> object = (Map<String, Object>) c.get("object");
        Map<String, String> metadata = (Map<String, String>) object.get("metadata");
        byte[] body = Files.readAllBytes(base.resolve((String) object.get("body")));
        Map<String, Object> instRec = (Map<String, Object>) c.get("instruction_file");
        byte[] inst = instRec == null ? null : Files.readAllBytes(base.resolve((String) instRec.get("body")));
        Map<String, Object> key = (Map<String, Object>) c.get("key");
        Map<String, Object> decrypt = (Map<String, Object>) c.get("decrypt");
        Map<String, Object> expect = (Map<String, Object>) c.get("expect");

        // The envelope as a reader sees it: lower-case keys, instruction file merged in.
        Map<String, String> env = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : metadata.entrySet()) env.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue());
        if (inst != null) {
            try {
                Map<String, Object> j = JSON.readValue(inst, new TypeReference<Map<String, Object>>() {});
                for (Map.Entry<String, Object> e : j.entrySet()) {
                    env.putIfAbsent(e.getKey().toLowerCase(Locale.ROOT), String.valueOf(e.getValue()));
                }
            } catch (Exception e) {
                // leave it to the SDK to reject
            }
        }
        boolean v3 = false;
        for (String k : V3_KEYS) v3 |= env.containsKey(k);

        List<Number> range = (List<Number>) decrypt.get("range");

        // Map the case's decrypt settings onto J1's knobs. Positive cases always use
        // CryptoMode.AuthenticatedEncryption (reads V1/V2 and the legacy wraps and CBC). For a case that
        // expects a "policy" error: legacy_wrapping_algorithms off -> StrictAuthenticatedEncryption
        // (refuses legacy wraps and CBC); legacy_unauthenticated_modes off -> CryptoRangeGetMode.DISABLED.
        Object err = expect.get("error");
        CryptoMode mode = CryptoMode.AuthenticatedEncryption;
        boolean rangeAll = range != null;
        if (err != null) {
            List<Object> classes = err instanceof List ? (List<Object>) err : List.of(err);
            if (classes.contains("policy") && "REQUIRE_ENCRYPT_REQUIRE_DECRYPT".equals(decrypt.get("commitment_policy"))) {
                return "SKIP " + name + " expects a policy error under REQUIRE_ENCRYPT_REQUIRE_DECRYPT: J1 has no "
                    + "commitment policy (it reads every V1/V2 object and no V3 object)";
            }
            if (classes.contains("policy") && !classes.contains("authentication") && !classes.contains("format")) {
                boolean lw = Boolean.TRUE.equals(decrypt.get("legacy_wrapping_algorithms"));
                boolean lu = Boolean.TRUE.equals(decrypt.get("legacy_unauthenticated_modes"));
                String cek = env.getOrDefault("x-amz-cek-alg", env.containsKey("x-amz-key") ? "AES/CBC/PKCS5Padding" : "");
                if (lw && !lu && range == null && cek.contains("CBC")) {
                    return "SKIP " + name + " expects a policy error for CBC with legacy wrapping allowed: J1 cannot "
                        + "allow legacy wraps while refusing CBC";
                }
                mode = lw ? CryptoMode.AuthenticatedEncryption : CryptoMode.StrictAuthenticatedEncryption;
                rangeAll = range != null && lu;
            }
        }

        String cekAlg = env.get("x-amz-cek-alg");
        if (cekAlg != null && !cekAlg.equals("AES/GCM/NoPadding") && !cekAlg.equals("AES/CBC/PKCS5Padding")) {
            return "SKIP " + name + " content cipher " + cekAlg + " is not supported by AWS SDK for Java 1.x";
        }

        String suffix = decrypt.get("instruction_file_suffix") == null ? ".instruction"
                                                                       : (String) decrypt.get("instruction_file_suffix");
        if (!suffix.startsWith(".")) {
            return "SKIP " + name + " instruction_file_suffix " + suffix + " does not start with '.', which J1 cannot express";
        }

        // Upload with a plain (non-encrypting) client.
        String objectKey = runPrefix + name.replaceAll("\\.json$", "");
        try {
            ObjectMetadata om = new ObjectMetadata();
            om.setContentLength(body.length);
            for (Map.Entry<String, String> e : metadata.entrySet()) om.addUserMetadata(e.getKey(), e.getValue());
            plain.putObject(BUCKET, objectKey, new ByteArrayInputStream(body), om);
            if (inst != null) {
                ObjectMetadata im = new ObjectMetadata();
                im.setContentLength(inst.length);
                plain.putObject(BUCKET, objectKey + suffix, new ByteArrayInputStream(inst), im);
            }
        } catch (SdkClientException e) {
            if (rootCause(e) instanceof ConnectException) throw new HarnessBroke("S3 stand-in unreachable", e);
            return "FAIL " + name + " upload failed: " + describe(e);
        }

        // Key material.
        OfflineKms kms = new OfflineKms();
        EncryptionMaterialsProvider materials;
        String kind = (String) key.get("kind");
        Map<String, String> matdesc = null;
        try {
            matdesc = parseStringMap(env.get("x-amz-matdesc"));
        } catch (Exception e) {
            // unparsable matdesc: let the SDK complain
        }
        switch (kind) {
            case "aes": {
                EncryptionMaterials m = new EncryptionMaterials(aesKey(unb64((String) key.get("key_b64"))));
                if (matdesc != null && !matdesc.isEmpty()) m.addDescriptions(matdesc);
                materials = new StaticEncryptionMaterialsProvider(m);
                break;
            }
            case "rsa": {
                EncryptionMaterials m = new EncryptionMaterials(rsaKeyPair((String) key.get("private_key_pem")));
                if (matdesc != null && !matdesc.isEmpty()) m.addDescriptions(matdesc);
                materials = new StaticEncryptionMaterialsProvider(m);
                break;
            }
            case "kms": {
                String keyId = (String) key.get("key_id");
                kms.add(new OfflineKms.Entry(keyId, unb64((String) key.get("ciphertext_blob_b64")),
                    (Map<String, String>) key.get("encryption_context"), unb64((String) key.get("plaintext_b64"))));
                KMSEncryptionMaterials m = new KMSEncryptionMaterials(keyId);
                if ("kms".equals(env.get("x-amz-wrap-alg"))) {
                    // Legacy kms wrap: J1 sends its configured materials description as the KMS context
                    // and requires it to equal the stored x-amz-matdesc, so configure exactly that.
                    if (matdesc != null) m.addDescriptions(matdesc);
                } else {
                    // kms+context: J1 takes the caller's encryption context on GET from the KMS
                    // materials description (stored context minus aws:x-amz-cek-alg must equal it).
                    Map<String, String> callerEc = (Map<String, String>) decrypt.get("encryption_context");
                    if (callerEc != null) m.addDescriptions(callerEc);
                }
                materials = new KMSEncryptionMaterialsProvider(m);
                break;
            }
            default:
                return "SKIP " + name + " key kind " + kind + " is not supported by this reader";
        }

        CryptoConfigurationV2 cc = new CryptoConfigurationV2(mode);
        if (rangeAll) cc.withRangeGetMode(CryptoRangeGetMode.ALL);
        AmazonS3 client = AmazonS3EncryptionClientV2Builder.standard()
            .withEndpointConfiguration(endpoint(endpointUrl)).withPathStyleAccessEnabled(true)
            .withCredentials(creds()).withClientConfiguration(clientConfig())
            .withEncryptionMaterialsProvider(materials).withCryptoConfiguration(cc).withKmsClient(kms).build();
        EncryptedGetObjectRequest get = new EncryptedGetObjectRequest(BUCKET, objectKey);
        if (range != null) get.withRange(range.get(0).longValue(), range.get(1).longValue());
        if (!suffix.equals(".instruction")) get.withInstructionFileSuffix(suffix.substring(1));

        byte[] got;
        try {
            got = readAll(client.getObject(get).getObjectContent());
        } catch (Exception e) {
            if (rootCause(e) instanceof ConnectException) throw new HarnessBroke("S3 stand-in unreachable", e);
            if (v3) {
                // Refusing is all J1 can do with V3, so an expected error proves nothing either.
                return "SKIP " + name + " V3 object: AWS SDK for Java 1.x cannot read V3 (the V2 client refused it: "
                    + describe(e) + ")";
            }
            if (err != null) return "PASS " + name;  // refused, as expected
            String hint = "AES/GCM/NoPadding".equals(cekAlg) && !env.containsKey("x-amz-tag-len")
                ? " [the object has no x-amz-tag-len, which J1 requires for GCM]" : "";
            return "FAIL " + name + " " + describe(e) + hint;
        }
        if (err != null) {
            return "FAIL " + name + " expected a " + err + " error, but the SDK returned " + got.length + " bytes";
        }
        long wantLen = ((Number) expect.get("plaintext_len")).longValue();
        String wantSha = (String) expect.get("plaintext_sha256");
        String gotSha = toHex(sha256(got));
        if (got.length == wantLen && gotSha.equalsIgnoreCase(wantSha)) return "PASS " + name;
        return "FAIL " + name + (v3 ? " the V2 client returned wrong plaintext for a V3 object: " : " ")
            + "got " + got.length + " bytes sha256 " + gotSha + ", want " + wantLen + " bytes sha256 " + wantSha;
    }

    static Throwable rootCause(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t;
    }

    static String describe(Throwable e) {
        String s = e.getClass().getSimpleName() + ": " + e.getMessage();
        Throwable r = rootCause(e);
        if (r != e) s += " (cause " + r.getClass().getSimpleName() + ": " + r.getMessage() + ")";
        return oneLine(s);
    }

    static String oneLine(String s) {
        s = String.valueOf(s).replaceAll("\\s+", " ").trim();
        return s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }

}

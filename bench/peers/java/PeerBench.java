// The Java peer of bench/peers/run.sh: AWS SDK for Java 1.12.262, V2 content encryption
// (AES-256-GCM, 12-byte IV, no AAD), timed in-process around the crypto calls only.
//
//   java PeerBench encrypt|decrypt KEY_HEX IV_HEX FILE
//
// Prints one line per variant: RESULT <variant> wall=<s>,<s>,<s> cpu=<s>,<s>,<s> <sha256 of the output>
// (wall clock and process CPU time, all JVM threads, of each run).
//
//   sdk     the SDK's own content-crypto path, as AmazonS3EncryptionClientV2 builds it:
//           CryptoRuntime.enableBouncyCastle() (the client does this), then
//           ContentCryptoScheme.AES_GCM.createCipherLite(key, iv, mode) (provider chosen the SDK's way:
//           none configured -> the scheme's preferred provider, Bouncy Castle "BC"), read through
//           new CipherLiteInputStream(source, cipherLite, 2048) (S3CryptoModuleBase/S3CryptoModuleAE
//           use that class with a 2048-byte buffer on PUT and GET) into a byte array. The source is a
//           ByteArrayInputStream over the file's bytes (the in-memory stand-in for the request body /
//           the S3 response stream).
//   bc      javax.crypto Cipher "AES/GCM/NoPadding" from Bouncy Castle, one doFinal over the buffer
//           into an output array.
//   sunjce  the same from the JDK's SunJCE provider (not what the SDK picks; for reference).

import com.amazonaws.services.s3.internal.crypto.CipherLite;
import com.amazonaws.services.s3.internal.crypto.CipherLiteInputStream;
import com.amazonaws.services.s3.internal.crypto.ContentCryptoScheme;
import com.amazonaws.services.s3.internal.crypto.CryptoRuntime;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public final class PeerBench {
    private static final int RUNS = Integer.getInteger("runs", 3);

    private static byte[] unhex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /** Wall clock and process CPU time (ns) at one instant. */
    private static long[] now() {
        long cpu = OS.getProcessCpuTime();
        return new long[] {System.nanoTime(), cpu};
    }

    private static long[] since(long[] start) {
        long wall = System.nanoTime() - start[0];
        return new long[] {wall, OS.getProcessCpuTime() - start[1]};
    }

    private static void report(String variant, List<long[]> runs, byte[] out) throws Exception {
        StringBuilder sb = new StringBuilder("RESULT ").append(variant);
        for (int k = 0; k < 2; k++) {
            sb.append(k == 0 ? " wall=" : " cpu=");
            for (int i = 0; i < runs.size(); i++) {
                sb.append(i == 0 ? "" : ",").append(String.format("%.6f", runs.get(i)[k] / 1e9));
            }
        }
        sb.append(' ').append(hex(MessageDigest.getInstance("SHA-256").digest(out)));
        System.out.println(sb);
    }

    private static void readFully(InputStream in, byte[] out) throws IOException {
        int at = 0;
        while (true) {
            int n = in.read(out, at, out.length - at);
            if (n < 0) break;
            at += n;
            if (at == out.length && in.read() >= 0) throw new IOException("stream longer than expected");
        }
        if (at != out.length) throw new IOException("short stream: " + at);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: PeerBench encrypt|decrypt KEY_HEX IV_HEX FILE");
            System.exit(2);
        }
        boolean encrypt = args[0].equals("encrypt");
        int mode = encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE;
        SecretKeySpec key = new SecretKeySpec(unhex(args[1]), "AES");
        byte[] iv = unhex(args[2]);
        byte[] input = Files.readAllBytes(Paths.get(args[3]));
        int outLen = encrypt ? input.length + 16 : input.length - 16;

        CryptoRuntime.enableBouncyCastle();
        if (!CryptoRuntime.isBouncyCastleAvailable()) throw new IllegalStateException("Bouncy Castle missing");

        List<long[]> sdk = new ArrayList<>(), bc = new ArrayList<>(), sunjce = new ArrayList<>();
        // Output arrays allocated (and so zeroed, written) once, before the timers.
        byte[] sdkOut = new byte[outLen], bcOut = new byte[outLen], sunOut = new byte[outLen];
        String sdkProvider = null;
        for (int r = 0; r < RUNS; r++) {
            long[] t = now();
            CipherLite cl = ContentCryptoScheme.AES_GCM.createCipherLite(key, iv, mode);
            try (InputStream in = new CipherLiteInputStream(new ByteArrayInputStream(input), cl, 2048)) {
                readFully(in, sdkOut);
            }
            sdk.add(since(t));
            sdkProvider = cl.getCipherProvider().getName();

            t = now();
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding", "BC");
            c.init(mode, key, new GCMParameterSpec(128, iv));
            if (c.doFinal(input, 0, input.length, bcOut, 0) != outLen) throw new IllegalStateException("bc length");
            bc.add(since(t));

            t = now();
            c = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
            c.init(mode, key, new GCMParameterSpec(128, iv));
            if (c.doFinal(input, 0, input.length, sunOut, 0) != outLen) throw new IllegalStateException("sunjce length");
            sunjce.add(since(t));
        }
        System.err.println("java: SDK cipher provider = " + sdkProvider + " "
                + java.security.Security.getProvider(sdkProvider).getVersionStr() + ", "
                + System.getProperty("java.vm.name") + " " + System.getProperty("java.version")
                + ", aws-java-sdk-s3 " + com.amazonaws.util.VersionInfoUtils.getVersion());
        report("sdk", sdk, sdkOut);
        report("bc", bc, bcOut);
        report("sunjce", sunjce, sunOut);
    }
}

#!/usr/bin/env bash
# Content-crypto throughput of the real S3EC peers and of this crate, on one 64 MiB object.
#
#   bench/peers/run.sh            # all peers; prints the table, once per clock (CPU, wall)
#
# Env: S3EC_BENCH_PEERS (default "ours java ruby go python"), S3EC_BENCH_MIB (default 64),
# S3EC_BENCH_REPEAT (default 1: rounds of processes, peers interleaved; the table takes the best of
# all 3 x REPEAT runs — use 3 on a busy machine),
# CARGO_TARGET_DIR (default /work/target-bench), S3EC_BENCH_WORK (scratch, default
# $CARGO_TARGET_DIR/peers-work), S3EC_PEERS_DIR (the peers' install cache, as the generators use).
#
# "Crypto only" means: no S3, no HTTP, no KMS, no files inside the timer. Every peer runs the same
# V2 content encryption — AES-256-GCM, one fixed 32-byte data key, one fixed 12-byte IV, no AAD,
# 128-bit tag appended — over the same 64 MiB plaintext, and decrypts the same ciphertext ‖ tag.
# One process per peer per direction reads its input file into memory first, then times 3 runs of
# each variant around the calls listed below only (process and JVM start-up, file reading and
# output hashing are outside; the first run includes JIT warm-up, which best-of-3 leaves out),
# and prints every run on two clocks: wall (monotonic) and process CPU time (all threads). The
# machine these were written on is shared (2 vCPUs, other sessions compiling): wall times there
# include waiting for a core, CPU time does not, so the table is printed for both clocks. Each
# cell is the best run. Every variant's output is SHA-256-checked against this crate's ciphertext
# / the plaintext, so all peers are shown to compute the same bytes. Where the benchmark (not the
# peer's API) chooses the destination, it is allocated and written once before the timers and
# reused; where the peer's API allocates its result (Go's content cipher, Python), that
# allocation — at 64 MiB a fresh mmap whose pages fault in during the call — is part of the run.
#
#   ours    this crate (bench/peers/ours, release build), V2 through the public API.
#           inplace: Encryptor::new + Encryptor::encrypt_in_place over 1 MiB chunks + finish /
#                    Envelope::decryptor + Decryptor::decrypt_whole_in_place (verify-first: GHASH
#                    pass, then CTR pass; nothing released before the tag verifies). The row the
#                    ratios use.
#           stream:  Encryptor::encrypt buffer to buffer over 1 MiB chunks / Decryptor::verify_first
#                    in 1 MiB chunks (pass one authenticates, pass two decrypts into a second buffer).
#           The key wrap (EncryptionMaterials::aes_gcm) and the envelope parse are outside the timer.
#   java    AWS SDK for Java 1.12.262 (bench/peers/java/PeerBench.java), OpenJDK 17, BC 1.72.
#           sdk:    the SDK's own content-crypto classes as AmazonS3EncryptionClientV2 uses them:
#                   CryptoRuntime.enableBouncyCastle(); ContentCryptoScheme.AES_GCM
#                   .createCipherLite(key, iv, mode) (no provider configured -> the scheme's
#                   preferred "BC", Bouncy Castle) read through new CipherLiteInputStream(body,
#                   cipherLite, 2048) (the class and buffer size of S3CryptoModuleBase on PUT and
#                   S3CryptoModuleAE on GET) into a byte array; body = ByteArrayInputStream (the
#                   in-memory stand-in for the request body / response stream).
#           bc:     Cipher.getInstance("AES/GCM/NoPadding", "BC"), init, one doFinal into an array.
#           sunjce: the same with the JDK's SunJCE (not what the SDK picks; for reference).
#   ruby    aws-sdk-s3 1.117.2 EncryptionV2, OpenSSL via Ruby's openssl (bench/peers/ruby/peer_bench.rb).
#           sdk:    encrypt = Aws::S3::EncryptionV2::Utils.aes_encryption_cipher(:GCM), key, iv,
#                   auth_data = '', then IOEncrypter#encrypt_to_tempfile's calls (1 MiB reads,
#                   cipher.update(chunk, buf), final, auth_tag) written to an in-memory sink instead
#                   of the Tempfile; decrypt = Utils.aes_decryption_cipher(:GCM, key, iv), auth_tag,
#                   auth_data = '', the SDK's IOAuthDecrypter writing into the sink, fed the stored
#                   body in 16 KiB writes, #finalize (plaintext is released before the tag check,
#                   as in the SDK).
#   go      aws-sdk-go 1.44.133 s3crypto (bench/peers/go/main.go, GOPATH build on the Debian sources).
#           sdk:    encrypt = AESGCMContentCipherBuilderV2(generator).ContentCipher() (the generator
#                   hands out the fixed key/IV instead of KMS) + EncryptContents(bytes.Reader) +
#                   io.Copy into a pre-grown bytes.Buffer (putObjectRequest's copy, without its SHA-256
#                   payload hash and temp-file store); decrypt = the "AES/GCM/NoPadding" CEK entry of
#                   a CryptoRegistry after RegisterAESGCMContentCipher + DecryptContents + io.Copy.
#                   The content cipher reads the whole body into memory (ioutil.ReadAll), then Seal/Open.
#           stdlib: crypto/aes + cipher.NewGCM, one Seal / Open into a preallocated buffer.
#   python  amazon-s3-encryption-client-python 4.0.0, cryptography 48 (bench/peers/python/peer_bench.py).
#           sdk:    encrypt = PutEncryptedObjectPipeline(cmm, ALG_AES_256_GCM_IV12_TAG16_NO_KDF)
#                   .encrypt(body) with an in-memory materials manager (fixed data key, in place of
#                   the KMS keyring) and the pipeline's os.urandom returning the fixed IV; inside it
#                   is AESGCM(key).encrypt(iv, body, None). decrypt =
#                   GetEncryptedObjectPipeline._decrypt_gcm_streaming(materials, StreamingBody over
#                   BytesIO, delayed_authentication=False, length) and .read() of what it returns
#                   (reads the body, GCM update + finalize_with_tag, several whole-body copies).
#           aesgcm: AESGCM(key).encrypt / .decrypt over the whole buffer (new bytes per call).
#           aesgcm_into: AESGCM(key).encrypt_into / .decrypt_into a preallocated bytearray.
#
# The peers are installed the way test-vectors/generators/<peer>/ does it (their install functions
# are sourced, not copied): Java jars under ~/.cache/s3ec-peers/java, Debian ruby-aws-sdk-s3 and
# golang-github-aws-aws-sdk-go-dev, the python venv of test-vectors/generators/python/env.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
GEN="$ROOT/test-vectors/generators"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-bench}"
WORK="${S3EC_BENCH_WORK:-$CARGO_TARGET_DIR/peers-work}"
PEERS_CACHE="${S3EC_PEERS_DIR:-$HOME/.cache/s3ec-peers}"
MIB="${S3EC_BENCH_MIB:-64}"
PEERS="${S3EC_BENCH_PEERS:-ours java ruby go python}"
REPEAT="${S3EC_BENCH_REPEAT:-1}"
# Benchmark key material (not secret): fixed so that every peer's output can be compared.
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
IV=cafebabefacedbaddecaf888

say() { echo "[peers-bench] $*" >&2; }
mkdir -p "$WORK"

# ---------------------------------------------------------------- setup

OURS="$CARGO_TARGET_DIR/release/s3ec-bench-peer-ours"
setup_ours() {
    say "building bench/peers/ours (release)"
    cargo build --release --quiet --manifest-path "$HERE/ours/Cargo.toml"
}

setup_java() {
    JAVA_CP="$(. "$GEN/java/lib.sh" && setup_java_peer >&2 && classpath)"
    local classes="$WORK/java-classes" stamp
    stamp="$(sha256sum "$HERE/java/PeerBench.java" | cut -c1-64)"
    if [ "$(cat "$classes/.stamp" 2>/dev/null)" != "$stamp" ]; then
        say "compiling bench/peers/java/PeerBench.java"
        rm -rf "$classes" && mkdir -p "$classes"
        javac -nowarn -encoding UTF-8 -d "$classes" -cp "$JAVA_CP" "$HERE/java/PeerBench.java"
        echo "$stamp" > "$classes/.stamp"
    fi
    JAVA_CP="$classes:$JAVA_CP"
}

setup_ruby() {
    (. "$GEN/ruby/common.sh" && ensure_ruby_peer)
}

GO_BIN="$WORK/s3ec-bench-go"
setup_go() {
    # ensure_go_peer installs Go and the Debian aws-sdk-go sources when missing (and builds the
    # generator's own driver, cached); then the benchmark driver is built the same way.
    (HERE="$GEN/go" CACHE="$PEERS_CACHE/go" && . "$GEN/go/common.sh" && ensure_go_peer)
    say "building bench/peers/go"
    (cd "$HERE/go" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PEERS_CACHE/go/go-build" \
        GOFLAGS= go build -o "$GO_BIN" main.go)
}

setup_python() {
    PY="$(. "$GEN/python/env.sh" && ensure_venv && echo "$VENV/bin/python")"
}

for p in $PEERS; do
    case "$p" in
        ours | java | ruby | go | python) ;;
        *) say "unknown peer '$p'"; exit 2 ;;
    esac
done
# The inputs and the ratios' reference come from this crate, so it always runs.
case " $PEERS " in *" ours "*) ;; *) PEERS="ours $PEERS" ;; esac
setup_ours
for p in $PEERS; do
    [ "$p" = ours ] || "setup_$p"
done

say "writing the ${MIB} MiB plaintext and this crate's V2 ciphertext to $WORK"
"$OURS" prepare "$WORK" "$KEY" "$IV" "$MIB"

# ---------------------------------------------------------------- run

run_peer() { # peer direction input
    case "$1" in
        ours) "$OURS" "$2" "$KEY" "$IV" "$3" ;;
        java) java -Xmx2g -cp "$JAVA_CP" PeerBench "$2" "$KEY" "$IV" "$3" ;;
        ruby) ruby "$HERE/ruby/peer_bench.rb" "$2" "$KEY" "$IV" "$3" ;;
        go) "$GO_BIN" "$2" "$KEY" "$IV" "$3" ;;
        python) "$PY" "$HERE/python/peer_bench.py" "$2" "$KEY" "$IV" "$3" ;;
    esac
}

rm -f "$WORK"/*.out "$WORK"/*.err
for r in $(seq 1 "$REPEAT"); do
    for p in $PEERS; do
        for d in encrypt decrypt; do
            if [ "$d" = encrypt ]; then in="$WORK/plaintext.bin"; else in="$WORK/ciphertext.bin"; fi
            say "round $r/$REPEAT: $p $d"
            run_peer "$p" "$d" "$in" > "$WORK/$p-$d.$r.out" 2> "$WORK/$p-$d.$r.err" || {
                cat "$WORK/$p-$d.$r.err" >&2
                say "$p $d failed"
                exit 1
            }
        done
    done
done

# ---------------------------------------------------------------- table

python3 - "$WORK" "$MIB" "$REPEAT" $PEERS <<'EOF' | tee "$WORK/table.md"
import hashlib, os, sys

work, mib, repeat, peers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
length = mib << 20

def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

want = {"encrypt": sha(os.path.join(work, "ciphertext.bin")),
        "decrypt": sha(os.path.join(work, "plaintext.bin"))}
LABELS = {
    ("ours", "inplace"): "this crate: encrypt_in_place, 1 MiB chunks / decrypt_whole_in_place (verify-first)",
    ("ours", "stream"): "this crate: encrypt buffer-to-buffer, 1 MiB chunks / verify_first streaming, 1 MiB chunks",
    ("java", "sdk"): "Java SDK 1.12.262: CipherLite + CipherLiteInputStream (Bouncy Castle)",
    ("java", "bc"): "Java: Bouncy Castle Cipher, one doFinal",
    ("java", "sunjce"): "Java: SunJCE Cipher, one doFinal (not the SDK's provider)",
    ("ruby", "sdk"): "Ruby aws-sdk-s3 1.117.2: OpenSSL cipher, IOEncrypter loop / IOAuthDecrypter",
    ("go", "sdk"): "Go aws-sdk-go 1.44.133: s3crypto AES/GCM content cipher",
    ("go", "stdlib"): "Go: crypto/cipher GCM Seal / Open",
    ("python", "sdk"): "Python official 4.0.0: Put pipeline encrypt / GCM decrypt path",
    ("python", "aesgcm"): "Python: cryptography AESGCM encrypt / decrypt (new bytes each call)",
    ("python", "aesgcm_into"): "Python: cryptography AESGCM encrypt_into / decrypt_into (preallocated)",
}
CLOCKS = ("cpu", "wall")

# rows[(peer, variant)][direction][clock] = [[run, run, run] per process]
rows, order, bad, envs = {}, [], [], []
for r in range(1, repeat + 1):
    for p in peers:
        for d in ("encrypt", "decrypt"):
            with open(os.path.join(work, f"{p}-{d}.{r}.out")) as f:
                for line in f:
                    parts = line.split()
                    if not parts or parts[0] != "RESULT":
                        continue
                    variant, digest = parts[1], parts[-1]
                    fields = dict(x.split("=", 1) for x in parts[2:-1])
                    key = (p, variant)
                    if key not in rows:
                        rows[key] = {}
                        order.append(key)
                    for c in CLOCKS:
                        times = [float(x) for x in fields[c].split(",")]
                        rows[key].setdefault(d, {}).setdefault(c, []).append(times)
                    if digest != want[d]:
                        bad.append(f"{p}/{variant} {d} (round {r}): output sha256 {digest} != {want[d]}")
            with open(os.path.join(work, f"{p}-{d}.{r}.err")) as f:
                for line in f:
                    if line.strip() and line.strip() not in envs:
                        envs.append(line.strip())

def best(key, d, c):
    return min(min(t) for t in rows[key][d][c])

def mbps(t):
    return length / t / 1e6

ref = ("ours", "inplace")
runs = "best of 3 in-process runs" if repeat == 1 else f"best of {repeat} processes x 3 in-process runs"
print(f"V2 content crypto (AES-256-GCM, no AAD) of one {mib} MiB object, one process per peer per "
      f"direction, {runs}; MB/s = 10^6 plaintext bytes per second; "
      f"ours/peer = this crate's inplace throughput / the peer's (> 1: ours is faster).")
TITLES = {
    "cpu": "Process CPU time (all threads, JIT and GC included; leaves out the time spent waiting "
           "for a core held by other processes)",
    "wall": "Wall clock",
}
for c in CLOCKS:
    print()
    print(TITLES[c] + ":")
    print()
    print("| peer: what is timed | encrypt MB/s | decrypt MB/s | ours/peer encrypt | ours/peer decrypt |")
    print("|---|---:|---:|---:|---:|")
    for key in order:
        cells = []
        for d in ("encrypt", "decrypt"):
            cells.append(f"{mbps(best(key, d, c)):.0f}" if d in rows[key] else "-")
        for d in ("encrypt", "decrypt"):
            if d in rows[key] and ref in rows and d in rows[ref]:
                cells.append(f"{best(key, d, c) / best(ref, d, c):.2f}")  # peer time / our time
            else:
                cells.append("-")
        print(f"| {LABELS.get(key, '/'.join(key))} | " + " | ".join(cells) + " |")
print()
print("All runs (seconds, wall/CPU; one group per process):")
for key in order:
    for d in ("encrypt", "decrypt"):
        if d in rows[key]:
            groups = "  |  ".join(
                " ".join(f"{w:.3f}/{c:.3f}" for w, c in zip(gw, gc))
                for gw, gc in zip(rows[key][d]["wall"], rows[key][d]["cpu"]))
            print(f"  {key[0]:7} {key[1]:8} {d}: {groups}")
if envs:
    print()
    for e in envs:
        print("  " + e)
if bad:
    print()
    for b in bad:
        print("MISMATCH " + b)
    sys.exit(1)
print()
print("Every output matched (SHA-256) this crate's ciphertext / the plaintext.")
EOF

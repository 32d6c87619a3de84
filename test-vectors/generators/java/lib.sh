# Shared by generate.sh and read-ours.sh (sourced, not run). Installs the Java peer on a fresh Debian
# machine (idempotent), compiles the driver, and starts/stops the loopback S3 stand-in.
#
# Cache: ${S3EC_PEERS_DIR:-$HOME/.cache/s3ec-peers}/java/
#   sagemaker_pyspark-1.4.5.tar.gz   the PyPI sdist that carries the AWS SDK for Java 1.12.262 jars
#   jars/                            the three jars extracted from it (s3, core, kms)
#   classes/                         the compiled driver (rebuilt when src/ changes)

JAVA_GEN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEER_CACHE="${S3EC_PEERS_DIR:-$HOME/.cache/s3ec-peers}/java"
SDIST=sagemaker_pyspark-1.4.5.tar.gz
SDIST_SHA256=05ca2d5081d7138ce29a8fb0a9cba077f28c825288ed07aed46a82e63c0bf1fb
SDK_JARS="aws-java-sdk-s3-1.12.262.jar aws-java-sdk-core-1.12.262.jar aws-java-sdk-kms-1.12.262.jar"
DEB_PACKAGES="openjdk-17-jdk-headless python3 python3-venv libjackson2-databind-java libhttpclient-java libcommons-logging-java libjoda-time-java libbcprov-java"
DEB_JARS="jackson-databind jackson-core jackson-annotations httpclient httpcore commons-logging commons-codec joda-time bcprov"

log() { echo "[java-peer] $*" >&2; }

install_debian_deps() {
    local missing=0 j
    command -v javac >/dev/null 2>&1 || missing=1
    command -v python3 >/dev/null 2>&1 || missing=1
    python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing=1
    for j in $DEB_JARS; do [ -e "/usr/share/java/$j.jar" ] || missing=1; done
    if [ "$missing" = 1 ]; then
        log "installing Debian packages: $DEB_PACKAGES"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get -o DPkg::Lock::Timeout=600 update -q >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q \
            --no-install-recommends $DEB_PACKAGES >&2
    fi
}

fetch_sdk_jars() {
    mkdir -p "$PEER_CACHE/jars"
    local j need=0
    for j in $SDK_JARS; do [ -s "$PEER_CACHE/jars/$j" ] || need=1; done
    [ "$need" = 0 ] && return 0
    if [ ! -s "$PEER_CACHE/$SDIST" ] || ! echo "$SDIST_SHA256  $PEER_CACHE/$SDIST" | sha256sum -c --quiet - 2>/dev/null; then
        log "downloading $SDIST (181 MB) from PyPI"
        rm -f "$PEER_CACHE/$SDIST"
        local tmp
        tmp="$(mktemp -d "$PEER_CACHE/dl.XXXXXX")"
        [ -x "$PEER_CACHE/venv/bin/python" ] || python3 -m venv "$PEER_CACHE/venv" >&2
        "$PEER_CACHE/venv/bin/python" -m pip download --quiet --no-deps --no-binary :all: -d "$tmp" \
            sagemaker-pyspark==1.4.5 >&2
        mv "$tmp/$SDIST" "$PEER_CACHE/$SDIST"
        rm -rf "$tmp"
    fi
    echo "$SDIST_SHA256  $PEER_CACHE/$SDIST" | sha256sum -c --quiet - || { log "sha256 mismatch for $SDIST"; return 1; }
    local members=()
    for j in $SDK_JARS; do members+=("sagemaker_pyspark-1.4.5/deps/jars/$j"); done
    tar -xzf "$PEER_CACHE/$SDIST" -C "$PEER_CACHE/jars" --strip-components=3 "${members[@]}"
}

classpath() {
    local cp="$PEER_CACHE/classes" j
    for j in $SDK_JARS; do cp="$cp:$PEER_CACHE/jars/$j"; done
    for j in $DEB_JARS; do cp="$cp:/usr/share/java/$j.jar"; done
    echo "$cp"
}

compile_driver() {
    local stamp
    stamp="$(cat "$JAVA_GEN_DIR"/src/*.java | sha256sum | cut -c1-64)"
    if [ -f "$PEER_CACHE/classes/.stamp" ] && [ "$(cat "$PEER_CACHE/classes/.stamp")" = "$stamp" ]; then
        return 0
    fi
    log "compiling the driver"
    rm -rf "$PEER_CACHE/classes"
    mkdir -p "$PEER_CACHE/classes"
    javac -nowarn -encoding UTF-8 -d "$PEER_CACHE/classes" -cp "$(classpath)" "$JAVA_GEN_DIR"/src/*.java 2>&1 \
        | grep -v '^Note: ' >&2 || true
    [ -f "$PEER_CACHE/classes/s3ecvectors/Generate.class" ] || { log "javac failed"; return 1; }
    echo "$stamp" > "$PEER_CACHE/classes/.stamp"
}

setup_java_peer() {
    install_debian_deps
    fetch_sdk_jars
    compile_driver
}

run_java() {
    java -Xmx1g -cp "$(classpath)" \
        -Dorg.apache.commons.logging.Log=org.apache.commons.logging.impl.NoOpLog \
        -Dcom.amazonaws.sdk.disableEc2Metadata=true \
        -Daws.region=us-east-1 \
        "$@"
}

# start_stub WORKDIR: starts s3stub.py on 127.0.0.1 (ephemeral port), storing under WORKDIR/store.
# Sets STUB_PID and STUB_URL. The caller must trap EXIT and call stop_stub.
start_stub() {
    local work="$1" i
    mkdir -p "$work/store"
    python3 "$JAVA_GEN_DIR/s3stub.py" --store "$work/store" --port-file "$work/port" \
        --log-file "$work/s3stub.log" 2>"$work/s3stub.err" &
    STUB_PID=$!
    for i in $(seq 1 100); do
        [ -s "$work/port" ] && break
        kill -0 "$STUB_PID" 2>/dev/null || { cat "$work/s3stub.err" >&2; log "S3 stand-in failed to start"; return 1; }
        sleep 0.1
    done
    [ -s "$work/port" ] || { log "S3 stand-in did not report its port"; return 1; }
    STUB_URL="http://127.0.0.1:$(cat "$work/port")"
}

# Keep the scratch folder (S3 stand-in log and store) for debugging: S3EC_JAVA_KEEP_WORK=1.
remove_work() {
    if [ "${S3EC_JAVA_KEEP_WORK:-0}" = 1 ]; then
        log "kept scratch folder $1"
    else
        rm -rf "$1"
    fi
}

stop_stub() {
    if [ -n "${STUB_PID:-}" ]; then
        kill "$STUB_PID" 2>/dev/null || true
        wait "$STUB_PID" 2>/dev/null || true
        STUB_PID=""
    fi
}

# Shared helpers for the Go peer scripts (sourced, not run).

# Install Go and the Debian aws-sdk-go source package when they are missing, and build
# main.go in GOPATH mode into $CACHE/bin/s3ec-go (sets S3EC_GO).
ensure_go_peer() {
    local sdk=/usr/share/gocode/src/github.com/aws/aws-sdk-go/service/s3/s3crypto
    if ! command -v go >/dev/null || [ ! -d "$sdk" ] || ! command -v python3 >/dev/null; then
        local SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        echo "go: installing golang-go golang-github-aws-aws-sdk-go-dev python3 with apt-get" >&2
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
            golang-go golang-github-aws-aws-sdk-go-dev python3 ca-certificates >/dev/null
    fi
    mkdir -p "$CACHE/bin" "$CACHE/go-build"
    S3EC_GO="$CACHE/bin/s3ec-go"
    # GOPATH mode against the Debian sources; the build cache makes reruns quick.
    (cd "$HERE" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$CACHE/go-build" GOFLAGS= \
        nice go build -o "$S3EC_GO.tmp" main.go) && mv "$S3EC_GO.tmp" "$S3EC_GO"
}

# start_s3_stub DIR [record]: start s3stub.py on 127.0.0.1 (ephemeral port), recording every PUT
# into DIR/record when asked; sets S3_PORT and S3_STUB_PID, and stops the stand-in when the
# calling script exits.
start_s3_stub() {
    local dir="$1" rec=()
    if [ "${2:-}" = record ]; then
        mkdir -p "$dir/record"
        rec=(--record-dir "$dir/record")
    fi
    rm -f "$dir/port"
    python3 "$HERE/../common/s3stub.py" --port-file "$dir/port" "${rec[@]}" &
    S3_STUB_PID=$!
    trap 'kill "$S3_STUB_PID" 2>/dev/null || true; wait "$S3_STUB_PID" 2>/dev/null || true' EXIT
    trap 'exit 130' INT TERM HUP
    local i
    for i in $(seq 1 100); do
        [ -s "$dir/port" ] && break
        kill -0 "$S3_STUB_PID" 2>/dev/null || { echo "s3stub.py failed to start" >&2; return 1; }
        sleep 0.1
    done
    [ -s "$dir/port" ] || { echo "s3stub.py did not start" >&2; return 1; }
    S3_PORT="$(cat "$dir/port")"
}

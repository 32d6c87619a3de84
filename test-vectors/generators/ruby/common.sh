# Shared helpers for the Ruby peer scripts (sourced, not run).

# Install Ruby and the Debian aws-sdk-s3/aws-sdk-kms gems when they are missing.
ensure_ruby_peer() {
    if ruby -e 'require "aws-sdk-s3"; require "aws-sdk-kms"' >/dev/null 2>&1 && command -v python3 >/dev/null; then
        return 0
    fi
    local SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "ruby: installing ruby ruby-aws-sdk-s3 ruby-aws-sdk-kms python3 with apt-get" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        ruby ruby-aws-sdk-s3 ruby-aws-sdk-kms python3 >/dev/null
    ruby -e 'require "aws-sdk-s3"; require "aws-sdk-kms"'
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

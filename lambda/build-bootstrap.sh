#!/usr/bin/env bash
# Builds the deployable Lambda function: a static x86_64-unknown-linux-musl `bootstrap` (no glibc
# dependency, so it runs on provided.al2023 and provided.al2 alike) and `bootstrap.zip` holding it,
# as `aws lambda create-function --zip-file` takes it. Installs what it needs when missing (the
# rustup target; musl-gcc from Debian/Ubuntu's musl-tools, for aws-lc-sys's C code; `file` and
# binutils for the checks), builds, checks that the result is statically linked (no program
# interpreter, no shared libraries, no GLIBC_ symbol versions) and prints its path and size. The
# last line of output is the binary's path.
#
#   bash lambda/build-bootstrap.sh             # debug build (what CI tests: the quicker build)
#   bash lambda/build-bootstrap.sh --release   # release build (what to deploy)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target=x86_64-unknown-linux-musl
profile_args=()
case "${1:-}" in
  "") ;;
  --release) profile_args=(--release) ;;
  *)
    echo "usage: $0 [--release]" >&2
    exit 2
    ;;
esac

# Debian/Ubuntu packages, installed when a command is missing (CI runs as root).
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "build-bootstrap: install $* (no apt-get here)" >&2
    return 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null ||
    { "${sudo[@]}" apt-get update -qq >/dev/null && "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null; }
}

if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi
command -v musl-gcc >/dev/null || apt_install musl-tools
command -v file >/dev/null || apt_install file
command -v readelf >/dev/null || apt_install binutils

# aws-lc-sys (the AWS SDK's TLS crypto, through rustls) compiles C for the target: with musl-gcc,
# against musl's headers and libc.
export CC_x86_64_unknown_linux_musl="${CC_x86_64_unknown_linux_musl:-musl-gcc}"

t0=$SECONDS
bin=$(cargo build -p s3ec-lambda --bin bootstrap --target "$target" "${profile_args[@]}" \
  --message-format=json-render-diagnostics |
  sed -n 's/.*"executable":"\([^"]*\/bootstrap\)".*/\1/p' | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "build-bootstrap: cargo named no bootstrap executable" >&2
  exit 1
fi
echo "build-bootstrap: built in $((SECONDS - t0)) s"

# Static: `file` says so, the kernel needs no program interpreter, no shared library is named,
# and no symbol asks for a glibc version.
ok=1
what=$(file -b "$bin")
echo "build-bootstrap: file: $what"
case "$what" in
  *"ELF 64-bit"*"x86-64"*"static-pie linked"* | *"ELF 64-bit"*"x86-64"*"statically linked"*) ;;
  *) echo "build-bootstrap: not a static x86-64 ELF executable" >&2; ok=0 ;;
esac
if readelf -lW "$bin" | grep -q "INTERP"; then
  echo "build-bootstrap: has a program interpreter:" >&2
  readelf -lW "$bin" | grep -A1 INTERP >&2
  ok=0
fi
if readelf -dW "$bin" | grep -q "(NEEDED)"; then
  echo "build-bootstrap: needs shared libraries:" >&2
  readelf -dW "$bin" | grep "(NEEDED)" >&2
  ok=0
fi
if readelf -VW "$bin" | grep -q "GLIBC_"; then
  echo "build-bootstrap: asks for glibc symbol versions, up to" \
    "$(readelf -VW "$bin" | grep -o "GLIBC_[0-9.]*" | sort -uV | tail -n 1)" >&2
  ok=0
fi
ldd_says=$(ldd "$bin" 2>&1 || true)
echo "build-bootstrap: ldd: $ldd_says"
case "$ldd_says" in
  *"=>"*) echo "build-bootstrap: ldd lists shared libraries" >&2; ok=0 ;;
esac
[ "$ok" -eq 1 ] || exit 1

# The zip Lambda takes: `bootstrap` at its root, executable.
dir=$(dirname "$bin")
rm -f "$dir/bootstrap.zip"
if command -v zip >/dev/null; then
  (cd "$dir" && zip -q -X bootstrap.zip bootstrap)
else
  (cd "$dir" && python3 -m zipfile -c bootstrap.zip bootstrap)
fi
# Lambda runs `bootstrap` from the zip's root: one entry, that name, executable.
python3 - "$dir/bootstrap.zip" <<'PY'
import sys, zipfile
entries = [(i.filename, i.external_attr >> 16) for i in zipfile.ZipFile(sys.argv[1]).infolist()]
if len(entries) != 1 or entries[0][0] != "bootstrap" or not entries[0][1] & 0o111:
    sys.exit(f"build-bootstrap: {sys.argv[1]} holds {entries}, not one executable bootstrap")
PY
echo "build-bootstrap: $dir/bootstrap.zip ($(stat -c %s "$dir/bootstrap.zip") bytes)"
echo "build-bootstrap: $bin ($(stat -c %s "$bin") bytes)"
echo "$bin"

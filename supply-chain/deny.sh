#!/usr/bin/env bash
# Supply-chain checks with cargo-deny, offline: licenses, bans (including rsa < 0.10.0) and
# sources, for the whole workspace with every feature (policy: deny.toml at the repository root).
#
#   supply-chain/deny.sh
#
# Advisories: this machine cannot fetch the RustSec advisory-db (a git repository on GitHub). If a
# local snapshot exists, point S3EC_ADVISORY_DB at the directory holding it (the directory that
# contains `crates/`), and the advisory check runs against it without fetching. See README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo deny --version >/dev/null 2>&1; then
    cargo install --locked cargo-deny
fi

cargo deny --workspace check licenses bans sources

if [ -n "${S3EC_ADVISORY_DB:-}" ]; then
    if [ ! -d "$S3EC_ADVISORY_DB/crates" ]; then
        echo "S3EC_ADVISORY_DB=$S3EC_ADVISORY_DB does not look like an advisory-db checkout (no crates/)" >&2
        exit 1
    fi
    # cargo-deny keeps databases under <db-path>/<name>-<hash>; give it a private copy laid out
    # that way and forbid fetching.
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    cfg="$work/deny.toml"
    sed -e "s#^\[advisories\]#[advisories]\ndb-path = \"$work/db\"\ndb-urls = [\"https://github.com/rustsec/advisory-db\"]#" deny.toml >"$cfg"
    mkdir -p "$work/db"
    # The directory name cargo-deny derives from the default URL.
    cp -r "$S3EC_ADVISORY_DB" "$work/db/advisory-db-3157b0e258782691"
    cargo deny --workspace --offline --config "$cfg" check advisories
else
    echo "advisories: skipped (no RustSec database snapshot here; set S3EC_ADVISORY_DB to use one)"
fi

#!/usr/bin/env bash
# The whole test suite: installs the Python tools the tests use into .venv (the independent
# verifier, DuckDB), then runs the gates: fmt, clippy, docs, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pyarrow, blake3, cryptography, duckdb' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check pyarrow blake3 cryptography duckdb
fi
export GOVTRAIL_PYTHON="$PWD/.venv/bin/python"

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --document-private-items --locked --quiet
cargo test --workspace --locked --doc
# Last, so that the suite's own summary line closes the output.
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --lib --bins --tests
fi

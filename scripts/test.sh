#!/usr/bin/env bash
# The whole test suite: installs the Python tools the tests use into .venv (the independent
# verifier, DuckDB, the OpenTelemetry SDK), then runs the gates: fmt, clippy, docs, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# The OpenTelemetry SDK and its OTLP/HTTP exporter are the real clients of tests/otel/emit.py;
# prometheus-client's parsers check the server's /metrics (tests/metrics/check_metrics.py);
# schemathesis tests the server against its /openapi.json.
PY_PACKAGES="pyarrow blake3 cryptography duckdb==2.0.1 opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2 prometheus-client==0.26.0 schemathesis==4.32.5"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pyarrow, blake3, cryptography, duckdb, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http, prometheus_client, schemathesis' 2>/dev/null; then
  python3 -m venv .venv
  # shellcheck disable=SC2086
  .venv/bin/pip install --quiet --disable-pip-version-check $PY_PACKAGES
fi
export GOVTRAIL_PYTHON="$PWD/.venv/bin/python"

# The dashboard's browser tests (cli/tests/it/dashboard.rs): Debian's Chromium, driven by
# playwright-core with axe-core (exact versions in tests/browser/package-lock.json; no browser
# download: playwright-core uses /usr/bin/chromium).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
  npm ci --prefix tests/browser --no-audit --no-fund --silent
  touch tests/browser/node_modules
fi
export GOVTRAIL_CHROMIUM="${GOVTRAIL_CHROMIUM:-$(command -v chromium)}"

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

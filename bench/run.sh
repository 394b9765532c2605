#!/usr/bin/env bash
# Builds the server and the benchmark (release), then runs `bench both`: a fresh database
# (SQLite file, or PostgreSQL with --postgres), seeded with examples/seed.json by
# `assessment-partner seed`, the server started on it, 32 signed assessment-order clients for
# 20 s, the server's peak RSS, then the same orders through place_order (no HTTP) on another
# fresh database, and the ratio.
#
#   bench/run.sh                      # SQLite
#   bench/run.sh --postgres           # PostgreSQL on postgres://postgres@127.0.0.1:5432/
#   bench/run.sh --postgres --postgres-admin-url postgres://me:pw@db:5432/postgres
#   bench/run.sh --concurrency 64 --duration 30s --server-env RUST_LOG=warn
#   bench/run.sh --kind link          # assessment-link-order: no invitation e-mail
#   bench/run.sh --mail files         # invitations as .eml files instead of to the SMTP sink
#
# Everything after the script name goes to `bench both` (see `bench both --help`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Two builds, so that the server is built with its own features only, as it ships.
cargo build --release -p assessment-partner --bin assessment-partner
cargo build --release -p bench --bin bench
target_dir="${CARGO_TARGET_DIR:-$root/target}"
exec "$target_dir/release/bench" both --server-bin "$target_dir/release/assessment-partner" \
    --seed "$root/examples/seed.json" "$@"

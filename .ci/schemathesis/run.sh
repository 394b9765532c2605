#!/usr/bin/env bash
# Schemathesis (pinned) over the whole OpenAPI document against a live assessment-partner on loopback.
#
#   bash .ci/schemathesis/run.sh [BINARY]
#
# BINARY defaults to $AP_BIN, else ${CARGO_TARGET_DIR:-target}/debug/assessment-partner (it is not
# built here). For each database (SQLite in a temporary directory; then PostgreSQL, on a fresh
# database created and dropped here, when 127.0.0.1:5432 answers) it
#   - seeds examples/seed.json and starts `serve --no-worker` on a random free 127.0.0.1 port;
#   - waits for /health/ready and mints an admin token with every scope but candidates.* and
#     audit.read (the fuzzer must not erase or export the data the other operations read);
#   - places a little data through the API (prepare.py: a recorded result, an open assessment, an
#     Ashby assessment) and writes the run's config: .ci/schemathesis/schemathesis.toml plus
#     dictionaries that offer those ids to the operations that read them by id;
#   - runs `schemathesis run` over the server's /openapi.json: every check, positive and negative
#     data, all phases (examples, coverage, fuzzing, stateful), each surface authenticated by
#     .ci/schemathesis/hooks.py (the Recruitment API signed over the exact bytes sent).
# Exit status: non-zero when any check fails on any database. About 5-6 minutes on 2 cores.
#
# The Recruitment API and Ashby surfaces (and /health) are run first, then the admin API, both
# against the same server: the admin API may rotate the demo organisation's keys and secret or
# change the offered locales, which would otherwise turn later partner requests into 401s.
#
# Why `seed` + `serve --no-worker` rather than `demo`: the same seed and server, without the
# delivery worker. Fuzzed orders carry arbitrary resultUpdateUrl, callback and Ashby base URLs;
# with no worker nothing is ever sent to them, so all traffic stays on 127.0.0.1.
#
# Settings (environment):
#   AP_ST_DATABASES   "sqlite postgres" (default; an unreachable PostgreSQL fails the run), or one
#   AP_ST_MAX_EXAMPLES  test cases per operation and phase (default 400)
#   AP_ST_SEED        Hypothesis seed (default fixed, for a reproducible CI; "random" for a new one)
#   AP_ST_WORKERS     schemathesis workers (default 1: with more, Hypothesis's concurrent
#                     ast.parse calls crash CPython 3.11 with "AST constructor recursion depth
#                     mismatch")
#   AP_ST_REPORT_DIR  when set, JUnit + NDJSON reports are written there
#   AP_ST_VENV        virtualenv (default .ci-venv-schemathesis, reused between runs)
#   AP_ST_PG_URL      maintenance database URL (default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SCHEMATHESIS_VERSION=4.32.5
BIN=${1:-${AP_BIN:-${CARGO_TARGET_DIR:-target}/debug/assessment-partner}}
VENV=${AP_ST_VENV:-.ci-venv-schemathesis}
DATABASES=${AP_ST_DATABASES:-sqlite postgres}
MAX_EXAMPLES=${AP_ST_MAX_EXAMPLES:-400}
SEED=${AP_ST_SEED:-20240601}
WORKERS=${AP_ST_WORKERS:-1}
PG_URL=${AP_ST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SCOPES=(lenses.write integrators.write organizations.write assessments.read results.write deliveries.write
  lenses.read integrators.read organizations.read deliveries.read)

export PIP_DISABLE_PIP_VERSION_CHECK=1

[[ -x $BIN ]] || { echo "schemathesis: $BIN is missing (cargo build --bin assessment-partner)" >&2; exit 2; }
bin_path=$(realpath "$BIN")
hooks_dir=$(realpath .ci/schemathesis)
seed_file=$(realpath examples/seed.json)

[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
if [[ $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null) != "$SCHEMATHESIS_VERSION" ]]; then
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
schemathesis=$(realpath "$VENV")/bin/schemathesis
venv_python=$(realpath "$VENV")/bin/python

work=$(mktemp -d "${TMPDIR:-/tmp}/ap-schemathesis.XXXXXX")
server_pid=
pg_db=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n $pg_db ]]; then
    psql "$PG_URL" -qc "drop database if exists \"$pg_db\" with (force)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}

# run_against NAME DATABASE_URL: seed, serve, test; returns schemathesis's worst exit status.
run_against() {
  local name=$1 db_url=$2 dir="$work/$1" port base_url token status=0
  mkdir -p "$dir"
  local -a env_vars=(DATABASE_URL="$db_url" AP_DEV_KEY_FILE="$dir/dev-keys.json" AP_MAIL_OUTBOX_DIR="$dir/mail-outbox"
    # Rate limits far above what the run sends, so that every case reaches its handler; their
    # fields are still on every answer, and checked against the document.
    AP_RATE_LIMIT_PER_SECOND=1000000 AP_RATE_LIMIT_BURST=1000000
    AP_FAILED_AUTH_PER_MINUTE=1000000 AP_FAILED_AUTH_BURST=1000000)

  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base_url="http://127.0.0.1:$port"
  (cd "$dir" && env "${env_vars[@]}" "$bin_path" seed --file "$seed_file") >"$dir/seed.log" 2>&1 ||
    { cat "$dir/seed.log" >&2; echo "schemathesis: seeding $name failed" >&2; return 2; }
  echo "starting assessment-partner serve --no-worker on $base_url ($name; log: $dir/server.log)"
  (
    cd "$dir"
    exec env "${env_vars[@]}" "$bin_path" serve --no-worker --bind "127.0.0.1:$port"
  ) >"$dir/server.log" 2>&1 </dev/null &
  server_pid=$!
  for _ in $(seq 60); do
    curl -fsS -o /dev/null "$base_url/health/ready" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ! curl -fsS -o /dev/null "$base_url/health/ready" 2>/dev/null; then
    tail -n 40 "$dir/server.log" >&2
    echo "schemathesis: the $name server did not become ready" >&2
    return 2
  fi
  token=$(cd "$dir" && env "${env_vars[@]}" "$bin_path" token --ttl 2h --subject schemathesis --scope "${SCOPES[@]}" | tail -n 1)
  [[ -n $token ]] || { echo "schemathesis: could not mint an admin token" >&2; return 2; }
  # Something for the operations that read by id to find (a recorded result, an open assessment,
  # an Ashby assessment), and the run's schemathesis.toml that offers them those ids.
  PYTHONPATH="$hooks_dir" AP_ST_ADMIN_TOKEN="$token" "$venv_python" .ci/schemathesis/prepare.py "$base_url" "$dir/schemathesis.toml" ||
    { tail -n 40 "$dir/server.log" >&2; echo "schemathesis: preparing test data on $name failed" >&2; return 2; }

  # Every check is on by default (schemathesis.toml turns one off for one operation, which a
  # `--checks` flag here would override).
  local -a common=(
    --mode all
    --phases examples,coverage,fuzzing,stateful
    --max-examples "$MAX_EXAMPLES"
    --workers "$WORKERS"
    --request-timeout 10
    --generation-database none
    --suppress-health-check all
    --output-sanitize false
    --output-truncate false
    --continue-on-failure
    --no-color
  )
  [[ $SEED == random ]] || common+=(--seed "$SEED")

  # Partner surfaces first (the admin API may rotate their credentials), then the admin API.
  local part
  for part in partner admin; do
    local -a filter
    if [[ $part == partner ]]; then filter=(--exclude-path-regex '^/admin/'); else filter=(--include-path-regex '^/admin/'); fi
    local -a reports=()
    if [[ -n ${AP_ST_REPORT_DIR:-} ]]; then
      mkdir -p "$AP_ST_REPORT_DIR"
      reports=(--report junit,ndjson --report-dir "$AP_ST_REPORT_DIR"
        --report-junit-path "$AP_ST_REPORT_DIR/$name-$part.junit.xml"
        --report-ndjson-path "$AP_ST_REPORT_DIR/$name-$part.ndjson")
    fi
    printf '\n---- schemathesis %s: %s (%s) ----\n' "$SCHEMATHESIS_VERSION" "$part" "$name"
    local part_status=0
    (
      cd "$dir"
      exec env PYTHONPATH="$hooks_dir${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=hooks \
        AP_ST_ADMIN_TOKEN="$token" "$schemathesis" --config-file "$dir/schemathesis.toml" \
        run "$base_url/openapi.json" "${common[@]}" "${filter[@]}" "${reports[@]}"
    ) || part_status=$?
    echo "schemathesis $part ($name): exit $part_status"
    [[ $part_status -eq 0 ]] || status=$part_status
    kill -0 "$server_pid" 2>/dev/null || { tail -n 40 "$dir/server.log" >&2; echo "schemathesis: the $name server died" >&2; return 2; }
  done
  stop_server
  return "$status"
}

overall=0
for database in $DATABASES; do
  case $database in
    sqlite)
      run_against sqlite "sqlite://$work/sqlite/schemathesis.db?mode=rwc" || overall=$?
      ;;
    postgres)
      if ! pg_isready -q -h 127.0.0.1 -p 5432 -U postgres 2>/dev/null; then
        echo "schemathesis: PostgreSQL is not reachable on 127.0.0.1:5432 (set AP_ST_DATABASES=sqlite to run without it)" >&2
        exit 1
      fi
      pg_db="ap_schemathesis_$$"
      psql "$PG_URL" -v ON_ERROR_STOP=1 -qc "create database \"$pg_db\"" >/dev/null
      run_against postgres "${PG_URL%/*}/$pg_db" || overall=$?
      psql "$PG_URL" -qc "drop database if exists \"$pg_db\" with (force)" >/dev/null 2>&1 || true
      pg_db=
      ;;
    *)
      echo "schemathesis: unknown database '$database' (sqlite, postgres)" >&2
      exit 2
      ;;
  esac
done

if [[ $overall -ne 0 ]]; then
  echo "schemathesis: FAILED (exit $overall)" >&2
fi
exit "$overall"

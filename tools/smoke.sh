#!/usr/bin/env bash
# Client tests against a real Baton: builds the binary, starts it on the
# embedded PostgreSQL in a fresh data directory on a free port (demo data,
# postbacks allowed to loopback), runs grpcurl, the generated-code smoke
# tests and the three client packages (each installed as a user would:
# npm tarball, wheel in a fresh venv, go module), then stops Baton with
# SIGTERM and checks it exits cleanly. Called by `make smoke`.
set -euo pipefail
cd "$(dirname "$0")/.."

BATON_BIN=${BATON_BIN:-.tmp/bin/baton}
data=$(mktemp -d "${TMPDIR:-/tmp}/baton-smoke.XXXXXX")
chmod 711 "$data" # the embedded cluster may run as an unprivileged user
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The README's commands use the development admin key and the demo data.
key="baton-dev-admin-key"
log="$data/baton.log"

BATON_ADDR=127.0.0.1:$port BATON_DATA_DIR=$data BATON_ADMIN_KEY=$key BATON_LOG_FORMAT=json \
  BATON_DEMO=true BATON_POSTBACK_ALLOW=127.0.0.0/8 \
  "$BATON_BIN" >"$log" 2>&1 &
pid=$!
cleanup() {
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "baton exited during start:"; cat "$log"; exit 1; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "baton did not become ready:"; cat "$log"; exit 1; }

export BATON_URL=http://127.0.0.1:$port BATON_ADMIN_KEY=$key
echo "== grpcurl list (reflection, no key needed)"
listed=$("${GRPCURL:-grpcurl}" -plaintext "127.0.0.1:$port" list)
echo "$listed"
for svc in baton.v1.ConfigService baton.v1.ClickService baton.v1.ConversionService baton.v1.AttributionService \
  baton.v1.PostbackService grpc.health.v1.Health grpc.reflection.v1.ServerReflection; do
  grep -qx "$svc" <<<"$listed" || { echo "grpcurl list is missing $svc"; exit 1; }
done
"${GRPCURL:-grpcurl}" -plaintext -H "authorization: Bearer $key" -d '{}' "127.0.0.1:$port" baton.v1.ConfigService/WhoAmI | grep -q ROLE_ADMIN \
  || { echo "grpcurl WhoAmI did not answer ROLE_ADMIN"; exit 1; }
echo "== README commands, run as pasted (host and port swapped)"
PATH="$PWD/.tmp/bin:$PATH" python3 tools/readme_test.py "127.0.0.1:$port"
echo "== TypeScript smoke test (generated client, Connect / gRPC / gRPC-Web)"
(cd clients/ts-smoke && npm test --silent)
echo "== Python smoke test (generated client, Connect)"
(cd clients/python-smoke && .venv/bin/python -m pytest -q)
echo "== Go client (clients/go)"
(cd clients/go && go vet ./... && go test -race -count=1 ./...)
echo "== TypeScript client (clients/ts: npm pack, installed from the tarball)"
bash clients/ts/test.sh
echo "== Python client (clients/python: wheel, installed in a fresh venv)"
bash clients/python/test.sh

kill -TERM "$pid"
if ! wait "$pid"; then echo "baton did not exit cleanly on SIGTERM:"; tail -n 50 "$log"; exit 1; fi
grep -q '"baton stopped"' "$log" || { echo "no graceful stop in the log"; tail -n 20 "$log"; exit 1; }
echo "== smoke tests passed; baton stopped gracefully"

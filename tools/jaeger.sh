#!/usr/bin/env bash
# Builds the pinned Jaeger (v2 binary, ./cmd/jaeger) from its Go module:
# `go install` refuses the module (replace directives), so the downloaded
# module is copied and built in place. Usage: tools/jaeger.sh build | run
set -euo pipefail
cd "$(dirname "$0")/.."
JAEGER_VERSION=${JAEGER_VERSION:-v1.76.0} # the module tag of Jaeger v2.13's ./cmd/jaeger
BIN=.tmp/bin/jaeger
STAMP=.tmp/bin/jaeger.version

build() {
  if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$JAEGER_VERSION" ]; then return; fi
  echo "== building Jaeger $JAEGER_VERSION (a few minutes, once)"
  dir=$(go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  src=$(mktemp -d "${TMPDIR:-/tmp}/jaeger-src.XXXXXX")
  cp -r "$dir/." "$src"
  chmod -R u+w "$src"
  mkdir -p .tmp/bin
  (cd "$src" && go build -o "$OLDPWD/$BIN" ./cmd/jaeger)
  rm -rf "$src"
  echo "$JAEGER_VERSION" > "$STAMP"
}

case "${1:-run}" in
  build) build ;;
  run)
    build
    echo "== Jaeger UI: http://127.0.0.1:${JAEGER_QUERY_PORT:-16686}  OTLP: 127.0.0.1:${JAEGER_OTLP_GRPC_PORT:-4317} (gRPC), 127.0.0.1:${JAEGER_OTLP_HTTP_PORT:-4318} (HTTP)"
    exec "$BIN" --config tools/jaeger.yaml ;;
  *) echo "usage: $0 build|run" >&2; exit 2 ;;
esac

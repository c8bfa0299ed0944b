#!/usr/bin/env bash
# Proves that the depguard rules of .golangci.yml bite: it builds a throwaway
# copy of the module in a temporary directory, plants one forbidden import per
# rule (and allowed ones beside them), runs golangci-lint with the repository's
# config and fails unless exactly the planted imports are reported.
# Usage: tools/lint-selftest.sh path/to/golangci-lint   (make lint runs it)
set -euo pipefail
lint=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The same module path, so the rules' package names apply; no replace of the
# local clients module (not needed here).
grep -v '^replace .*clients/go' "$root/go.mod" | grep -v 'batonhq/baton/clients/go' > "$tmp/go.mod"
cp "$root/go.sum" "$tmp/go.sum"
cp "$root/.golangci.yml" "$tmp/.golangci.yml"

plant() { # plant DIR PACKAGE IMPORT...
	local dir=$tmp/$1 pkg=$2
	shift 2
	mkdir -p "$dir"
	{
		echo "package $pkg"
		echo
		for imp in "$@"; do echo "import _ \"$imp\""; done
	} > "$dir/planted.go"
}
m=github.com/batonhq/baton/server
plant server/internal/store store github.com/jackc/pgx/v5                  # allowed
plant server/internal/app app $m/internal/store                           # allowed
plant server/cmd/baton main $m/internal/app                               # allowed
plant server/internal/attribution attribution strings $m/internal/domain  # allowed
plant server/internal/domain domain net/http                              # pure
plant server/internal/postback postback $m/internal/store                 # pure
plant server/internal/delivery delivery github.com/jackc/pgx/v5           # pgx-only-in-store
plant server/internal/rpc rpc $m/internal/store                           # edge-not-store
plant server/internal/gateway gateway $m/internal/app                     # only-cmd-imports-app
plant server/internal/telemetry telemetry $m/internal/testwait            # test-helpers-only-in-tests

want=$(cat <<'WANT'
server/internal/delivery/planted.go pgx-only-in-store github.com/jackc/pgx/v5
server/internal/domain/planted.go pure net/http
server/internal/gateway/planted.go only-cmd-imports-app github.com/batonhq/baton/server/internal/app
server/internal/postback/planted.go pure github.com/batonhq/baton/server/internal/store
server/internal/rpc/planted.go edge-not-store github.com/batonhq/baton/server/internal/store
server/internal/telemetry/planted.go test-helpers-only-in-tests github.com/batonhq/baton/server/internal/testwait
WANT
)
out=$(cd "$tmp" && GOFLAGS=-mod=mod "$lint" run --enable-only depguard --max-issues-per-linter=0 --max-same-issues=0 ./... 2>&1 || true)
got=$(sed -nE "s/^([^:]+):[0-9]+:[0-9]+: import '([^']+)' is not allowed from list '([^']+)'.*/\1 \3 \2/p" <<<"$out" | sort -u)
if [ "$got" != "$want" ]; then
	echo "lint self-test: the depguard rules did not report exactly the planted imports"
	echo "--- want"; echo "$want"; echo "--- got"; echo "$got"; echo "--- golangci-lint said"; echo "$out"
	exit 1
fi
echo "lint self-test: depguard reports each of the $(wc -l <<<"$want") planted forbidden imports and nothing else"

#!/usr/bin/env bash
# Proves that the rules of .golangci.yml bite: it builds a throwaway copy of
# the module in a temporary directory, plants one forbidden import per
# depguard rule (and allowed ones beside them), a fmt.Println in library
# code (forbidigo) and a value kept while its error is dropped (errcheck), runs
# golangci-lint with the repository's config and fails unless exactly the
# planted findings are reported.
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
plant server/internal/testwait testwait time                              # allowed
plant server/internal/app app $m/internal/store                           # allowed
plant server/cmd/baton main $m/internal/app                               # allowed
plant server/internal/attribution attribution strings $m/internal/domain  # allowed
plant server/internal/domain domain net/http                              # pure
plant server/internal/postback postback $m/internal/store                 # pure
plant server/internal/delivery delivery github.com/jackc/pgx/v5           # pgx-only-in-store
plant server/internal/rpc rpc $m/internal/store                           # edge-not-store
plant server/internal/gateway gateway $m/internal/app                     # only-cmd-imports-app
plant server/internal/telemetry telemetry $m/internal/testwait            # test-helpers-only-in-tests

# Library code: printing, and a counter kept while its error is dropped
# (the shape of `c, _ := meter.Int64Counter(...)`); a deliberate `_ =`
# discard beside them is allowed.
mkdir -p "$tmp/server/internal/config"
cat > "$tmp/server/internal/config/planted_rules.go" <<'GO'
package config

import (
	"fmt"
	"strconv"
)

func Planted() int {
	fmt.Println("printing from library code")
	n, _ := strconv.Atoi("1")
	_, _ = fmt.Sscan("2", &n)
	return n
}
GO

want=$(cat <<'WANT'
server/internal/config/planted_rules.go errcheck
server/internal/config/planted_rules.go forbidigo
server/internal/delivery/planted.go pgx-only-in-store github.com/jackc/pgx/v5
server/internal/domain/planted.go pure net/http
server/internal/gateway/planted.go only-cmd-imports-app github.com/batonhq/baton/server/internal/app
server/internal/postback/planted.go pure github.com/batonhq/baton/server/internal/store
server/internal/rpc/planted.go edge-not-store github.com/batonhq/baton/server/internal/store
server/internal/telemetry/planted.go test-helpers-only-in-tests github.com/batonhq/baton/server/internal/testwait
WANT
)
out=$(cd "$tmp" && GOFLAGS=-mod=mod "$lint" run --enable-only depguard,forbidigo,errcheck ./... 2>&1 || true)
got=$( (sed -nE "s/^([^:]+):[0-9]+:[0-9]+: import '([^']+)' is not allowed from list '([^']+)'.*/\1 \3 \2/p" <<<"$out"
	sed -nE 's/^([^:]+):[0-9]+:[0-9]+: .*\((errcheck|forbidigo)\)$/\1 \2/p' <<<"$out") | sort -u)
if [ "$got" != "$want" ]; then
	echo "lint self-test: golangci-lint did not report exactly the planted findings"
	echo "--- want"; echo "$want"; echo "--- got"; echo "$got"; echo "--- golangci-lint said"; echo "$out"
	exit 1
fi
echo "lint self-test: golangci-lint reports each of the $(wc -l <<<"$want") planted findings (depguard, forbidigo, errcheck) and nothing else"

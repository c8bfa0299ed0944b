#!/usr/bin/env bash
# Tests @batonhq/client the way a partner gets it: builds and packs the
# package, installs the tarball into a fresh temporary project, compiles the
# tests and the README example there against the installed package, and runs
# them with node --test against a running Baton.
#
#   BATON_URL=http://127.0.0.1:8080 BATON_ADMIN_KEY=<admin key> bash clients/ts/test.sh
#
# Baton must run with BATON_DEMO=true (the tests use the demo advertiser and
# publisher and their keys). It fails, never skips, when a variable is unset.
# Set KEEP_TMP=1 to keep the temporary project for a look.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)

: "${BATON_URL:?BATON_URL is not set: the tests need a running Baton, e.g. BATON_URL=http://127.0.0.1:8080}"
: "${BATON_ADMIN_KEY:?BATON_ADMIN_KEY is not set: the tests need the admin key of the running Baton}"
export BATON_URL BATON_ADMIN_KEY

npm_q=(--no-audit --no-fund --loglevel=error)

echo "== build and pack @batonhq/client"
npm ci "${npm_q[@]}"
npm run build --silent
rm -f batonhq-client-*.tgz
tarball="$here/$(npm pack --silent | tail -n 1)"
echo "packed $tarball ($(du -k "$tarball" | cut -f1) KiB)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/batonhq-client-test.XXXXXX")
cleanup() {
  rm -f "$tarball"
  if [[ -n "${KEEP_TMP:-}" ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

echo "== install the tarball into a new project ($tmp)"
cd "$tmp"
cat >package.json <<'EOF'
{ "name": "batonhq-client-test", "version": "0.0.0", "private": true, "type": "module" }
EOF
# The same TypeScript and Node types as the package, from the lock file.
ts_version=$(node -p 'require(process.argv[1]).packages["node_modules/typescript"].version' "$here/package-lock.json")
types_version=$(node -p 'require(process.argv[1]).packages["node_modules/@types/node"].version' "$here/package-lock.json")
# The app already has the protobuf and Connect runtimes (the package's peer
# dependencies), at the versions of the lock file.
pb_version=$(node -p 'require(process.argv[1]).packages["node_modules/@bufbuild/protobuf"].version' "$here/package-lock.json")
connect_version=$(node -p 'require(process.argv[1]).packages["node_modules/@connectrpc/connect"].version' "$here/package-lock.json")
npm install "${npm_q[@]}" --prefer-offline --save-exact "@bufbuild/protobuf@$pb_version" "@connectrpc/connect@$connect_version" \
  "@connectrpc/connect-node@$connect_version" "@connectrpc/connect-web@$connect_version"
npm install "${npm_q[@]}" --prefer-offline "$tarball" "typescript@$ts_version" "@types/node@$types_version"

# One copy of each runtime: the client uses the app's (a second copy would
# make the app's messages and the client's registry two different types).
for dep in @bufbuild/protobuf @connectrpc/connect @connectrpc/connect-node @connectrpc/connect-web; do
  copies=$(find . -path "*/node_modules/$dep/package.json" | wc -l)
  if [[ $copies -ne 1 ]]; then
    echo "$dep is installed $copies times:"; find . -path "*/node_modules/$dep/package.json"; exit 1
  fi
done
npm ls --all >/dev/null || { echo "npm ls: invalid or missing peer dependencies"; npm ls --all; exit 1; }

# Nothing of the repository may leak in: the package must be self-contained.
test -f node_modules/@batonhq/client/dist/gen/baton/v1/config_pb.js
test -f node_modules/@batonhq/client/README.md
if [[ -d node_modules/@batonhq/client/src ]]; then echo "the tarball ships src/"; exit 1; fi

cp -R "$here/tests" "$here/examples" .
echo "== compile the tests and the README example against the installed package"
# As a Node project (tsc --init's skipLibCheck), emitting test-dist/ ...
node_modules/.bin/tsc -p tests/tsconfig.json
# ... and once more checking every shipped declaration file, as a browser project.
node_modules/.bin/tsc -p tests/tsconfig.json --noEmit --lib ES2022,DOM --skipLibCheck false

echo "== node --test against $BATON_URL"
node --test --test-reporter=spec test-dist/tests/*.test.js

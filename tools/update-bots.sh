#!/bin/sh
# Rewrites the embedded crawler-user-agents list (server/internal/tracking)
# from the npm package crawler-user-agents at version $1 (default: the
# version pinned in crawler-user-agents.version; "latest" for the newest).
# Run through `make update-bots [BOTS_VERSION=x.y.z|latest]`, then run the
# tracking tests (every example of the list must match, no browser may) and
# commit the three files.
set -eu
dir=server/internal/tracking
version=${1:-$(cat "$dir/crawler-user-agents.version")}
if [ "$version" = latest ]; then
	version=$(npm view crawler-user-agents version)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "crawler-user-agents@$version" >/dev/null && tar xzf crawler-user-agents-*.tgz)
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d, list) and all("pattern" in p for p in d), "not a crawler list"' \
	"$tmp/package/crawler-user-agents.json"
cp "$tmp/package/crawler-user-agents.json" "$dir/crawler-user-agents.json"
echo "$version" >"$dir/crawler-user-agents.version"
{
	echo "crawler-user-agents.json is the crawler-user-agents list, npm package crawler-user-agents@$version,"
	echo "from https://github.com/monperrus/crawler-user-agents, under the MIT licence below."
	echo 'Update it with `make update-bots` (see README, "Bots, duplicates and blocklists").'
	echo
	cat "$tmp/package/LICENSE"
} >"$dir/crawler-user-agents.NOTICE"
echo "crawler-user-agents $version: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$dir/crawler-user-agents.json") patterns written to $dir"

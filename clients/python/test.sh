#!/usr/bin/env bash
# Build the baton-client wheel and test it installed as a partner would,
# against a running Baton:
#
#   BATON_URL=http://127.0.0.1:8080 BATON_ADMIN_KEY=<admin key> bash clients/python/test.sh
#
# 1. a throwaway venv gets the pinned, hashed build tooling (requirements-dev.txt)
#    and builds the wheel with `python -m build --wheel --no-isolation`;
# 2. a fresh venv gets the pinned, hashed runtime and pytest
#    (requirements.txt, requirements-test.txt), then the wheel with --no-index
#    (so it must install from exactly those pins), then `pip check`;
# 3. pytest runs from a temporary copy of tests/, examples/ and README.md, so
#    the source tree is not on sys.path.
#
# Everything is created under one temporary directory, removed at exit (set
# KEEP_TMP=1 to keep it). PYTHON selects the interpreter (default python3, >= 3.11).
# Extra arguments go to pytest, e.g. `bash test.sh -k webhook -x`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}

"$python" - <<'EOF'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"baton-client needs Python >= 3.11, {sys.executable} is {sys.version.split()[0]}")
EOF

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-client-test.XXXXXX")
cleanup() {
  if [[ -n ${KEEP_TMP:-} ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

echo "== build the wheel (build + hatchling from requirements-dev.txt)"
"$python" -m venv "$tmp/build-venv"
"$tmp/build-venv/bin/python" -m pip install -q --require-hashes -r "$here/requirements-dev.txt"
(cd "$here" && "$tmp/build-venv/bin/python" -m build --wheel --no-isolation --outdir "$tmp/dist" .)
wheels=("$tmp"/dist/baton_client-*-py3-none-any.whl)
[[ ${#wheels[@]} -eq 1 && -f ${wheels[0]} ]] || { echo "expected one wheel in $tmp/dist"; ls -l "$tmp/dist"; exit 1; }
wheel=${wheels[0]}

echo "== install $(basename "$wheel") into a fresh venv"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --require-hashes -r "$here/requirements.txt" -r "$here/requirements-test.txt"
"$tmp/venv/bin/python" -m pip install -q --no-index "$wheel"
"$tmp/venv/bin/python" -m pip check

echo "== pytest (from $tmp/run, outside the source tree)"
mkdir "$tmp/run"
cp -R "$here/tests" "$here/examples" "$here/README.md" "$tmp/run/"
# A config of its own, so that no pytest configuration outside the copy applies.
printf '[pytest]\naddopts = -ra --strict-markers -p no:cacheprovider\n' >"$tmp/run/pytest.ini"
cd "$tmp/run"
# -P: do not put the current directory on sys.path.
"$tmp/venv/bin/python" -P -m pytest "$@" tests

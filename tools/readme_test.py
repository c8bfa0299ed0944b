#!/usr/bin/env python3
"""Runs every shell command of README.md against a live Baton and checks the
answers, so the documentation cannot rot.

Usage: readme_test.py ADDR   (host:port of a Baton started with BATON_DEMO=true,
BATON_ADMIN_KEY=baton-dev-admin-key; grpcurl and buf in .tmp/bin)

Each ```sh block runs as one bash script (variables carry from line to line);
each command's output is checked: an error code only where the comment above it
says one is expected, an HTTP 302 for redirects, OK for the FC2 POST.
"""
import os
import re
import subprocess
import sys
import tempfile

ERROR_CODES = ("invalid_argument", "permission_denied", "unauthenticated", "not_found")


def commands(block):
    """Yield (comment, command) pairs, continuation lines joined."""
    comment, cur = "", ""
    for line in block.splitlines():
        if not cur and (line.startswith("#") or not line.strip()):
            if line.startswith("#"):
                comment = line
            continue
        cur += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            yield comment, cur
            cur = ""


def main():
    addr = sys.argv[1]
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    tried = failed = 0
    for block in blocks:
        cmds = list(commands(block))
        if any("make run" in c or "make test" in c for _, c in cmds):
            continue  # the two set-up commands: make test is what runs this
        with tempfile.TemporaryDirectory() as tmp:
            script = ["set -u", "cd " + os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")]
            for i, (_, cmd) in enumerate(cmds):
                cmd = cmd.replace("127.0.0.1:8080", addr)
                script.append("{ %s ; } > %s/out%d 2>&1; echo $? > %s/rc%d" % (cmd, tmp, i, tmp, i))
            subprocess.run(["bash", "-c", "\n".join(script)], timeout=120, check=False)
            for i, (comment, cmd) in enumerate(cmds):
                tried += 1
                out = open(f"{tmp}/out{i}", encoding="utf-8", errors="replace").read()
                rc = int(open(f"{tmp}/rc{i}").read().strip() or 1)
                expected = [c for c in ERROR_CODES if c in comment]
                problem = None
                if rc != 0:
                    problem = f"exit status {rc}"
                elif re.match(r"^[A-Z_]+=", cmd):
                    pass
                elif expected:
                    if not any(f'"code":"{c}"' in out for c in expected):
                        problem = f"expected an error {expected}"
                elif "curl -si" in cmd:
                    if "302" not in out:
                        problem = "expected a 302 redirect"
                elif "tracking_post.php" in cmd:
                    if out.strip() != "OK":
                        problem = "expected OK"
                elif not out.strip():
                    problem = "no answer"
                elif '"code"' in out.replace(" ", "") and '"code":' in out.replace(" ", ""):
                    problem = "an error answer"
                status = "ok  " if problem is None else "FAIL"
                print(f"{status} {cmd[:110]}")
                if problem:
                    failed += 1
                    print(f"     {problem}: {out[:400]}")
    print(f"README commands: {tried - failed} passed, {failed} failed")
    sys.exit(1 if failed or tried == 0 else 0)


if __name__ == "__main__":
    main()

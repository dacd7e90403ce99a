#!/usr/bin/env python3
"""Rewrites README.md's example outputs: every fenced block announced by
`<!-- output of: memsim ARGS -->` is replaced by what build/memsim prints for ARGS, and
every file announced by `<!-- file PATH: memsim ARGS -->` is rewritten with what it prints.
tests/tools/readme_test.cpp checks that they agree."""
import os
import pathlib
import re
import shlex
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
# As the tests run memsim: tables as wide as when not on a terminal, only built-in GPUs.
env = {**os.environ, "COLUMNS": "", "MEMSIM_HARDWARE": ""}
readme = root / "README.md"
text = readme.read_text()
pattern = re.compile(r"(<!-- output of: memsim (.*?) -->\n```[^\n]*\n)(.*?)(```)", re.S)


def refresh(match):
    args = shlex.split(match.group(2))
    out = subprocess.run([str(root / "build" / "memsim"), *args], cwd=root, check=True,
                         capture_output=True, text=True, env=env).stdout
    return match.group(1) + out + match.group(4)


new = pattern.sub(refresh, text)
for path, args in re.findall(r"<!-- file (\S+): memsim (.*?) -->", text):
    out = subprocess.run([str(root / "build" / "memsim"), *shlex.split(args)], cwd=root,
                         check=True, capture_output=True, text=True, env=env).stdout
    (root / path).write_text(out)
if new != text:
    readme.write_text(new)
    print("README.md updated", file=sys.stderr)

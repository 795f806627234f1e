"""The CLI starts at once: help and the listing commands never import torch or the models.

Each check runs in a fresh interpreter (this test process has imported torch already) and
looks at ``sys.modules`` after the command, so it fails the day a command module imports a
heavy package at its top again.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Packages that cost seconds to import and that only scoring needs.
HEAVY = ("torch", "torchvision", "pandas", "scipy", "av", "decord", "transformers", "open_clip")

_PROBE = """
import json, sys
from vbench_cn.cli import app
args = json.loads(sys.argv[1])
if args:
    app(args, standalone_mode=False)
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)), file=sys.stderr)
"""


def _heavy_after(args: list[str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["dimensions", "list"],
        ["prompts", "export", "--lang", "zh", "--dimension", "event_order"],
    ],
    ids=["import", "help", "dimensions-list", "prompts-export"],
)
def test_command_imports_no_heavy_package(args: list[str]) -> None:
    assert _heavy_after(args) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check can fail: a command that scores (here, validating specs) does import torch."""
    assert "torch" in _heavy_after(["dimensions", "validate"])

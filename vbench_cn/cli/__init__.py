"""The ``vbench-cn`` command line: a thin typer layer over the library API.

Each command module exposes ``register(app)``; this file only assembles them, so a
command group can be added without touching the others. Data goes to stdout; progress
and logs go to stderr; usage errors exit 2 with one line. Command modules import torch
and the models inside the commands that need them, so ``--help`` and the listing
commands start at once (tests/pipeline/test_cli_startup.py).
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

app = typer.Typer(
    name="vbench-cn",
    help="vbench-cn: bilingual (中文 / English) benchmark for video generation models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules with a ``register(app)`` function, in help order.
_COMMAND_MODULES = (
    "vbench_cn.cli.run",
    "vbench_cn.cli.board",
    "vbench_cn.cli.weights",
    "vbench_cn.cli.reference",
)
#: Sub-applications mounted as ``vbench-cn <name> ...``.
_SUB_APPS = (
    ("vbench_cn.cli.prompts", "prompts", "The bilingual prompt suite: export, stats, validate."),
)


def _assemble() -> None:
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(app)
    for module_name, name, help_text in _SUB_APPS:
        app.add_typer(importlib.import_module(module_name).app, name=name, help=help_text)


_assemble()


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    app()

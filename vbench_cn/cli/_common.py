"""Helpers shared by CLI modules: one-line usage errors, comma lists, consoles."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NoReturn

import typer
from rich.console import Console

#: Piped output is not cut to 80 columns (rich's width when there is no terminal).
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
stderr = Console(stderr=True, soft_wrap=True)


def usage_error(message: str) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit 2."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


#: Exit status of a run stopped by an unusable accelerator (a rerun resumes it).
DEVICE_FAILURE_EXIT = 3


def device_stop(exc: BaseException, out: object | None) -> NoReturn:
    """Stop a run whose CUDA context is poisoned: one line saying how to resume, exit 3.

    What the run wrote to ``out`` stays there; the same command, run again in a fresh
    process, skips it and goes on with the rest (without ``out``: starts again).
    """
    then = (
        f"Records written so far are kept in {out}; run the same command again to resume "
        "from there."
        if out is not None
        else "Run the same command again, in a fresh process."
    )
    print(f"error: {exc}. {then}", file=sys.stderr)
    raise typer.Exit(DEVICE_FAILURE_EXIT)


def split_list(values: Iterable[str] | None) -> list[str] | None:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``; None stays None."""
    if not values:
        return None
    out = [v.strip() for raw in values for v in raw.split(",") if v.strip()]
    return out or None


def parse_pairs(values: Iterable[str] | None, flag: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` -> ``{"a": "1", "b": "2"}``; a malformed pair is a usage error."""
    out: dict[str, str] = {}
    for raw in values or ():
        if "=" not in raw:
            usage_error(f"{flag} takes NAME=PATH, got {raw!r}")
        key, value = raw.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def parse_weight_overrides(values: Iterable[str] | None, flag: str = "--weights") -> dict[str, str]:
    """``--weights NAME=PATH`` pairs, each checked up front: a known weights name, an existing file.

    A typo in NAME would otherwise be ignored silently and the run would fall back to the
    default file (or fail per video much later), so it is a usage error with a did-you-mean.
    """
    from pathlib import Path

    from vbench_cn.weights import get_weights

    pairs = parse_pairs(values, flag)
    for name, path in pairs.items():
        try:
            get_weights(name)
        except KeyError as exc:
            usage_error(f"{flag} {name}={path}: {exc.args[0]} (see `vbench-cn weights list`)")
        if not Path(path).expanduser().is_file():
            usage_error(f"{flag} {name}={path}: no such file")
    return pairs

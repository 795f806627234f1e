"""What a run says as it goes (the set as found, records written, shards merged).

:func:`vbench_cn.api.evaluate` calls a :class:`RunReporter`; this default one logs, the CLI
prints. Kept apart from the API so that the CLI can subclass it without importing torch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vbench_cn.protocol import ProtocolReport
    from vbench_cn.results import Record
    from vbench_cn.runner import Profile

log = logging.getLogger(__name__)


class RunReporter:
    """What :func:`evaluate` says as it goes. This default logs; the CLI prints instead."""

    def probed(self, report: ProtocolReport, errors: dict[str, str]) -> None:
        """Rank 0, after probing: the set as found and the files that cannot be read."""
        for line in report.summary:
            log.info("found %s", line)
        for err in errors.values():
            log.error("%s", err)
        for line in report.warnings:
            log.warning("%s", line)

    def finished(self, rank: int, written: list[Record], seconds: float, profile: Profile) -> None:
        """Each rank, after its videos (and, on rank 0, the set-level pass)."""
        errors = sum(1 for r in written if r["status"] == "error")
        log.info(
            "rank %d: %d records written (%d errors) in %.1f s", rank, len(written), errors, seconds
        )

    def merged(self, count: int, path: Path, world_size: int) -> None:
        """Rank 0 of several: the shards were merged into ``path``."""
        log.info("merged %d records from %d ranks -> %s", count, world_size, path)

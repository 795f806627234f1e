"""The runner's core loop: plan, build, decode, feed, batch, score each video, record."""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vbench_cn import __version__
from vbench_cn.device_errors import (
    DeviceFailure,
    device_failure,
    is_poisoned_context,
)
from vbench_cn.device_setup import precision_flags, setup_process
from vbench_cn.features import (
    ExtractorOptions,
    FeatureExtractor,
    build_extractor,
    extractor_class,
)
from vbench_cn.frame_upload import FrameUploader
from vbench_cn.inputs import changes
from vbench_cn.manifest import VideoItem
from vbench_cn.preflight import Expectations, SetupError, resolve_device
from vbench_cn.results import (
    Record,
    RecordWriter,
    make_record,
    record_key,
    shard_path,
    update_run_info,
)
from vbench_cn.run_lock import run_lock
from vbench_cn.runner.batching import Batcher, Group, scaled_batch_size, select_frames
from vbench_cn.runner.decode import CHUNK_BYTES, DECODE_QUEUE_BYTES, Prefetcher, file_size, one_line
from vbench_cn.runner.decode_queue import PlanOrder
from vbench_cn.runner.options import RunOptions
from vbench_cn.runner.progress import NullProgress, Profile, progress_bar
from vbench_cn.runner.sets import SetLevelPass
from vbench_cn.scorers import NotApplicable, Score, get_scorer
from vbench_cn.specs import LEVELS, DimensionSpec
from vbench_cn.video import VideoError, VideoInfo, VideoProbe, VideoReader, View
from vbench_cn.video_torchcodec import decode_device, decoder_identity, decoder_problem

log = logging.getLogger(__name__)


@dataclass
class _Job:
    """One video in flight: its groups, and what went wrong while opening or decoding it.

    ``error`` (the file cannot be opened) fails every dimension; ``decode_error`` only those
    that read frames, so the probe's dimensions (duration, frame rate) are still scored.
    ``note`` says the file ended before frames its index lists (scored on those there are).
    """

    item: VideoItem
    info: VideoInfo | None
    groups: list[Group]
    started: float
    decoded: bool = False
    error: str | None = None
    source: dict[str, Any] | None = None
    decode_error: str | None = None
    note: str | None = None


class Runner(SetLevelPass):
    """Scores videos along the given dimension specs into a run directory."""

    def __init__(self, specs: Sequence[DimensionSpec], options: RunOptions) -> None:
        if not specs:
            raise ValueError("no dimension selected")
        not_run = [f"{s.id} ({s.level})" for s in specs if s.level not in LEVELS]
        if not_run:
            raise ValueError(
                f"the runner scores levels {', '.join(LEVELS)}, not {', '.join(not_run)}"
            )
        self.specs = list(specs)
        self.options = options
        self.device = resolve_device(options.device)
        self.setup = setup_process(self.device, options.precision)
        problem = decoder_problem(options.decoder)
        if problem is not None:
            raise SetupError(problem)
        #: Where torchcodec decodes (NVDEC only under --precision fast); PyAV: the CPU.
        self.decode_device = decode_device(options.decoder, self.device, options.precision)
        if options.decoder != "pyav" and self.decode_device.type != self.device.type:
            print(  # said once: the user asked for a GPU decoder and gets the CPU one
                "torchcodec decodes on the CPU under --precision parity (NVDEC's colour "
                "conversion differs from FFmpeg's); --precision fast decodes on the GPU",
                file=sys.stderr,
                flush=True,
            )
        self.uploader = FrameUploader(self.device)
        self.expect = Expectations(
            self._extractor_options(), decoder_identity(options.decoder, self.decode_device)
        )
        #: Why records were scored again this run (reason -> records), said before the run.
        self.rescored: Counter[str] = Counter()
        self.profile = Profile()
        self._extractors: dict[str, FeatureExtractor] = {}
        self._build_errors: dict[str, Exception] = {}
        self._batchers: dict[str, Batcher] = {}
        self._text_cache: dict[tuple[str, str, str], torch.Tensor] = {}

    # -- extractors

    def extractor(self, name: str) -> FeatureExtractor:
        """Build (once) and return the extractor ``name``; a build that failed is not retried.

        Retrying per video would reload (and re-hash) the checkpoints of a model that cannot
        be built for every video of the run, only to fail the same way.
        """
        if name in self._build_errors:
            raise self._build_errors[name]
        if name not in self._extractors:
            try:
                self._build(name)
            except Exception as exc:
                self._build_errors[name] = exc
                raise
        return self._extractors[name]

    def _extractor_options(self) -> ExtractorOptions:
        return ExtractorOptions(
            device=self.device,
            random_weights=self.options.random_weights,
            weights_dir=self.options.weights_dir,
            weights_overrides=dict(self.options.weights_overrides),
            amp=self.options.amp and precision_flags(self.options.precision).autocast_fp16,
            precision=self.options.precision,
        )

    def _build(self, name: str) -> None:
        t0 = time.perf_counter()
        try:
            ext = build_extractor(name, self._extractor_options())
        finally:
            self.profile.build_seconds += time.perf_counter() - t0
        self._extractors[name] = ext
        bs = self.options.batch_sizes.get(name) or (
            scaled_batch_size(ext.batch_size, self.device)
            if self.device.type == "cuda"
            else min(ext.batch_size, ext.cpu_batch_size)
        )
        self._batchers[name] = Batcher(ext, bs, self.profile)
        self._save_runtime()

    def _save_runtime(self) -> None:
        """Device, threads, precision flags and batch sizes into ``run.json`` (rank 0)."""
        if self.options.rank != 0:
            return
        runtime = {
            **self.setup.to_dict(),
            "decoder": decoder_identity(self.options.decoder, self.decode_device),
            "amp": self.options.amp,
            "batch_sizes": {n: b.max_batch_size for n, b in sorted(self._batchers.items())},
        }
        update_run_info(self.options.out_dir, "runtime", runtime)

    def backbone_for(self, spec: DimensionSpec, item: VideoItem) -> str:
        """The extractor serving ``spec`` on this video.

        A language router (an extractor with ``routes = {"en": ..., "zh": ...}``, e.g.
        ``video_text``) names the extractor for the prompt's language, so a Chinese prompt is
        scored by a model that reads Chinese and dimensions routed to the same extractor
        share its features (vbench_cn/features/cnclip.py).
        """
        name = spec.backbone or "none"
        if spec.backbone is None:
            return name
        try:  # the class routes: nothing is built here
            route = getattr(extractor_class(name), "route", None)
        except KeyError:  # an unknown backbone is reported when it is built
            return name
        return (
            route(item.prompt.lang if item.prompt is not None else None)
            if route is not None
            else name
        )

    # -- planning

    @staticmethod
    def views(specs: Sequence[DimensionSpec]) -> dict[str, View]:
        """Spec id -> the decoder-scaled size its backbone reads, for backbones that have one."""
        out: dict[str, View] = {}
        for spec in specs:
            try:
                size = (
                    getattr(extractor_class(spec.backbone), "decode_size", None)
                    if spec.backbone
                    else None
                )
            except (KeyError, ImportError):  # reported when the extractor is built
                size = None
            if size is not None:
                out[spec.id] = (int(size[0]), int(size[1]))
        return out

    def applies(self, spec: DimensionSpec, item: VideoItem) -> bool:
        """Whether ``spec`` is scored on this video: suite prompts follow the spec's tag."""
        if spec.prompts == "any" or self.options.all_prompts:
            return True
        if item.prompt is None or not item.prompt.known:
            return True  # custom prompt: the scorer decides (NotApplicable when metadata lacks)
        return spec.prompts in item.prompt.tags

    def shard(self, items: Sequence[VideoItem]) -> list[VideoItem]:
        """This rank's videos: greedy balance by file size (largest first), deterministic.

        File size, not duration, so that a rank can shard before probing anything and probe
        only its own videos; bytes also follow decode cost better than seconds do.
        """
        if self.options.world_size <= 1:
            return list(items)
        from vbench_cn.distributed import balance_by_cost

        costs = [float(max(1, file_size(it.path))) for it in items]
        return [
            items[i] for i in balance_by_cost(costs, self.options.world_size)[self.options.rank]
        ]

    def decode_workers(self, videos: int) -> int:
        """Decode threads, each on its own videos: ``options.decode_workers``, or by default
        one on CPU (the cores are busy with the forward passes) and four on an accelerator
        (one PyAV thread cannot feed a GPU), never more than the videos."""
        wanted = self.options.decode_workers or (1 if self.device.type == "cpu" else 4)
        return max(1, min(wanted, videos))

    # -- main loop

    def run(
        self,
        items: Sequence[VideoItem],
        *,
        probes: dict[str, VideoProbe | None] | None = None,
        on_video_done: Callable[[VideoItem], None] | None = None,
    ) -> list[Record]:
        """Score ``items``; returns the records written by this call (resumed ones excluded).

        ``probes``: :func:`~vbench_cn.runner.decode.probe_all`'s, when the caller has probed
        (resume compares them with the records; the decoders start from them). A video
        without one is probed when it is decoded.

        With several ranks, each scores its shard of the videos. Set-level dimensions are
        only prepared here (per-video features saved in the run folder); :meth:`score_sets`
        scores them in one pass after the run, on rank 0 once every rank is done
        (:func:`vbench_cn.api.evaluate` places the barrier).
        """
        with run_lock(self.options.out_dir, self.options.rank):
            return self._run(items, probes=probes, on_video_done=on_video_done)

    def _run(
        self,
        items: Sequence[VideoItem],
        *,
        probes: dict[str, VideoProbe | None] | None,
        on_video_done: Callable[[VideoItem], None] | None,
    ) -> list[Record]:
        t_start = time.perf_counter()
        self.rescored = Counter()
        self._save_runtime()
        probes = probes or {}
        items = self.shard(items)
        writer = RecordWriter(shard_path(self.options.out_dir, self.options.rank))
        if self.options.retry_errors:
            writer.done = {k for k in writer.done if k not in self._error_keys()}
        written: list[Record] = []
        jobs: list[_Job] = []
        progress: Any = NullProgress()
        prefetchers: list[Prefetcher] = []
        finished = False
        try:
            plan = self._plan(items, probes, writer)
            self._say_rescored()
            self._build_all(plan)  # every model before the first video: setup fails here, once
            progress = progress_bar(len(items), enabled=self.options.progress)
            for _ in range(len(items) - len(plan)):
                progress.advance()
            workers = self.decode_workers(len(plan))
            queue_bytes = self.options.decode_queue_bytes or DECODE_QUEUE_BYTES
            prefetchers = [
                Prefetcher(
                    plan[k::workers],
                    self.options.chunk_frames,
                    self.profile,
                    max_bytes=max(CHUNK_BYTES, queue_bytes // workers),
                    views=self.views(self.specs),
                    probes=probes,
                    decoder=self.options.decoder,
                    decode_device=self.decode_device,
                )
                for k in range(workers)
            ]
            with _StopSignal() as stop:
                order = PlanOrder(
                    [p.events(stop=lambda: stop.requested) for p in prefetchers],
                    len(plan),
                    stopped=lambda: stop.requested,
                )
                for event in order:
                    self._on_event(event, jobs)
                    if event[0] == "end":
                        if len(jobs) >= self.options.max_pending_videos:
                            self._flush_all()
                        jobs = self._finish_ready(jobs, writer, written, progress, on_video_done)
                if stop.requested:  # finish the videos already decoded, then leave
                    for prefetcher in prefetchers:
                        prefetcher.close()
                    for event in order.resume([p.drain() for p in prefetchers]):
                        self._on_event(event, jobs)
                    raise KeyboardInterrupt("SIGTERM")
                for job in jobs:  # the decode thread stopped without ending these
                    if not job.decoded:
                        job.decoded = True
                        job.decode_error = job.decode_error or "decoding stopped before the end"
                self._flush_all()
                jobs = self._finish_ready(jobs, writer, written, progress, on_video_done)
                assert not jobs, "every job must finish once all batches are flushed"
                finished = True
        except DeviceFailure:
            finished = True  # nothing more runs on a poisoned device; a re-run resumes
            raise
        finally:
            for prefetcher in prefetchers:
                prefetcher.close()
            if not finished:  # interrupted or failed: write what is finished before leaving
                self._save_finished(jobs, writer, written, progress, on_video_done)
            progress.close()
            writer.close()
        self.profile.wall_seconds += time.perf_counter() - t_start
        return written

    def _plan(
        self,
        items: Sequence[VideoItem],
        probes: dict[str, VideoProbe | None],
        writer: RecordWriter,
    ) -> list[tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]]:
        """Per video, the dimensions to score: unrecorded, or recorded from other inputs."""
        video_specs = [s for s in self.specs if s.level == "video"]
        set_specs = [s for s in self.specs if s.level == "set"]
        plan: list[tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]] = []
        memo: dict[Any, str | None] = {}
        for item in items:
            found = probes.get(item.path)
            probe = found.info.to_dict() if found is not None else None
            todo = [
                s
                for s in video_specs
                if self.applies(s, item) and self._needs_scoring(writer, item, s, probe, memo)
            ]
            todo_set = [
                s
                for s in set_specs
                if self.applies(s, item) and not self._set_features_valid(s, item)
            ]
            if todo or todo_set:
                plan.append((item, todo, todo_set))
        return plan

    def _needs_scoring(
        self,
        writer: RecordWriter,
        item: VideoItem,
        spec: DimensionSpec,
        probe: dict[str, Any] | None,
        memo: dict[Any, str | None],
    ) -> bool:
        """True unless a record of (video, dimension) exists whose inputs all still hold."""
        key = (item.model, item.rel_path, spec.id, spec.version)
        record = writer.records.get(key)
        if key not in writer or record is None:
            return True
        expected = self.expect.expected(spec, item, self.backbone_for(spec, item))
        reasons = changes(record, expected, path=item.path, probe=probe, memo=memo)
        if reasons:
            self.rescored[reasons[0]] += 1
        return bool(reasons)

    def _say(self, message: str) -> None:
        """A status line on stderr (when progress is shown): what the run is doing and why."""
        if self.options.progress:
            print(message, file=sys.stderr, flush=True)

    def _say_rescored(self) -> None:
        """Why records are scored again (always said: a silent rescore looks like a bug)."""
        if self.rescored:
            reasons = ", ".join(f"{why} ({n})" for why, n in self.rescored.most_common())
            print(
                f"scoring again {sum(self.rescored.values())} records whose inputs changed: "
                f"{reasons}",
                file=sys.stderr,
                flush=True,
            )

    def _build_all(
        self, plan: Sequence[tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]]
    ) -> None:
        """Build every backbone the plan needs, saying which, before any video is decoded.

        Raises:
            SetupError: a backbone cannot be built (missing checkpoint, library, device).
        """
        needed: dict[str, str] = {}
        for item, todo, todo_set in plan:
            for spec in todo + todo_set:
                needed.setdefault(self.backbone_for(spec, item), spec.id)
        for name, dimension in sorted(needed.items()):
            if name in self._extractors:
                continue
            self._say(f"building {name} (for {dimension}) on {self.device} ...")
            t0 = time.perf_counter()
            try:
                self.extractor(name)
            except Exception as exc:
                cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise SetupError(
                    f"backbone {name} (for {dimension}) cannot be built: {cause}"
                ) from None
            if time.perf_counter() - t0 > 1.0:
                self._say(f"built {name} in {time.perf_counter() - t0:.1f} s")

    def _error_keys(self) -> set[tuple[Any, ...]]:
        from vbench_cn.results import read_records

        return {
            record_key(r) for r in read_records(self.options.out_dir) if r.get("status") == "error"
        }

    def _on_event(self, event: tuple[Any, ...], jobs: list[_Job]) -> None:
        """Apply one decode event to the video in flight (the last of ``jobs``).

        Every step is guarded: a failure is recorded on the video (or one of its groups)
        and the run goes on with the next event.
        """
        kind = event[0]
        if kind == "open":
            _, (item, todo, todo_set), opened, source = event
            try:
                job = self._start_job(item, todo, todo_set, opened)
            except DeviceFailure:
                raise
            except Exception as exc:
                log.debug("planning %s failed", item.path, exc_info=exc)
                failure = VideoError(f"{item.path}: planning failed ({one_line(exc)})")
                job = self._start_job(item, todo, todo_set, failure)
            job.source = source
            jobs.append(job)
            return
        job = jobs[-1]
        if kind == "chunk":
            _, view, idx_chunk, frames = event
            on_device: torch.Tensor | None = None  # uploaded once, shared
            on_host = frames if frames.device.type == "cpu" else None  # NVDEC: copied once
            for group in job.groups:
                ext = group.extractor
                if ext is None or group.skip is not None or group.error is not None:
                    continue
                if ext.decode_size != view:
                    continue
                try:
                    if ext.host_prepare:  # OpenCV/NumPy/onnxruntime preparation reads host memory
                        if on_host is None:
                            on_host = frames.cpu()
                        self._feed(group, idx_chunk, on_host, job.info)  # type: ignore[arg-type]
                        continue
                    if on_device is None:
                        on_device = self.uploader.upload(frames)
                    self._feed(group, idx_chunk, on_device, job.info)  # type: ignore[arg-type]
                except DeviceFailure:  # a poisoned context stops the run (it resumes)
                    raise
                except Exception as exc:
                    log.debug("feeding %s failed", ext.name, exc_info=exc)
                    group.error = f"{ext.name}: {one_line(exc)}"
            return
        _, error, note = event  # "end"
        if error is not None and job.error is None:
            job.decode_error = error
        job.note = note
        for group in job.groups:  # the last carry never forms a new item
            group.carry = None
        job.decoded = True

    def _save_finished(
        self,
        jobs: list[_Job],
        writer: RecordWriter,
        written: list[Record],
        progress: Any,
        on_video_done: Callable[[VideoItem], None] | None,
    ) -> None:
        """On the way out of a failed or interrupted run: score and write every decoded video.

        Items of videos still decoding are dropped from the batchers (a resumed run scores
        those videos again); the rest run, so nothing already decoded is lost.
        """
        unfinished = {id(g) for job in jobs if not job.decoded for g in job.groups}
        try:
            for batcher in self._batchers.values():
                batcher.discard(unfinished)
            self._flush_all()
            left = self._finish_ready(jobs, writer, written, progress, on_video_done)
        except BaseException as exc:  # a second interrupt: leave with what is written
            log.warning("could not write every finished video on exit: %s", one_line(exc))
            return
        if left:
            log.warning("%d videos in flight were not written; a re-run scores them", len(left))

    def _start_job(
        self,
        item: VideoItem,
        todo: list[DimensionSpec],
        todo_set: list[DimensionSpec],
        opened: VideoReader | VideoError,
    ) -> _Job:
        job = _Job(item=item, info=None, groups=[], started=time.perf_counter())
        if isinstance(opened, VideoError):
            job.error = str(opened)
            job.groups = [Group(extractor=None, indices=np.zeros(0, np.int64), specs=todo)]  # type: ignore[arg-type]
            return job
        job.info = opened.info
        by_key: dict[tuple[str, str], list[DimensionSpec]] = defaultdict(list)
        for spec in todo + todo_set:
            by_key[(self.backbone_for(spec, item), spec.sampling.key)].append(spec)
        for (backbone, _), specs in by_key.items():
            try:
                ext = self.extractor(backbone)
            except Exception as exc:  # a model that cannot be built fails its dims, not the run
                if is_poisoned_context(exc):
                    raise device_failure(exc, where=f"building {backbone}") from exc
                job.groups.append(
                    Group(
                        extractor=None,
                        indices=np.zeros(0, np.int64),
                        specs=specs,  # type: ignore[arg-type]
                        error=f"{backbone}: {exc}",
                    )
                )
                continue
            skip = ext.input_problem(opened.info)
            if skip is not None:  # e.g. a 4000x16 video, whose resized input would explode
                job.groups.append(
                    Group(extractor=ext, indices=np.zeros(0, np.int64), specs=specs, skip=skip)
                )
                continue
            try:
                idx = specs[0].sampling.indices(
                    opened.info.num_frames, opened.timestamps, opened.info.fps
                )
            except Exception as exc:  # a sampling beyond the allocation limit
                job.groups.append(
                    Group(
                        extractor=ext,
                        indices=np.zeros(0, np.int64),
                        specs=specs,
                        error=f"{item.path}: sampling {specs[0].sampling.key}: {one_line(exc)}",
                    )
                )
                continue
            times = clip_fractions(np.asarray(opened.timestamps), idx)
            job.groups.append(Group(extractor=ext, indices=idx, specs=specs, times=times))
        return job

    def _feed(
        self, group: Group, idx_chunk: np.ndarray, frames: torch.Tensor, info: VideoInfo
    ) -> None:
        if group.error is not None:
            return
        end = int(np.searchsorted(group.indices, idx_chunk[-1], side="right"))
        if end <= group.cursor:
            return
        wanted = group.indices[group.cursor : end]
        sel = select_frames(frames, np.searchsorted(idx_chunk, wanted))
        position = group.cursor
        if group.carry is not None:
            sel = torch.cat([group.carry, sel])
            position -= group.carry.shape[0]
        group.cursor = end
        ext = group.extractor
        t0 = time.perf_counter()
        try:
            items = ext.prepare(sel, position=position, info=info)
        except Exception as exc:
            if is_poisoned_context(exc):
                raise device_failure(exc, where=f"{ext.name} preprocessing") from exc
            group.error = f"{ext.name} preprocessing failed: {type(exc).__name__}: {exc}"[:300]
            return
        finally:
            self.profile.prepare_seconds[ext.name] += time.perf_counter() - t0
        self.profile.frames[ext.name] += int(
            sel.shape[0] - (0 if group.carry is None else group.carry.shape[0])
        )
        # clone: a view would keep the whole chunk alive until the next one
        group.carry = sel[-ext.overlap :].clone() if ext.overlap > 0 else None
        if items is not None and items.shape[0] > 0:
            self._batchers[ext.name].add(group, items)

    def _flush_all(self) -> None:
        for batcher in self._batchers.values():
            batcher.flush()

    def _finish_ready(
        self,
        jobs: list[_Job],
        writer: RecordWriter,
        written: list[Record],
        progress: Any,
        on_video_done: Callable[[VideoItem], None] | None,
    ) -> list[_Job]:
        remaining = []
        for job in jobs:
            if not job.decoded or any(g.pending for g in job.groups):
                remaining.append(job)
                continue
            t0 = time.perf_counter()
            try:
                recs = self._score_job(job)
            except DeviceFailure:
                raise
            except Exception as exc:  # never lose the run over one video's scoring
                log.debug("scoring %s failed", job.item.path, exc_info=exc)
                recs = self._failed_records(job, f"scoring failed: {one_line(exc)}")
            self.profile.score_seconds += time.perf_counter() - t0
            for rec in recs:
                writer.write(rec)
            written.extend(recs)
            self.profile.videos += 1
            progress.advance()
            if on_video_done:
                on_video_done(job.item)
        return remaining

    # -- scoring

    def _base(
        self,
        item: VideoItem,
        spec: DimensionSpec,
        info: VideoInfo | None,
        ext: FeatureExtractor | None,
        source: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        backbone = self.backbone_for(spec, item)
        expected = self.expect.expected(spec, item, backbone)
        return dict(
            model=item.model,
            video=item.rel_path,
            prompt_id=item.prompt_id,
            prompt_lang=item.prompt.lang if item.prompt else None,
            sample=item.sample,
            dimension=spec.id,
            dimension_version=spec.version,
            spec_sha256=spec.sha256,
            level="video",
            weights=ext.weights_id if ext else expected["weights"],
            random_weights=self.options.random_weights,
            probe=info.to_dict() if info else None,
            source=source,
            inputs=expected["inputs"],
            suite_version=__version__,
        )

    def _score_job(self, job: _Job) -> list[Record]:
        item, info = job.item, job.info
        elapsed = time.perf_counter() - job.started
        records: list[Record] = []
        for group in job.groups:
            specs = [s for s in group.specs if s.level == "video"]
            reads_frames = len(group.indices) > 0
            # A decoding failure fails what reads frames; the probe's dimensions still score.
            error = job.error or group.error or (job.decode_error if reads_frames else None)
            seconds = elapsed / max(1, len(specs))
            if error is None and group.skip is not None:
                for spec in specs:
                    base = self._base(item, spec, info, group.extractor, job.source)
                    records.append(
                        make_record(**base, status="skipped", error=group.skip, seconds=seconds)
                    )
                continue
            if not specs and all(s.level == "set" for s in group.specs) and error is None:
                self._save_set_features(group, item, info, source=job.source)
                continue
            feats: Any = None
            if error is None:
                try:
                    feats = group.extractor.finalize(group.stacked_outputs(), info=info)
                except Exception as exc:
                    if is_poisoned_context(exc):
                        raise device_failure(exc, where=f"{group.extractor.name}") from exc
                    error = f"{group.extractor.name} failed: {type(exc).__name__}: {exc}"[:300]
            for spec in specs:
                base = self._base(item, spec, info, group.extractor, job.source)
                if error is not None:
                    rec = make_record(**base, status="error", error=error, seconds=seconds)
                else:
                    rec = self._apply_scorer(
                        spec, feats, item, info, group.extractor, base, seconds, times=group.times
                    )
                if job.note is not None and reads_frames:
                    rec["details"] = {**rec["details"], "truncated": job.note}
                records.append(rec)
            if any(s.level == "set" for s in group.specs) and error is None:
                self._save_set_features(group, item, info, feats=feats, source=job.source)
        return records

    def _failed_records(self, job: _Job, error: str) -> list[Record]:
        """One error record per video-level dimension of ``job`` (scoring itself crashed)."""
        return [
            make_record(
                **self._base(job.item, spec, job.info, group.extractor, job.source),
                status="error",
                error=error,
            )
            for group in job.groups
            for spec in group.specs
            if spec.level == "video"
        ]

    def _apply_scorer(
        self,
        spec: DimensionSpec,
        feats: Any,
        item: VideoItem,
        info: VideoInfo | None,
        ext: FeatureExtractor,
        base: dict[str, Any],
        seconds: float,
        times: np.ndarray | None = None,
    ) -> Record:
        entry = get_scorer(spec.scorer)
        kwargs: dict[str, Any] = dict(spec.params)
        try:
            if "video" in entry.context:
                kwargs["video"] = info
            if "prompt" in entry.context:
                kwargs["prompt"] = item.prompt
            if "frame_times" in entry.context:
                kwargs["frame_times"] = torch.from_numpy(
                    np.asarray(times if times is not None else [], dtype=np.float32)
                )
            if "text_features" in entry.context:
                kwargs["text_features"] = self._text_features(spec, item, ext)
            score: Score = entry.fn(feats, **kwargs)
        except NotApplicable as exc:
            return make_record(**base, status="skipped", error=str(exc), seconds=seconds)
        except Exception as exc:
            if is_poisoned_context(exc):
                raise device_failure(exc, where=spec.scorer) from exc
            log.debug("scorer failed", exc_info=exc)
            return make_record(
                **base,
                status="error",
                error=f"{spec.scorer}: {type(exc).__name__}: {exc}"[:300],
                seconds=seconds,
            )
        return make_record(
            **base, score=float(score.value), details=dict(score.details), seconds=seconds
        )

    def _text_features(
        self, spec: DimensionSpec, item: VideoItem, ext: FeatureExtractor
    ) -> torch.Tensor:
        lang = item.prompt.lang if item.prompt else "en"
        if ext.text_langs is not None and lang not in ext.text_langs:
            lang = ext.text_langs[0]  # e.g. OWLv2 reads English: the English twin of the name
        text = prompt_text_field(spec.text or "prompt", item, lang=lang)
        texts = [text] if isinstance(text, str) else text  # a list field: one row per element
        key = (ext.name, lang, "\x1f".join(texts))
        if key not in self._text_cache:
            with torch.inference_mode():
                self._text_cache[key] = ext.encode_text(texts, lang=lang).float().cpu()
        return self._text_cache[key]


class _StopSignal:
    """SIGTERM asks the run to stop between two steps; a second SIGTERM interrupts at once.

    SIGTERM is how schedulers, ``timeout`` and ``docker stop`` end a job; by default it ends
    the process at once, losing the videos whose features were batched but not yet written.
    Here the runner finishes the step it is in, takes the rest of the videos already
    decoded, writes every finished video and raises KeyboardInterrupt (a re-run resumes).
    Installed only in the main thread (signal handlers cannot be set elsewhere).
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopSignal:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt(f"signal {signum}")
        self.requested = True
        log.warning("signal %d: stopping; the videos already decoded are written first", signum)


def prompt_text_field(
    field_name: str, item: VideoItem, *, lang: str | None = None
) -> str | list[str]:
    """The text a semantic dimension embeds: ``prompt`` or ``meta.<key>`` (bilingual dicts by lang).

    A list in the metadata (``meta.events``: ordered ``[{"en", "zh"}]``) gives one text per
    element, in order; the scorer's ``text_features`` then has one row per element. A
    dotted key walks nested metadata (``meta.motion.objects``: each object's name).
    ``lang`` picks the language of bilingual texts (default: the prompt's); the prompt text
    itself is only ever given in its own language.
    """
    if item.prompt is None:
        raise NotApplicable("no prompt known for this video")
    lang = lang or item.prompt.lang
    if field_name == "prompt":
        if not item.prompt.text:
            raise NotApplicable("empty prompt")
        if lang != item.prompt.lang:
            raise NotApplicable(f"the prompt is in {item.prompt.lang}, the model reads {lang}")
        return item.prompt.text
    key = field_name.removeprefix("meta.")
    value: Any = item.prompt.meta
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, (list, tuple)):
        texts = [_in_lang(v, lang) for v in value]
        if not texts or not all(texts):
            raise NotApplicable(f"prompt has no {key!r} metadata")
        return texts
    value = _in_lang(value, lang)
    if not value:
        raise NotApplicable(f"prompt has no {key!r} metadata")
    return value


def _in_lang(value: Any, lang: str) -> str:
    """A metadata text in ``lang``: bilingual dicts by language (English fallback), else ``str``."""
    if isinstance(value, dict):
        value = value.get(lang) or value.get("en")
    return str(value) if value else ""


def clip_fractions(timestamps: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Where each sampled frame lies in the clip: 0 at the first frame, 1 at the last.

    From presentation timestamps, so variable frame rates are placed by real time.

    Example:
        >>> clip_fractions(np.array([0.0, 0.5, 1.0, 2.0]), np.array([0, 2, 3])).tolist()
        [0.0, 0.5, 1.0]
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    if len(ts) < 2 or ts[-1] <= ts[0]:
        return np.zeros(len(indices))
    return np.clip((ts[np.asarray(indices, dtype=np.int64)] - ts[0]) / (ts[-1] - ts[0]), 0, 1)

"""torchcodec as pixel decoder (``--decoder torchcodec``): NVDEC on a GPU, else its CPU decoder.

What it decodes and what it leaves to PyAV (:mod:`vbench_cn.video`), so that scores stay
VBench's:

* **Frames at their native size** (what nearly every backbone reads): torchcodec, in chunks
  (``get_frames_at``, exact seeking over its own frame index), turned upright by
  torchcodec itself from the stream's display matrix. Its CPU decoder converts to RGB with
  FFmpeg's swscale as PyAV does: the same pixels (a test, and torchcodec's own tests compare
  its CPU output to FFmpeg's with zero tolerance). NVDEC converts on the GPU: torchcodec's
  tests allow up to 3 levels from FFmpeg's, so it is used under ``--precision fast`` only;
  under ``parity`` torchcodec decodes on the CPU (:func:`decode_device`). NVDEC frames stay
  on the GPU: the runner hands them to the extractors without a copy.
* **Views and non-square pixels stay with PyAV.** A view (a decoder-scaled size, such as
  scene's 384x384, which VBench reads through decord's FFmpeg scaler) and a stretch to
  square pixels are made by FFmpeg scaling the YUV frame. torchcodec resizes after its RGB
  conversion (as torchvision does), which differs from that by 3 to 12 levels on average
  (measured on textured clips), far beyond rounding: so :func:`torchcodec_frames` yields
  native frames of square-pixel videos only, and PyAV decodes the rest.
* **Files with broken frame timestamps stay with PyAV** (the probe rejected the index's or
  the packets' timestamps; :meth:`vbench_cn.video.VideoReader.read_views`): torchcodec
  orders and seeks frames by those timestamps, so its frames could come in another order.
* **A file torchcodec cannot read** (its frame count or rotation disagrees with the probe,
  or it raises) is decoded by PyAV from the first frame torchcodec did not deliver;
  :meth:`vbench_cn.video.VideoReader.read_views` logs one line saying why.

The decoder is part of a record's identity for frame-reading dimensions
(:func:`decoder_identity`, compared on resume): NVDEC's pixels differ from FFmpeg's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: A view as :data:`vbench_cn.video.View` (None: native size), spelled here so that this
#: module, imported by :mod:`vbench_cn.video` when asked for, does not import it back.
View = tuple[int, int] | None

#: The choices of ``--decoder``.
DECODERS: tuple[str, ...] = ("pyav", "torchcodec")

#: What a stored record without a ``decoder`` input was decoded with.
DEFAULT_DECODER = "pyav"


@functools.cache
def torchcodec_problem() -> str | None:
    """Why torchcodec cannot decode here, in one line; None when it loads.

    torchcodec imports without FFmpeg (its image decoders need none) and loads its FFmpeg
    build when a video decoder is first made: both steps are tried here, once per process.
    """
    try:
        import torchcodec
    except ImportError as exc:
        return f"torchcodec is not installed ({exc}); pip install 'vbench-cn[torchcodec]'"
    except Exception as exc:  # a build for another torch: undefined symbols on import
        return f"torchcodec does not load ({_first_line(exc)})"
    version = getattr(torchcodec, "__version__", "?")
    try:
        from torchcodec._internally_replaced_utils import load_core_libraries

        load_core_libraries()
    except ImportError:  # a torchcodec without this loader: the decoder class says it
        try:
            import torchcodec.decoders  # noqa: F401
        except Exception as exc:
            return f"torchcodec {version} does not load ({_first_line(exc)})"
    except Exception as exc:
        return f"torchcodec {version} cannot load FFmpeg: {ffmpeg_load_failure(str(exc))}"
    return None


def ffmpeg_load_failure(message: str) -> str:
    """torchcodec's many-line loading error (one traceback per FFmpeg version) in one line.

    Example:
        >>> ffmpeg_load_failure("OSError: libavutil.so.60: cannot open shared object file\\n"
        ...                     "OSError: libavutil.so.59: cannot open shared object file")
        'not found: libavutil.so.60, libavutil.so.59; install FFmpeg 4 to 9 (apt install ffmpeg, conda install ffmpeg, or pip install torchcodec-ffmpeg)'
    """  # noqa: E501 (one doctest line)
    found = re.findall(r"(lib[\w.+-]*?\.so[.\d]*): cannot open", message)
    missing = list(dict.fromkeys(found))
    symbols = re.findall(r"undefined symbol: (\S+)", message)
    if symbols:
        return (
            f"its libraries do not match this torch (undefined symbol {symbols[0]}); "
            "install the torchcodec release built for it"
        )
    where = f"not found: {', '.join(missing)}" if missing else "no FFmpeg libraries found"
    return (
        f"{where}; install FFmpeg 4 to 9 (apt install ffmpeg, conda install ffmpeg, "
        "or pip install torchcodec-ffmpeg)"
    )


def decoder_problem(decoder: str) -> str | None:
    """Why ``--decoder`` cannot be ``decoder`` here, in one line; None when it can."""
    if decoder not in DECODERS:
        return f"--decoder must be one of {', '.join(DECODERS)}, got {decoder!r}"
    if decoder == "torchcodec":
        problem = torchcodec_problem()
        if problem is not None:
            return f"--decoder torchcodec: {problem}"
    return None


def decode_device(decoder: str, device: torch.device, precision: str) -> torch.device:
    """Where ``decoder`` decodes for a run on ``device``: NVDEC (the run's GPU) only for
    torchcodec under ``--precision fast``; the CPU otherwise (``parity`` keeps FFmpeg's
    pixels, which NVDEC's colour conversion does not)."""
    import torch

    if decoder != "torchcodec" or device.type != "cuda" or precision != "fast":
        return torch.device("cpu")
    index = device.index if device.index is not None else torch.cuda.current_device()
    return torch.device("cuda", index)


def decoder_identity(decoder: str, device: torch.device) -> str:
    """What decoded a record's frames: ``pyav``, ``torchcodec-cpu`` or ``torchcodec-cuda``."""
    return decoder if decoder == "pyav" else f"{decoder}-{device.type}"


def torchcodec_frames(
    path: str,
    wanted: dict[View, np.ndarray],
    chunks: dict[View, int],
    *,
    num_frames: int,
    size: tuple[int, int],
    rotation: int,
    stretched: bool,
    device: torch.device,
    threads: int = 0,
) -> Iterator[tuple[View, np.ndarray, torch.Tensor]]:
    """The native-size frames of ``wanted`` (the ``None`` view), decoded by torchcodec.

    Same contract as :func:`vbench_cn.video._pyav_frames`: ``(view, indices, frames)`` with
    frames ``uint8 (n, H, W, 3)`` RGB, upright, in chunks of ``chunks[None]`` frames, on
    ``device``. Other views, and every frame of a video with non-square pixels
    (``stretched``), are left to PyAV (module docstring): nothing is yielded for them.

    Args:
        num_frames, size, rotation: what the probe found: frame count, upright ``(width,
            height)``, degrees the frames are turned; torchcodec must agree.

    Raises:
        ValueError: torchcodec's frame count, rotation or frame size disagrees with the probe.
        RuntimeError: torchcodec cannot decode the file (its own errors).
    """
    import torch
    from torchcodec.decoders import VideoDecoder

    indices = wanted.get(None)
    if indices is None or not len(indices) or stretched:
        return
    decoder = VideoDecoder(
        path,
        dimension_order="NHWC",
        seek_mode="exact",
        device=str(device),
        num_ffmpeg_threads=threads,
    )
    if len(decoder) != num_frames:
        raise ValueError(f"torchcodec counts {len(decoder)} frames, the probe {num_frames}")
    turned = round(float(decoder.metadata.rotation or 0) / 90) * 90 % 360
    if turned != rotation:
        raise ValueError(f"torchcodec turns frames by {turned}°, the probe by {rotation}°")
    shape = (size[1], size[0], 3)
    for start in range(0, len(indices), chunks[None]):
        idx = indices[start : start + chunks[None]]
        frames: torch.Tensor = decoder.get_frames_at(idx.tolist()).data
        if tuple(frames.shape[1:]) != shape:
            raise ValueError(f"torchcodec gave {tuple(frames.shape[1:])} frames, not {shape}")
        if frames.device.type == "cuda":  # ready before another thread's stream reads them
            torch.cuda.current_stream(frames.device).synchronize()
        yield None, idx, frames.contiguous()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]

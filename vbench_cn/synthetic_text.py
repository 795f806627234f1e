"""Synthetic signs with known text: for the text dimensions' tests, benchmark and demo.

A video model asked for a sign reading 北京烤鸭 may render it correctly, with wrong
characters, with pseudo-characters (strokes of two characters fused into one glyph), with
characters missing, or with letters that change from frame to frame. Each of these is
rendered here with PIL onto a coloured board over a smooth background, so the OCR
dimensions can be checked against answers known in advance.

Chinese needs a CJK font: :func:`find_cjk_font` looks in the usual places (Debian's
``fonts-noto-cjk``, macOS, Windows) or in ``$VBENCH_CN_CJK_FONT``. Latin text falls back
to Pillow's built-in scalable font when no CJK font is found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from vbench_cn.synthetic import smooth_texture

#: Environment variable naming a font file that covers Chinese (overrides the search).
CJK_FONT_ENV = "VBENCH_CN_CJK_FONT"

#: Usual places of a CJK font, most likely first (Debian/Ubuntu, Fedora, Arch, macOS, Windows).
CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)

#: Common characters that stand in for wrong ones (none is in the suite's expected texts
#: more than by chance; the seed picks which).
_HANZI_POOL = (
    "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以"
    "会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美"
    "总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知"
    "世什两次使身者被高已亲其进此话常与活正感"
)
_LATIN_POOL = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class FontNotFoundError(RuntimeError):
    """No font that covers Chinese was found (install fonts-noto-cjk or set $VBENCH_CN_CJK_FONT)."""


def find_cjk_font() -> Path | None:
    """Path of a font covering Chinese, or None.

    Looks at ``$VBENCH_CN_CJK_FONT`` first, then :data:`CJK_FONT_CANDIDATES`, then asks
    fontconfig (``fc-list :lang=zh``) when it is installed.
    """
    env = os.environ.get(CJK_FONT_ENV)
    if env:
        return Path(env) if Path(env).is_file() else None
    for candidate in CJK_FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return _fontconfig_cjk_font()


@cache
def _fontconfig_cjk_font() -> Path | None:
    if shutil.which("fc-list") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in out.splitlines() if line.strip())
    return Path(files[0]) if files else None


def needs_cjk(text: str) -> bool:
    """Whether ``text`` has a character outside Latin-1 (and so needs a CJK font here)."""
    return any(ord(ch) > 0xFF for ch in text)


def load_font(size_px: int, *, text: str = "", font_path: str | os.PathLike[str] | None = None):  # noqa: ANN201
    """A PIL font of ``size_px`` that can draw ``text``.

    Args:
        size_px: font size in pixels.
        text: the text to draw; a CJK font is required only when it has non-Latin characters.
        font_path: a font file to use instead of searching.

    Raises:
        FontNotFoundError: ``text`` needs a CJK font and none was found.
    """
    from PIL import ImageFont

    path = Path(font_path) if font_path is not None else find_cjk_font()
    if path is None:
        if needs_cjk(text):
            raise FontNotFoundError(
                f"no CJK font found to draw {text!r}; install fonts-noto-cjk (apt-get install -y "
                f"fonts-noto-cjk) or set ${CJK_FONT_ENV} to a .ttf/.ttc/.otf file"
            )
        return ImageFont.load_default(size=size_px)
    # Noto CJK .ttc collections hold JP, KR, SC, TC, HK faces; index 2 is Simplified Chinese.
    index = 2 if path.name.startswith("Noto") and path.suffix == ".ttc" else 0
    try:
        return ImageFont.truetype(str(path), size_px, index=index)
    except OSError:
        return ImageFont.truetype(str(path), size_px)


def garble_text(text: str, *, seed: int = 0, fraction: float = 1.0) -> str:
    """Replace a ``fraction`` of the characters with other characters of the same script.

    Spaces are kept. Chinese characters are replaced by other common Chinese characters,
    Latin letters by other letters, so the length and the look stay those of a sign.

    Example:
        >>> garble_text("OPEN", seed=1) != "OPEN"
        True
        >>> len(garble_text("北京烤鸭", seed=1))
        4
    """
    rng = np.random.default_rng(seed)
    positions = [i for i, ch in enumerate(text) if not ch.isspace()]
    count = int(round(fraction * len(positions)))
    chosen = set(rng.choice(positions, size=count, replace=False).tolist()) if count else set()
    out = []
    for i, ch in enumerate(text):
        if i not in chosen:
            out.append(ch)
            continue
        pool = _HANZI_POOL if needs_cjk(ch) else _LATIN_POOL
        choices = [c for c in pool if c != ch and c.upper() != ch.upper()]
        out.append(choices[int(rng.integers(len(choices)))])
    return "".join(out)


def drop_characters(text: str, *, keep: int) -> str:
    """The first ``keep`` non-space characters of ``text`` (a sign with characters missing).

    Example:
        >>> drop_characters("北京烤鸭", keep=2)
        '北京'
    """
    out, kept = [], 0
    for ch in text:
        if kept >= keep:
            break
        out.append(ch)
        kept += not ch.isspace()
    return "".join(out).rstrip()


def _glyph_cell(ch: str, font, cell_w: int, cell_h: int, color: tuple[int, int, int]) -> np.ndarray:  # noqa: ANN001
    """One character centred in a transparent ``(cell_h, cell_w, 4)`` RGBA cell."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (cell_w, cell_h), (0, 0, 0, 0))
    ImageDraw.Draw(img).text(
        (cell_w / 2, cell_h / 2), ch, font=font, fill=(*color, 255), anchor="mm"
    )
    return np.asarray(img)


def render_sign(
    text: str,
    *,
    height: int = 320,
    width: int = 512,
    text_height_px: int = 48,
    seed: int = 0,
    offset_xy: tuple[int, int] = (0, 0),
    pseudo_glyphs: bool = False,
    glyph_seed: int | None = None,
    font_path: str | os.PathLike[str] | None = None,
    board_color: tuple[int, int, int] = (150, 30, 30),
    text_color: tuple[int, int, int] = (250, 220, 120),
) -> np.ndarray:
    """A frame showing a board with ``text`` on it, over a smooth background.

    Args:
        text: what the sign says ('' draws an empty board: text missing).
        height: frame height in pixels.
        width: frame width in pixels.
        text_height_px: font size in pixels.
        seed: picks the background (and, unless ``glyph_seed`` is given, the fused characters).
        offset_xy: shift of the board from the centre, in pixels (camera drift).
        pseudo_glyphs: draw each character as the left half of itself fused with the right
            half of another character: glyph-like shapes that are no character, the way
            video models garble writing.
        glyph_seed: picks the characters fused in with ``pseudo_glyphs`` (default ``seed``).
        font_path: font file; by default :func:`find_cjk_font` (Pillow's font for Latin text
            when none is found).
        board_color: RGB of the board.
        text_color: RGB of the letters.

    Returns:
        ``(height, width, 3)`` uint8 RGB.
    """
    from PIL import Image, ImageDraw

    font = load_font(text_height_px, text=text, font_path=font_path)
    frame = Image.fromarray(smooth_texture(height, width, seed=seed, scale=48) // 2 + 40)
    draw = ImageDraw.Draw(frame)
    chars = list(text)
    advances = [max(1, int(round(font.getlength(ch)))) for ch in chars]
    text_w = sum(advances)
    pad = text_height_px // 2
    board_w = max(text_w, 2 * text_height_px) + 2 * pad
    board_h = int(text_height_px * 1.4) + 2 * pad // 2
    cx, cy = width // 2 + offset_xy[0], height // 2 + offset_xy[1]
    draw.rectangle(
        [cx - board_w // 2, cy - board_h // 2, cx + board_w // 2, cy + board_h // 2],
        fill=board_color,
    )
    if not chars:
        return np.asarray(frame.convert("RGB"))
    rng = np.random.default_rng((seed if glyph_seed is None else glyph_seed) + 7919)
    cell_h = int(text_height_px * 1.4)
    x = cx - text_w // 2
    layer = Image.new("RGBA", frame.size, (0, 0, 0, 0))
    for ch, adv in zip(chars, advances, strict=True):
        if not ch.isspace():
            cell = _glyph_cell(ch, font, adv, cell_h, text_color)
            if pseudo_glyphs:
                pool = _HANZI_POOL if needs_cjk(ch) else _LATIN_POOL
                other = pool[int(rng.integers(len(pool)))]
                right = _glyph_cell(other, font, adv, cell_h, text_color)
                cell = cell.copy()
                cell[:, adv // 2 :] = right[:, adv // 2 :]
            layer.alpha_composite(Image.fromarray(cell), (int(x), cy - cell_h // 2))
        x += adv
    frame = Image.alpha_composite(frame.convert("RGBA"), layer)
    return np.asarray(frame.convert("RGB"))


def sign_clip(
    texts: str | Sequence[str],
    *,
    num_frames: int = 16,
    height: int = 320,
    width: int = 512,
    text_height_px: int = 48,
    drift_px_per_frame: float = 1.0,
    seed: int = 0,
    pseudo_glyphs: bool = False,
    morph_glyphs: bool = False,
    font_path: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """A clip of a sign drifting slowly across the frame (a gentle camera pan).

    Args:
        texts: one text for every frame, or one text per frame (letters that morph).
        num_frames: frames in the clip (ignored when ``texts`` is a sequence of strings).
        height: frame height in pixels.
        width: frame width in pixels.
        text_height_px: font size in pixels.
        drift_px_per_frame: horizontal shift of the board per frame, in pixels.
        seed: background (same for every frame) and pseudo-glyph choice.
        pseudo_glyphs: see :func:`render_sign`.
        morph_glyphs: with ``pseudo_glyphs``, fuse other characters in every frame, so
            the strokes change over time (otherwise the same wrong glyphs throughout).
        font_path: see :func:`render_sign`.

    Returns:
        ``(T, height, width, 3)`` uint8 RGB.
    """
    per_frame = [texts] * num_frames if isinstance(texts, str) else list(texts)
    start = -drift_px_per_frame * (len(per_frame) - 1) / 2
    frames = []
    for t, text in enumerate(per_frame):
        offset = (int(round(start + drift_px_per_frame * t)), 0)
        frames.append(
            render_sign(
                text,
                height=height,
                width=width,
                text_height_px=text_height_px,
                seed=seed,
                offset_xy=offset,
                pseudo_glyphs=pseudo_glyphs,
                font_path=font_path,
                glyph_seed=seed * 1009 + t if morph_glyphs else None,
            )
        )
    return np.stack(frames)


def morphing_texts(
    text: str, num_frames: int, *, seed: int = 0, fraction: float = 0.5
) -> list[str]:
    """One reading per frame in which a new random ``fraction`` of the characters is wrong.

    Models that cannot hold writing steady make letters morph from frame to frame; this is
    the synthetic version (each frame garbled with its own seed).

    Example:
        >>> texts = morphing_texts("北京烤鸭", 4, seed=0)
        >>> len(texts), len(set(texts)) > 1
        (4, True)
    """
    return [garble_text(text, seed=seed * 1009 + t, fraction=fraction) for t in range(num_frames)]

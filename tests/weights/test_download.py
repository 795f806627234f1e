"""``weights download`` against a real HTTP server on 127.0.0.1 (``http.server`` in a thread).

Registry entries are pointed at the local server (their digests replaced by those of the
bytes served); the server speaks byte ranges, can cut a transfer short, ignore ranges,
answer late or answer 404, and records every request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from vbench_cn import weights
from vbench_cn.cli import app
from vbench_cn.download import RichProgress

PAYLOAD = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MB, not a multiple of the 1 MiB chunk


@dataclass
class Behaviour:
    """What the server does; ``requests`` records ``(path, Range header, bytes sent)``."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut_first: set[str] = field(default_factory=set)  # first GET stops halfway, then closes
    ignore_range: bool = False
    delay: float = 0.0
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        b = self.behaviour
        if b.delay:
            time.sleep(b.delay)
        data = b.files.get(self.path)
        rng = self.headers.get("Range")
        if data is None:
            b.requests.append((self.path, rng, 0))
            self.send_error(404, "Not Found")
            return
        start = 0
        if rng and not b.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in b.cut_first:
            b.cut_first.discard(self.path)
            body = body[: len(body) // 2]
            self.close_connection = True
        b.requests.append((self.path, rng, len(body)))  # before sending: the client may be faster
        for i in range(0, len(body), 1 << 18):  # in pieces, so the client sees a rate
            self.wfile.write(body[i : i + (1 << 18)])
            self.wfile.flush()
            time.sleep(0.01)


@pytest.fixture
def server() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()
    handler = type("Handler", (_Handler,), {"behaviour": behaviour})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VBENCH_CN_HOME", str(tmp_path / "home"))
    for var in ("VBENCH_CN_OFFLINE", "HF_HUB_OFFLINE", "VBENCH_CN_MIRROR", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _point(
    monkeypatch: pytest.MonkeyPatch, name: str, source: str, data: bytes, **changes: object
) -> weights.Weights:
    """Re-register ``name`` with ``source`` and the digest of ``data``."""
    entry = dataclasses.replace(
        weights.get_weights(name), source=source, sha256=_sha(data), **changes
    )
    monkeypatch.setitem(weights.WEIGHTS, name, entry)
    return entry


def test_plain_download_verifies_and_reports_progress(server, monkeypatch) -> None:
    url, b = server
    b.files["/head.pth"] = PAYLOAD
    _point(monkeypatch, "laion_aesthetic_head", f"{url}/head.pth", PAYLOAD)
    out = io.StringIO()
    with RichProgress(Console(file=out, force_terminal=True, width=120)) as bars:
        path = weights.download("laion_aesthetic_head", progress=bars.start("head"))
    assert path.read_bytes() == PAYLOAD
    text = out.getvalue()
    assert "3.1/3.1 MB" in text  # bytes done / total
    assert "MB/s" in text or "kB/s" in text  # transfer rate


def test_a_cut_transfer_resumes_with_a_range_request(server, monkeypatch) -> None:
    url, b = server
    b.files["/head.pth"] = PAYLOAD
    b.cut_first.add("/head.pth")
    _point(monkeypatch, "laion_aesthetic_head", f"{url}/head.pth", PAYLOAD)
    with pytest.raises(weights.WeightsMissing, match="cannot download .*head.pth"):
        weights.download("laion_aesthetic_head")
    part = weights.destination("laion_aesthetic_head").with_name("sa_0_4_vit_l_14_linear.pth.part")
    kept = part.stat().st_size
    assert 0 < kept < len(PAYLOAD)
    path = weights.download("laion_aesthetic_head")
    assert path.read_bytes() == PAYLOAD and not part.exists()
    (_, rng, sent) = b.requests[-1]
    assert rng == f"bytes={kept}-" and sent == len(PAYLOAD) - kept  # only the rest travelled


def test_a_server_without_ranges_restarts_cleanly(server, monkeypatch) -> None:
    url, b = server
    b.files["/head.pth"] = PAYLOAD
    b.cut_first.add("/head.pth")
    b.ignore_range = True
    _point(monkeypatch, "laion_aesthetic_head", f"{url}/head.pth", PAYLOAD)
    with pytest.raises(weights.WeightsMissing):
        weights.download("laion_aesthetic_head")
    path = weights.download("laion_aesthetic_head")
    assert path.read_bytes() == PAYLOAD  # 200 answer: the part was rewritten, not appended to
    assert b.requests[-1][1] is not None and b.requests[-1][2] == len(PAYLOAD)


def test_a_wrong_digest_deletes_the_file_and_says_so(server, monkeypatch) -> None:
    url, b = server
    b.files["/head.pth"] = PAYLOAD
    _point(monkeypatch, "laion_aesthetic_head", f"{url}/head.pth", b"something else")
    dest = weights.destination("laion_aesthetic_head")
    with pytest.raises(weights.WeightsError, match=f"does not match|expected .*deleted {dest}"):
        weights.download("laion_aesthetic_head")
    assert not dest.exists()
    assert not dest.with_name(dest.name + ".part").exists()


def test_404_is_one_line_with_the_url_and_where_to_put_the_file(server, monkeypatch) -> None:
    url, _ = server
    _point(monkeypatch, "laion_aesthetic_head", f"{url}/gone.pth", PAYLOAD)
    with pytest.raises(weights.WeightsMissing) as info:
        weights.download("laion_aesthetic_head")
    msg = str(info.value)
    assert "\n" not in msg
    assert f"{url}/gone.pth" in msg and "HTTP 404" in msg
    assert str(weights.destination("laion_aesthetic_head")) in msg and _sha(PAYLOAD) in msg


def test_a_silent_server_times_out_in_one_line(server, monkeypatch) -> None:
    url, b = server
    b.files["/head.pth"] = PAYLOAD
    b.delay = 2.0
    monkeypatch.setenv("VBENCH_CN_TIMEOUT", "0.3")
    _point(monkeypatch, "laion_aesthetic_head", f"{url}/head.pth", PAYLOAD)
    with pytest.raises(weights.WeightsMissing) as info:
        weights.download("laion_aesthetic_head")
    msg = str(info.value)
    assert "\n" not in msg and "timed out after 0.3 s" in msg and f"{url}/head.pth" in msg


def test_the_zip_member_is_extracted_and_the_archive_removed(server, monkeypatch) -> None:
    url, b = server
    member = b"raft weights" * 1000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("models/raft-things.pth", member)
        zf.writestr("models/raft-small.pth", b"other")
    b.files["/models.zip"] = buf.getvalue()
    _point(monkeypatch, "raft_things", f"{url}/models.zip", member)
    path = weights.download("raft_things")
    assert path.name == "raft-things.pth" and path.read_bytes() == member
    assert not (path.parent / "models.zip").exists()


def test_mirror_base_serves_plain_urls(server, monkeypatch) -> None:
    url, b = server
    b.files["/mirror/sa_0_4_vit_l_14_linear.pth"] = PAYLOAD
    _point(
        monkeypatch,
        "laion_aesthetic_head",
        "https://upstream.invalid/x/sa_0_4_vit_l_14_linear.pth",
        PAYLOAD,
    )
    monkeypatch.setenv("VBENCH_CN_MIRROR", f"{url}/mirror/")
    assert weights.download("laion_aesthetic_head").read_bytes() == PAYLOAD
    assert [r[0] for r in b.requests] == ["/mirror/sa_0_4_vit_l_14_linear.pth"]


def test_hf_endpoint_is_honoured(server, monkeypatch) -> None:
    url, b = server
    rev = "f4a64596bbcf9a2a94591b74b9dc39b2e4e77e3e"
    b.files[f"/OFA-Sys/chinese-clip-vit-base-patch16/resolve/{rev}/model.safetensors"] = PAYLOAD
    entry = weights.get_weights("cnclip_vitb16")
    _point(monkeypatch, "cnclip_vitb16", entry.source, PAYLOAD)
    monkeypatch.setenv("HF_ENDPOINT", url)
    assert weights.download("cnclip_vitb16").read_bytes() == PAYLOAD
    assert len(b.requests) == 1


def test_cli_only_fetches_what_the_dimensions_need(server, monkeypatch) -> None:
    url, b = server
    head, clip = PAYLOAD[:5000], PAYLOAD[:7000]
    b.files["/m/sa_0_4_vit_l_14_linear.pth"] = head
    b.files["/m/ViT-L-14.pt"] = clip
    for name, data in (("laion_aesthetic_head", head), ("clip_vitl14", clip)):
        _point(monkeypatch, name, weights.get_weights(name).source, data)
    monkeypatch.setenv("VBENCH_CN_MIRROR", f"{url}/m")
    result = CliRunner().invoke(app, ["weights", "download", "--only", "aesthetic_quality"])
    assert result.exit_code == 0, result.output
    assert sorted(r[0] for r in b.requests) == ["/m/ViT-L-14.pt", "/m/sa_0_4_vit_l_14_linear.pth"]
    assert "MB/s" in result.output
    bad = CliRunner().invoke(app, ["weights", "download", "--only", "aesthetic_qualty"])
    assert bad.exit_code != 0 and "aesthetic_quality" in bad.output  # did-you-mean

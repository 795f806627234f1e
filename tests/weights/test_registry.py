"""Weights registry: entry schema, sha256 policy, locating, loading (downloads: test_download)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from vbench_cn import weights as W
from vbench_cn.features import ExtractorOptions

ALL = W.list_weights()
ALLOWED_META = {"num_params", "paper", "vbench_file", "vbench_cache_path", "used_by"}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty VBENCH_CN_HOME, offline unless a test says otherwise."""
    monkeypatch.setenv("VBENCH_CN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VBENCH_CN_OFFLINE", "1")
    monkeypatch.setenv(
        "TORCH_HOME", str(tmp_path / "torch_home")
    )  # a developer's hub cache must not leak in
    return tmp_path / "home"


def tiny_entry(
    monkeypatch: pytest.MonkeyPatch,
    *,
    sha256: str | None,
    name: str = "tiny_linear_test",
    source: str = "https://example.invalid/weights/tiny.pth",
) -> W.Weights:
    """Register a throw-away entry (removed again by monkeypatch)."""
    entry = W.Weights(
        name=name,
        build=lambda: nn.Linear(3, 2),
        source=source,
        filename="tiny.pth",
        sha256=sha256,
        size_bytes=None,
        license="MIT",
        transforms="none",
        meta={"num_params": 8, "used_by": []},
        unpinned_reason="" if sha256 else "a test file",
    )
    monkeypatch.setitem(W.WEIGHTS, name, entry)
    return entry


def save_linear(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    state = nn.Linear(3, 2).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


# --------------------------------------------------------------------------- schema


def test_vbench_backbones_are_registered() -> None:
    names = {w.name for w in ALL}
    assert {
        "dino_vitb16",
        "clip_vitb32",
        "clip_vitl14",
        "laion_aesthetic_head",
        "raft_things",
        "musiq_spaq",
    } <= names


@pytest.mark.parametrize("entry", ALL, ids=lambda w: w.name)
def test_schema(entry: W.Weights) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", entry.name)
    assert entry.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
    assert entry.license.strip()
    assert entry.filename and "/" not in entry.filename
    assert entry.source.startswith(("https://", "hf://"))
    assert isinstance(entry.meta.get("num_params"), int)
    assert isinstance(entry.meta.get("used_by"), (list, tuple))
    assert entry.size_bytes is None or entry.size_bytes > 0
    assert entry.sha256 or "searched" in entry.unpinned_reason  # unpinned says why and where


def test_cli_list_says_why_a_file_is_unpinned() -> None:
    from typer.testing import CliRunner

    from vbench_cn.cli import app

    result = CliRunner().invoke(app, ["weights", "list", "--json"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["dino_vitb16"]["sha256"] is None
    assert "552daf80332dbde16bba2a52c6508b77" in rows["dino_vitb16"]["unpinned_reason"]
    assert rows["musiq_spaq"]["sha256"].startswith("358bb6af")  # the file name's hash prefix
    table = CliRunner().invoke(app, ["weights", "list"], env={"COLUMNS": "200"}).output
    assert "raft_things: unpinned:" in table and "searched" in table


@pytest.mark.parametrize("entry", ALL, ids=lambda w: w.name)
def test_num_params_matches_architecture(entry: W.Weights) -> None:
    """Offline check that the checkpoint will fit: parameter count of ``build()`` (on meta)."""
    try:
        with torch.device("meta"):
            module = entry.build()
    except Exception:  # an initialiser that cannot run on meta tensors: build for real
        module = entry.build()
    assert sum(p.numel() for p in module.parameters()) == entry.meta["num_params"]


def test_openai_clip_hashes_are_the_url_digests() -> None:
    for name in ("clip_vitb32", "clip_vitl14"):
        w = W.get_weights(name)
        assert w.sha256 is not None and f"/{w.sha256}/" in w.source


def test_list_filter_and_unknown_name() -> None:
    assert [w.name for w in W.list_weights("clip*")] == sorted(
        w.name for w in ALL if w.name.startswith("clip")
    )
    with pytest.raises(KeyError, match="did you mean dino_vitb16"):
        W.get_weights("dino_vitb61")


def test_register_rejects_bad_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    base = tiny_entry(monkeypatch, sha256=None)
    with pytest.raises(ValueError, match="lower_snake"):
        W.register_weights(W.Weights(**{**base.__dict__, "name": "Tiny-Linear"}))
    with pytest.raises(ValueError, match="64 lowercase hex"):
        W.register_weights(W.Weights(**{**base.__dict__, "name": "tiny_other", "sha256": "abc123"}))
    with pytest.raises(ValueError, match="registered twice"):
        W.register_weights(W.Weights(**{**base.__dict__, "license": "other"}))
    with pytest.raises(ValueError, match="must say why"):
        W.register_weights(W.Weights(**{**base.__dict__, "name": "tiny_x", "unpinned_reason": ""}))
    with pytest.raises(ValueError, match="unknown pickled kinds"):
        W.register_weights(W.Weights(**{**base.__dict__, "name": "tiny_y", "pickled": ("os",)}))


def test_hf_source_url() -> None:
    w = W.Weights(
        name="x",
        build=nn.Identity,
        source="hf://org/repo/sub/file.pth@abc123",
        filename="file.pth",
        sha256=None,
        size_bytes=None,
        license="MIT",
        transforms="",
    )
    assert w.url == "https://huggingface.co/org/repo/resolve/abc123/sub/file.pth"


# --------------------------------------------------------------------------- sha256


def test_wrong_sha256_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_entry(monkeypatch, sha256="0" * 64)
    save_linear(home / "tiny.pth")
    with pytest.raises(
        W.WeightsError, match=r"sha256 [0-9a-f]{12}… does not match the pinned 000000000000"
    ):
        W.load_model("tiny_linear_test", ExtractorOptions())


def test_pinned_file_loads_with_its_id(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = save_linear(home / "tiny.pth")
    digest = W.file_sha256(home / "tiny.pth")
    tiny_entry(monkeypatch, sha256=digest)
    module, weights_id = W.load_model("tiny_linear_test", ExtractorOptions())
    assert weights_id == f"tiny_linear_test@{digest[:12]}"
    assert torch.equal(module.weight, state["weight"]) and not module.training


def test_sha_cache_is_keyed_on_size_and_mtime(home: Path) -> None:
    path = home / "f.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"abc")
    first = W.file_sha256(path)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert str(path.resolve()) in (home / "sha256-cache.json").read_text()
    path.write_bytes(b"abcd")  # new size: the cached digest must not be reused
    assert W.file_sha256(path) != first


def test_verify_statuses(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_entry(monkeypatch, sha256="1" * 64)
    assert W.verify("tiny_linear_test").status == "missing"
    save_linear(home / "tiny.pth")
    res = W.verify("tiny_linear_test")
    assert res.status == "mismatch" and res.sha256 == W.file_sha256(home / "tiny.pth")
    tiny_entry(monkeypatch, sha256=None)
    assert W.verify("tiny_linear_test").status == "unpinned"


# --------------------------------------------------------------------------- locating


def test_offline_miss_is_one_line_with_url_and_destination(home: Path) -> None:
    with pytest.raises(W.WeightsMissing) as info:
        W.load_model("dino_vitb16", ExtractorOptions())
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("dino_vitb16: missing ")
    assert str(home / "dino_vitbase16_pretrain.pth") in msg
    assert (
        "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth"
        in msg
    )
    assert "--weights-dir" in msg


def test_cli_offline_download_prints_one_line(home: Path) -> None:
    from typer.testing import CliRunner

    from vbench_cn.cli import app

    result = CliRunner().invoke(app, ["weights", "download", "raft_things"])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert (
        len(lines) == 1 and "models.zip" in lines[0] and str(home / "raft-things.pth") in lines[0]
    )


def test_override_file_is_used_and_its_sha_recorded(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_entry(monkeypatch, sha256="2" * 64)  # a pinned digest does not block an explicit override
    path = tmp_path / "mine.pth"
    state = save_linear(path, seed=3)
    module, weights_id = W.load_model(
        "tiny_linear_test", ExtractorOptions(weights_overrides={"tiny_linear_test": str(path)})
    )
    assert weights_id == f"tiny_linear_test@{W.file_sha256(path)[:12]}"
    assert torch.equal(module.bias, state["bias"])
    with pytest.raises(W.WeightsError, match="override .*missing.pth: file not found"):
        W.load_model(
            "tiny_linear_test",
            ExtractorOptions(weights_overrides={"tiny_linear_test": str(tmp_path / "missing.pth")}),
        )


def test_checkpoint_that_does_not_fit_names_its_keys_on_one_line(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's message starts "Error(s) in loading state_dict for Linear:" and names no key."""
    tiny_entry(monkeypatch, sha256=None)
    state = nn.Linear(3, 2).state_dict()
    wrapped = tmp_path / "wrapped.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, wrapped)
    with pytest.raises(W.WeightsError) as err:
        W.load_model(
            "tiny_linear_test",
            ExtractorOptions(weights_overrides={"tiny_linear_test": str(wrapped)}),
        )
    assert str(err.value) == (
        "tiny_linear_test: checkpoint does not fit the architecture (2 missing: weight, bias; "
        "2 unexpected: module.weight, module.bias; checkpoint keys carry the prefix 'module.')"
    )
    reshaped = tmp_path / "reshaped.pth"
    torch.save(
        {
            "weight": torch.zeros(4, 3),
            "bias": state["bias"],
            **{f"extra.{i}": torch.zeros(1) for i in range(5)},
        },
        reshaped,
    )
    with pytest.raises(W.WeightsError) as err:
        W.load_model(
            "tiny_linear_test",
            ExtractorOptions(weights_overrides={"tiny_linear_test": str(reshaped)}),
        )
    message = str(err.value)
    assert "\n" not in message
    assert "5 unexpected: extra.0, extra.1, extra.2, ..." in message
    assert "1 of another shape: weight (4, 3) not (2, 3)" in message


def test_vbench_cache_layout_is_found(home: Path, tmp_path: Path) -> None:
    vb = tmp_path / "vbench_cache"
    target = vb / "aesthetic_model" / "emb_reader" / "sa_0_4_vit_l_14_linear.pth"
    target.parent.mkdir(parents=True)
    torch.save(nn.Linear(768, 1).state_dict(), target)
    assert W.locate("laion_aesthetic_head", ExtractorOptions(weights_dir=str(vb))) == target
    ours = vb / "sa_0_4_vit_l_14_linear.pth"
    torch.save(nn.Linear(768, 1).state_dict(), ours)
    assert (
        W.locate("laion_aesthetic_head", ExtractorOptions(weights_dir=str(vb))) == ours
    )  # our layout first
    # the head is pinned (LAION's git blob): a look-alike file is found but refused
    with pytest.raises(W.WeightsError, match="does not match the pinned 2cd4e60f4f24"):
        W.load_model("laion_aesthetic_head", ExtractorOptions(weights_dir=str(vb)))


def test_pickled_code_is_not_loaded(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_entry(monkeypatch, sha256=None)
    home.mkdir(parents=True)
    torch.save(
        {"weight": torch.zeros(2, 3), "bias": torch.zeros(2), "x": nn.Linear(1, 1)},
        home / "tiny.pth",
    )
    with pytest.raises(W.WeightsError, match="cannot read checkpoint"):
        W.load_model("tiny_linear_test", ExtractorOptions())


# --------------------------------------------------------------------------- downloading (mocked)


def test_valid_cache_makes_no_download_call(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VBENCH_CN_OFFLINE", "0")
    save_linear(home / "tiny.pth")
    tiny_entry(monkeypatch, sha256=W.file_sha256(home / "tiny.pth"))
    calls: list[str] = []
    monkeypatch.setattr(
        "vbench_cn.download.fetch", lambda url, target, **k: calls.append(url) or target
    )
    assert W.download("tiny_linear_test") == home / "tiny.pth"
    W.load_model("tiny_linear_test", ExtractorOptions())
    assert calls == []


def test_random_weights_are_seeded_and_constants_get_noise() -> None:
    a, id_a = W.load_model("raft_things", ExtractorOptions(random_weights=True, seed=0))
    b, _ = W.load_model("raft_things", ExtractorOptions(random_weights=True, seed=0))
    c, _ = W.load_model("raft_things", ExtractorOptions(random_weights=True, seed=1))
    assert id_a == "random"
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(
        sa["feature_encoder.convnormrelu.0.weight"], sc["feature_encoder.convnormrelu.0.weight"]
    )
    for key in (
        "context_encoder.convnormrelu.1.weight",
        "context_encoder.convnormrelu.1.bias",
        "context_encoder.convnormrelu.1.running_mean",
        "update_block.flow_head.conv2.bias",
    ):
        t = sa[key]
        assert t.std() > 0, f"{key} stayed constant"
    assert (sa["context_encoder.convnormrelu.1.running_var"] > 0).all()


def test_random_laion_head_has_a_realistic_bias() -> None:
    head, _ = W.load_model("laion_aesthetic_head", ExtractorOptions(random_weights=True))
    assert float(head.bias.detach()) == 5.0


def test_torch_hub_cache_is_searched_last(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    paths = W.candidates("dino_vitb16")
    assert paths[-1] == tmp_path / "hub" / "checkpoints" / "dino_vitbase16_pretrain.pth"
    assert paths[-2] == home / "dino_vitbase16_pretrain.pth"
    assert all(
        tmp_path / "hub" not in p.parents for p in W.candidates("raft_things")
    )  # a zip member

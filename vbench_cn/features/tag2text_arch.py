"""Tag2Text (Huang et al., 2023) as VBench's scene dimension runs it, in plain PyTorch.

Three parts, named as in the checkpoint ``tag2text_swin_14m.pth`` so that its ``model`` state
dict loads key for key (VBench 0.1.5 ``vbench/third_party/tag2Text/{tag2text,swin_transformer,
med}.py``; constants cited in ``docs/tag2text.md``):

* ``visual_encoder``: Swin-B at 384 px (patch 4, embed 128, depths 2-2-18-2, heads 4-8-16-32,
  window 12), whose output is the average-pooled token followed by the 144 patch tokens.
* the tagging head: 3429 learned label queries (``label_embed``) cross-attend the image in a
  two-layer, four-head BERT (``vision_multi``, no self-attention), and a per-class linear
  (``fc``) gives one logit per tag.
* ``tag_encoder`` (BERT, 12 layers, cross-attending the image) encodes the tag string, and
  ``text_decoder`` (BERT, 12 causal layers, cross-attending the tag encoding, tied LM head)
  writes the caption.

The first two layers of ``tag_encoder`` share their cross-attention and feed-forward weights
with ``vision_multi`` and the LM head shares its matrix with the word embeddings, as in
VBench (``tie_encoder_decoder_weights`` and transformers' output-embedding tie); the
checkpoint holds each shared tensor under both names. Operations keep VBench's order (scores
divided after the product in BERT, queries scaled before it in Swin, additive ``-10000``
masks) so that float32 results agree to the last bit on CPU. Index and mask constants are
built on the device of the input, never on the CPU first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn.features.layers import Mlp

#: Value VBench adds to masked attention scores (``med.py`` ``get_extended_attention_mask``).
BERT_MASK_VALUE = -10000.0
#: Value of Swin's shifted-window mask between regions (``swin_transformer.py``).
SWIN_MASK_VALUE = -100.0


@dataclass(frozen=True)
class Tag2TextConfig:
    """Sizes of the architecture; the defaults are VBench's (``config_swinB_384.json``,
    ``med_config.json``, ``q2l_config.json``, ``tag2text.py``). Tests use smaller ones."""

    image_size: int = 384
    patch_size: int = 4
    embed_dim: int = 128
    depths: tuple[int, ...] = (2, 2, 18, 2)
    num_heads: tuple[int, ...] = (4, 8, 16, 32)
    window_size: int = 12
    hidden_size: int = 768
    text_layers: int = 12
    text_heads: int = 12
    intermediate_size: int = 3072
    vocab_size: int = 30524  # bert-base-uncased's 30522 + [DEC] + [ENC]
    max_positions: int = 512
    tag_layers: int = 2
    tag_heads: int = 4
    num_tags: int = 3429
    bert_eps: float = 1e-12

    @property
    def vision_width(self) -> int:
        """Channels of the last Swin stage (1024 for Swin-B)."""
        return self.embed_dim * 2 ** (len(self.depths) - 1)


# --------------------------------------------------------------------------- Swin


@lru_cache(maxsize=8)
def relative_position_index(window: int, device: torch.device) -> torch.Tensor:
    """``(w², w²)`` index into the ``(2w-1)²`` bias table: row offset·(2w-1) + column offset."""
    ys, xs = torch.meshgrid(
        torch.arange(window, device=device), torch.arange(window, device=device), indexing="ij"
    )
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + window - 1
    dx = xs[:, None] - xs[None, :] + window - 1
    return dy * (2 * window - 1) + dx


@lru_cache(maxsize=8)
def shifted_window_mask(
    height: int, width: int, window: int, shift: int, device: torch.device
) -> torch.Tensor:
    """``(num_windows, w², w²)`` additive mask of a shifted window: 0 in a region, -100 across."""
    region = torch.zeros(height, width, device=device)
    bounds = ((0, -window), (-window, -shift), (-shift, None))
    label = 0
    for y0, y1 in bounds:
        for x0, x1 in bounds:
            region[slice(y0, y1), slice(x0, x1)] = label
            label += 1
    windows = region.view(height // window, window, width // window, window)
    windows = windows.permute(0, 2, 1, 3).reshape(-1, window * window)
    diff = windows[:, None, :] - windows[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, SWIN_MASK_VALUE)


def _to_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B·nW, w, w, C)``, windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window, window, c)


def _from_windows(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`_to_windows`."""
    b = int(windows.shape[0] / (height * width / window / window))
    x = windows.view(b, height // window, width // window, window, window, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, height, width, -1)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, with a learned relative position bias."""

    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.window, self.heads = window, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        index = relative_position_index(self.window, x.device)
        bias = self.relative_position_bias_table[index.view(-1)].view(n, n, -1)
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """Pre-norm (shifted) window attention and MLP, each with a residual connection."""

    def __init__(self, dim: int, resolution: int, heads: int, window: int, shift: int) -> None:
        super().__init__()
        if resolution <= window:  # the last stage fits in one window: no shift
            window, shift = resolution, 0
        self.resolution, self.window, self.shift = resolution, window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = w = self.resolution
        b, _, c = x.shape
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        windows = _to_windows(x, self.window).view(-1, self.window * self.window, c)
        mask = shifted_window_mask(h, w, self.window, self.shift, x.device) if self.shift else None
        windows = self.attn(windows, mask).view(-1, self.window, self.window, c)
        x = _from_windows(windows, self.window, h, w)
        if self.shift:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = shortcut + x.view(b, h * w, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """Halves the resolution: concatenates each 2x2 neighbourhood, normalises, projects to 2C."""

    def __init__(self, dim: int, resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        r = self.resolution
        x = x.view(b, r, r, c)
        x = torch.cat(
            [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1
        ).view(b, -1, 4 * c)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """Blocks alternating plain and shifted windows, then (except last) patch merging."""

    def __init__(
        self, dim: int, resolution: int, depth: int, heads: int, window: int, merge: bool
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, resolution, heads, window, 0 if i % 2 == 0 else window // 2)
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim, resolution) if merge else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed(nn.Module):
    """Non-overlapping patches by a strided convolution, then LayerNorm."""

    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class SwinTransformer(nn.Module):
    """Swin encoder returning ``(B, 1 + L, C)``: the mean token, then the last stage's tokens."""

    def __init__(self, cfg: Tag2TextConfig) -> None:
        super().__init__()
        self.image_size = cfg.image_size
        self.patch_embed = PatchEmbed(cfg.patch_size, cfg.embed_dim)
        resolution = cfg.image_size // cfg.patch_size
        last = len(cfg.depths) - 1
        self.layers = nn.ModuleList(
            SwinStage(
                cfg.embed_dim * 2**i,
                resolution // 2**i,
                depth,
                cfg.num_heads[i],
                cfg.window_size,
                merge=i < last,
            )
            for i, depth in enumerate(cfg.depths)
        )
        self.norm = nn.LayerNorm(cfg.vision_width)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"Swin expects {self.image_size}x{self.image_size} images, "
                f"got {tuple(images.shape[-2:])}"
            )
        x = self.patch_embed(images)
        for stage in self.layers:
            x = stage(x)
        x = self.norm(x)
        pooled = F.adaptive_avg_pool1d(x.transpose(1, 2), 1)
        return torch.cat([pooled.transpose(1, 2), x], dim=1)


# --------------------------------------------------------------------------- BERT


class BertAttentionCore(nn.Module):
    """Query/key/value projections and scaled dot-product attention (``attention.self``)."""

    def __init__(self, hidden: int, heads: int, kv_width: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(kv_width, hidden)
        self.value = nn.Linear(kv_width, hidden)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, H·d)`` -> ``(B, H, L, d)``."""
        return x.view(*x.shape[:-1], self.heads, self.head_dim).permute(0, 2, 1, 3)

    def keys_values(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split key and value projections of ``states``."""
        return self.split(self.key(states)), self.split(self.value(states))

    def attend(
        self,
        hidden: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attention of ``hidden``'s queries over split ``keys``/``values`` (additive ``mask``)."""
        q = self.split(self.query(hidden))
        scores = torch.matmul(q, keys.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores + mask
        context = torch.matmul(scores.softmax(dim=-1), values).permute(0, 2, 1, 3).contiguous()
        return context.view(*context.shape[:-2], self.heads * self.head_dim)


class BertResidualNorm(nn.Module):
    """Linear projection, residual add, LayerNorm (``attention.output`` and ``output``)."""

    def __init__(self, width_in: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(width_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class BertAttentionBlock(nn.Module):
    """Attention plus its output projection (``attention`` / ``crossattention``)."""

    def __init__(self, hidden: int, heads: int, kv_width: int, eps: float) -> None:
        super().__init__()
        self.self = BertAttentionCore(hidden, heads, kv_width)
        self.output = BertResidualNorm(hidden, hidden, eps)

    def forward(
        self,
        hidden: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.output(self.self.attend(hidden, keys, values, mask), hidden)


class BertIntermediate(nn.Module):
    """The feed-forward expansion with GELU (``intermediate``)."""

    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class BertLayer(nn.Module):
    """Self-attention (optional), cross-attention, feed-forward."""

    def __init__(
        self,
        cfg: Tag2TextConfig,
        heads: int,
        kv_width: int,
        *,
        self_attention: bool = True,
    ) -> None:
        super().__init__()
        h, eps = cfg.hidden_size, cfg.bert_eps
        if self_attention:
            self.attention = BertAttentionBlock(h, heads, h, eps)
        self.crossattention = BertAttentionBlock(h, heads, kv_width, eps)
        self.intermediate = BertIntermediate(h, cfg.intermediate_size)
        self.output = BertResidualNorm(cfg.intermediate_size, h, eps)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    """``encoder.layer``: a stack of :class:`BertLayer`."""

    def __init__(self, layers: list[BertLayer]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(layers)


class BertEmbeddings(nn.Module):
    """Word plus absolute position embeddings, LayerNorm (no token types)."""

    def __init__(self, cfg: Tag2TextConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(cfg.max_positions, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.bert_eps)

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(positions)[None])


class TagEncoder(nn.Module):
    """BERT encoder over the tag string, cross-attending the image tokens (``tag_encoder``)."""

    def __init__(self, cfg: Tag2TextConfig) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(
            [BertLayer(cfg, cfg.text_heads, cfg.vision_width) for _ in range(cfg.text_layers)]
        )

    def forward(
        self, ids: torch.Tensor, attention_mask: torch.Tensor, image_embeds: torch.Tensor
    ) -> torch.Tensor:
        """``(B, L)`` ids, ``(B, L)`` 1/0 mask, ``(B, N, C)`` image tokens -> ``(B, L, 768)``."""
        mask = (1.0 - attention_mask[:, None, None, :].to(image_embeds.dtype)) * BERT_MASK_VALUE
        x = self.embeddings(ids)
        for layer in self.encoder.layer:
            core = layer.attention.self
            x = layer.attention(x, *core.keys_values(x), mask)
            x = layer.crossattention(x, *layer.crossattention.self.keys_values(image_embeds))
            x = layer.feed_forward(x)
        return x


class LabelQueryHead(nn.Module):
    """``vision_multi``: label queries cross-attend the image; no embeddings, no self-attention."""

    def __init__(self, cfg: Tag2TextConfig) -> None:
        super().__init__()
        self.encoder = BertEncoder(
            [
                BertLayer(cfg, cfg.tag_heads, cfg.vision_width, self_attention=False)
                for _ in range(cfg.tag_layers)
            ]
        )

    def forward(self, queries: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        x = queries
        for layer in self.encoder.layer:
            x = layer.crossattention(x, *layer.crossattention.self.keys_values(image_embeds))
            x = layer.feed_forward(x)
        return x


class GroupWiseLinear(nn.Module):
    """One linear unit per class: ``logit_k = <W_k, x_k> + b_k`` (``fc``)."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.zeros(1, num_classes, dim))
        self.b = nn.Parameter(torch.zeros(1, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # elementwise product then sum, as VBench (a matmul would round differently)
        return (self.W * x).sum(-1) + self.b


class LMPredictionHead(nn.Module):
    """Dense, GELU, LayerNorm, then the vocabulary projection (``cls.predictions``)."""

    def __init__(self, cfg: Tag2TextConfig) -> None:
        super().__init__()
        self.transform = nn.Module()
        self.transform.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.transform.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.bert_eps)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.decoder.bias = self.bias  # one tensor under two names, as in the checkpoint

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.transform.LayerNorm(F.gelu(self.transform.dense(x)))
        return self.decoder(x)


class TextDecoder(nn.Module):
    """Causal BERT over the caption, cross-attending the tag encoding (``text_decoder``)."""

    def __init__(self, cfg: Tag2TextConfig) -> None:
        super().__init__()
        self.bert = nn.Module()
        self.bert.embeddings = BertEmbeddings(cfg)
        self.bert.encoder = BertEncoder(
            [BertLayer(cfg, cfg.text_heads, cfg.hidden_size) for _ in range(cfg.text_layers)]
        )
        self.cls = nn.Module()
        self.cls.predictions = LMPredictionHead(cfg)

    @property
    def layers(self) -> nn.ModuleList:
        return self.bert.encoder.layer

    def cross_keys_values(self, context: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, the split keys and values of the tag encoding (constant while decoding)."""
        return [layer.crossattention.self.keys_values(context) for layer in self.layers]

    def step(
        self,
        ids: torch.Tensor,
        cache: list[tuple[torch.Tensor, torch.Tensor]] | None,
        cross: list[tuple[torch.Tensor, torch.Tensor]],
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Logits of the last position for ``ids`` appended to the cached prefix.

        Args:
            ids: ``(R, n)`` new tokens (the whole prompt at the first step, then one token).
            cache: per layer, the self-attention keys/values of the prefix, or None.
            cross: per layer, the cross-attention keys/values (:meth:`cross_keys_values`).

        Returns:
            ``(R, vocab)`` logits and the extended cache.
        """
        past = 0 if cache is None else cache[0][0].shape[2]
        x = self.bert.embeddings(ids, start=past)
        n = ids.shape[1]
        mask = None
        if n > 1:  # causal mask within the new tokens; the cached prefix is visible to all
            visible = torch.ones(n, past + n, device=ids.device, dtype=torch.bool).tril(past)
            mask = (1.0 - visible.to(x.dtype)) * BERT_MASK_VALUE
        new_cache = []
        for i, layer in enumerate(self.layers):
            core = layer.attention.self
            k, v = core.keys_values(x)
            if cache is not None:
                k, v = torch.cat([cache[i][0], k], dim=2), torch.cat([cache[i][1], v], dim=2)
            new_cache.append((k, v))
            x = layer.attention(x, k, v, mask)
            x = layer.crossattention(x, *cross[i])
            x = layer.feed_forward(x)
        return self.cls.predictions(x[:, -1]), new_cache


class Tag2Text(nn.Module):
    """Tag2Text with VBench's module names (the state-dict keys of ``tag2text_swin_14m.pth``)."""

    def __init__(self, cfg: Tag2TextConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or Tag2TextConfig()
        self.cfg = cfg
        # registration order = VBench's, so a tensor stored twice loads from the same name last
        self.visual_encoder = SwinTransformer(cfg)
        self.text_decoder = TextDecoder(cfg)
        self.tag_encoder = TagEncoder(cfg)
        self.vision_multi = LabelQueryHead(cfg)
        self.label_embed = nn.Embedding(cfg.num_tags, cfg.hidden_size)
        self.fc = GroupWiseLinear(cfg.num_tags, cfg.hidden_size)
        self.tie_weights()

    def tie_weights(self) -> None:
        """Share the tensors VBench shares, keeping the one loaded last as VBench's
        ``load_state_dict`` does: ``vision_multi``'s layers in the first ``tag_encoder`` layers,
        ``cls.predictions.decoder``'s weight and bias in the word embeddings and head bias."""
        shared = self.tag_encoder.encoder.layer[: len(self.vision_multi.encoder.layer)]
        for mine, theirs in zip(shared, self.vision_multi.encoder.layer, strict=True):
            for name in ("crossattention", "intermediate", "output"):
                pairs = zip(
                    getattr(theirs, name).modules(), getattr(mine, name).modules(), strict=True
                )
                for src, dst in pairs:
                    for key, param in src.named_parameters(recurse=False):
                        dst._parameters[key] = param
        head = self.text_decoder.cls.predictions
        self.text_decoder.bert.embeddings.word_embeddings.weight = head.decoder.weight
        head.bias = head.decoder.bias

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 384, 384)`` normalised images -> ``(B, 145, 1024)`` tokens."""
        return self.visual_encoder(images)

    def tag_logits(self, image_embeds: torch.Tensor) -> torch.Tensor:
        """``(B, num_tags)`` logits of the tagging head."""
        queries = self.label_embed.weight.unsqueeze(0).repeat(image_embeds.shape[0], 1, 1)
        return self.fc(self.vision_multi(queries, image_embeds))


def config_from_state_dict(state: dict[str, torch.Tensor]) -> Tag2TextConfig:
    """The sizes of the Tag2Text whose ``model`` state dict is ``state``.

    Shapes give every size but the BERT head counts and the input size, which keep VBench's
    values (12 text heads, 4 tagging heads, 384 px). Lets a reduced checkpoint (the parity
    tests') load through the same path as the real one.
    """

    def count(prefix: str) -> int:
        found = {int(k[len(prefix) :].split(".", 1)[0]) for k in state if k.startswith(prefix)}
        if not found:
            raise KeyError(f"no {prefix}* key")
        return max(found) + 1

    proj = state["visual_encoder.patch_embed.proj.weight"]
    stages = count("visual_encoder.layers.")
    depths = tuple(count(f"visual_encoder.layers.{i}.blocks.") for i in range(stages))
    tables = [
        state[f"visual_encoder.layers.{i}.blocks.0.attn.relative_position_bias_table"]
        for i in range(stages)
    ]
    window = (int(round(tables[0].shape[0] ** 0.5)) + 1) // 2
    words = state["text_decoder.bert.embeddings.word_embeddings.weight"]
    return Tag2TextConfig(
        patch_size=int(proj.shape[-1]),
        embed_dim=int(proj.shape[0]),
        depths=depths,
        num_heads=tuple(int(t.shape[1]) for t in tables),
        window_size=window,
        hidden_size=int(words.shape[1]),
        text_layers=count("text_decoder.bert.encoder.layer."),
        intermediate_size=int(
            state["text_decoder.bert.encoder.layer.0.intermediate.dense.weight"].shape[0]
        ),
        vocab_size=int(words.shape[0]),
        max_positions=int(
            state["text_decoder.bert.embeddings.position_embeddings.weight"].shape[0]
        ),
        tag_layers=count("vision_multi.encoder.layer."),
        num_tags=int(state["label_embed.weight"].shape[0]),
    )

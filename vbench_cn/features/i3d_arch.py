"""Inflated Inception-v1 (I3D, Kinetics-400) as used for FVD.

Architecture: Carreira & Zisserman, "Quo Vadis, Action Recognition? A New Model and the
Kinetics Dataset", CVPR 2017 (arXiv:1705.07750), Fig. 3: Inception-v1 with every 2-D
kernel inflated to 3-D, TensorFlow "SAME" padding, batch norm after every convolution and
a 1x1x1 convolution as classifier whose outputs are averaged over time.

Parameter names follow the PyTorch port used by TATS and by ``cd-fvd`` (Ge et al.,
CVPR 2024), whose checkpoint ``i3d_pretrained_400.pt`` is a plain state dict with keys such
as ``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_3b.b1b.bn.running_mean`` and
``logits.conv3d.bias``; :func:`convert_i3d_state_dict` only unwraps containers and
prefixes, so the checkpoint loads strictly.

FVD reads the 400 logits (before the softmax), as the TF-hub FVD and StyleGAN-V's
``return_features=True`` do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: Input clip length the FVD detector is used with (16 frames at 224x224).
I3D_CLIP_FRAMES = 16
I3D_SIZE = 224
I3D_NUM_CLASSES = 400


def same_padding(
    size: Sequence[int], kernel: Sequence[int], stride: Sequence[int]
) -> tuple[int, ...]:
    """TensorFlow ``SAME`` padding for ``(T, H, W)`` as an ``F.pad`` tuple (last dim first).

    Total padding per dimension is ``max((ceil(n / s) - 1) * s + k - n, 0)``; the extra
    pixel, when odd, goes after (TF convention).
    """
    pads: list[int] = []
    for n, k, s in zip(size, kernel, stride, strict=True):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads.append(total // 2)
        pads.append(total - total // 2)
    t0, t1, h0, h1, w0, w1 = pads
    return (w0, w1, h0, h1, t0, t1)


class Unit3D(nn.Module):
    """Conv3d (bias only in the classifier) + optional BatchNorm3d + optional ReLU, SAME padding."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Sequence[int] = (1, 1, 1),
        stride: Sequence[int] = (1, 1, 1),
        *,
        batch_norm: bool = True,
        relu: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.kernel = (kernel[0], kernel[1], kernel[2])
        self.stride = (stride[0], stride[1], stride[2])
        self.relu = relu
        self.conv3d = nn.Conv3d(
            in_channels, out_channels, self.kernel, self.stride, padding=0, bias=bias
        )
        # eps 1e-5 as the PyTorch port the checkpoint was trained/converted for.
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-5, momentum=0.001) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pooling with SAME padding; pads with zeros (inputs are post-ReLU, so >= 0)."""

    def __init__(self, kernel: Sequence[int], stride: Sequence[int]) -> None:
        super().__init__()
        self.kernel = tuple(kernel)
        self.stride = tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        return F.max_pool3d(x, self.kernel, self.stride)


class InceptionBlock3D(nn.Module):
    """Four parallel branches: 1x1 | 1x1→3x3 | 1x1→3x3 | maxpool 3x3→1x1, concatenated."""

    def __init__(self, in_channels: int, widths: Sequence[int]) -> None:
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3 = widths
        self.b0 = Unit3D(in_channels, c0)
        self.b1a = Unit3D(in_channels, c1a)
        self.b1b = Unit3D(c1a, c1b, (3, 3, 3))
        self.b2a = Unit3D(in_channels, c2a)
        self.b2b = Unit3D(c2a, c2b, (3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, c3)
        self.out_channels = c0 + c1b + c2b + c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1
        )


#: (name, input channels, branch widths) of the nine Inception blocks (I3D paper, Fig. 3).
_BLOCKS: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)


class InceptionI3d(nn.Module):
    """I3D: Kinetics-400 logits ``(B, num_classes)`` of clips ``(B, 3, T, H, W)`` in [-1, 1].

    Args:
        num_classes: classifier outputs (400 for Kinetics-400).
    """

    def __init__(self, num_classes: int = I3D_NUM_CLASSES) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        for name, cin, widths in _BLOCKS[:2]:
            setattr(self, name, InceptionBlock3D(cin, widths))
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        for name, cin, widths in _BLOCKS[2:7]:
            setattr(self, name, InceptionBlock3D(cin, widths))
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        for name, cin, widths in _BLOCKS[7:]:
            setattr(self, name, InceptionBlock3D(cin, widths))
        self.logits = Unit3D(1024, num_classes, batch_norm=False, relu=False, bias=True)
        self._order = (
            "Conv3d_1a_7x7",
            "MaxPool3d_2a_3x3",
            "Conv3d_2b_1x1",
            "Conv3d_2c_3x3",
            "MaxPool3d_3a_3x3",
            "Mixed_3b",
            "Mixed_3c",
            "MaxPool3d_4a_3x3",
            "Mixed_4b",
            "Mixed_4c",
            "Mixed_4d",
            "Mixed_4e",
            "Mixed_4f",
            "MaxPool3d_5a_2x2",
            "Mixed_5b",
            "Mixed_5c",
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The ``Mixed_5c`` feature map ``(B, 1024, T/8, H/32, W/32)``."""
        for name in self._order:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        # Average pool 2x7x7 with stride 1 (7x7 is the whole map at 224 px), then the 1x1x1
        # classifier, then the mean over the remaining time steps.
        x = F.avg_pool3d(
            x, kernel_size=(min(2, x.shape[2]), min(7, x.shape[3]), min(7, x.shape[4])), stride=1
        )
        x = self.logits(x)
        return x.mean(dim=(3, 4)).mean(dim=2)


def build_i3d() -> InceptionI3d:
    """The Kinetics-400 I3D with random weights.

    Convolutions get He-normal weights (fan-in, ReLU gain; He et al., ICCV 2015) so that
    random features keep their scale through the network with identity batch norms
    (PyTorch's default init shrinks them ~1e4-fold, which makes random-weight FVD meaningless).
    """
    net = InceptionI3d(I3D_NUM_CLASSES)
    for m in net.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net.eval()


def convert_i3d_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Checkpoint tensors of the TATS / cd-fvd ``i3d_pretrained_400.pt`` to this module's keys.

    The file is a flat state dict with our key names; some copies are wrapped in
    ``{"state_dict": ...}`` or saved from ``nn.DataParallel`` (``module.`` prefix).
    """
    if "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]  # type: ignore[assignment]
    return {k.removeprefix("module."): v for k, v in sd.items()}

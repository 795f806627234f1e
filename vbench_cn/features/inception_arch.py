"""The FID Inception-v3 (TensorFlow ``inception-2015-12-05`` graph) returning 2048-d pool features.

Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", NeurIPS 2017 (FID), use the pool_3 activations of the 2015 TensorFlow
Inception-v3 graph. That graph differs from torchvision's Inception-v3 in its mixed blocks'
pooling branch (average pools that exclude the zero padding from the mean; a max pool in
the last block) and has 1008 classes, facts its PyTorch port ``pytorch-fid`` (Seitzer, 2020)
documents. The blocks below are torchvision's with that pooling; the network is assembled
here so that building it never downloads anything; the checkpoint
``pt_inception-2015-12-05-6726825d.pth`` uses torchvision's key names and loads strictly.
``tests/fidelity/test_fidelity_backbones.py`` compares it with pytorch-fid where installed.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.inception import InceptionA, InceptionC, InceptionE

#: Input side the network is used at; frames are resized to 299x299 (see the extractor).
INCEPTION_SIZE = 299
INCEPTION_FEATURES = 2048
# torchvision's Inception v3 stages up to the pooled 2048-d features, in forward order.
TRUNK = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "maxpool1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "maxpool2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
    "avgpool",
)


def _avg_pool_without_padding(x: Tensor) -> Tensor:
    """3x3 average, stride 1, over the pixels inside the image only (TensorFlow's pooling)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(InceptionA):
    """Mixed 5b-5d: torchvision's block with TensorFlow's average pool."""

    def _forward(self, x: Tensor) -> list[Tensor]:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool_without_padding(x))]


class FIDInceptionC(InceptionC):
    """Mixed 6b-6e: torchvision's block with TensorFlow's average pool."""

    def _forward(self, x: Tensor) -> list[Tensor]:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            d = layer(d)
        return [self.branch1x1(x), b7, d, self.branch_pool(_avg_pool_without_padding(x))]


class FIDInceptionE(InceptionE):
    """Mixed 7b (``max_pool=False``) and 7c (``max_pool=True``), TensorFlow's pooling."""

    def __init__(self, in_channels: int, *, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def _forward(self, x: Tensor) -> list[Tensor]:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _avg_pool_without_padding(x)
        return [self.branch1x1(x), b3, d, self.branch_pool(pooled)]


class FIDInceptionV3(nn.Module):
    """Inception-v3 of the FID graph: ``(B, 3, 299, 299)`` in [-1, 1] -> ``(B, 2048)``."""

    def __init__(self) -> None:
        super().__init__()
        import torchvision

        net = torchvision.models.inception_v3(
            weights=None,
            num_classes=1008,
            aux_logits=False,
            init_weights=False,
            transform_input=False,
        )
        net.Mixed_5b = FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = FIDInceptionE(1280, max_pool=False)
        net.Mixed_7c = FIDInceptionE(2048, max_pool=True)
        # Keep the checkpoint's module names at the top level (``Conv2d_1a_3x3.conv.weight``).
        for name in (*TRUNK, "fc"):
            setattr(self, name, getattr(net, name))
        self._trunk = TRUNK

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self._trunk:
            x = getattr(self, name)(x)
        return x.flatten(1)


def build_fid_inception() -> FIDInceptionV3:
    """The FID Inception-v3 with random weights.

    Convolutions get He-normal weights (fan-in, ReLU gain; He et al., ICCV 2015) so that
    activations keep their scale through the 94 layers with identity batch norms; the
    checkpoint replaces all of them when real weights are loaded.
    """
    net = FIDInceptionV3()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
    return net.eval()


def convert_inception_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``pt_inception-2015-12-05`` tensors already use our names; drop a ``module.`` prefix."""
    return {k.removeprefix("module."): v for k, v in sd.items()}

"""Export minivision's two MiniFASNet anti-spoofing networks to ONNX, once.

    python -m venv /tmp/export && /tmp/export/bin/pip install torch==2.13.0 onnx onnxruntime
    /tmp/export/bin/python scripts/export_minifasnet.py \
        ../shared/data/models/Silent-Face-Anti-Spoofing/resources/anti_spoof_models

The weights are Apache-2.0 PyTorch state dicts from
minivision-ai/Silent-Face-Anti-Spoofing (commit b6d5f04a); the repository ships
only the exported ONNX files (kyc/pad_models/, with the licence and a NOTICE), so
torch is needed here and nowhere else. The network is defined below from the
state dict's keys and shapes (MobileFaceNet-style: depthwise-separable blocks,
SE blocks in V1SE, a 5x5 depthwise head, 3 classes). The script checks that
onnxruntime reproduces torch's softmax on random and structured inputs before it
writes anything.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

OUT = Path(__file__).resolve().parents[1] / "kyc" / "pad_models"
# state dict file -> exported file name
MODELS = {
    "2.7_80x80_MiniFASNetV2.pth": "minifasnet_v2_2.7x.onnx",
    "4_0_0_80x80_MiniFASNetV1SE.pth": "minifasnet_v1se_4.0x.onnx",
}


class ConvBlock(nn.Module):
    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int, padding: int, groups: int, act: bool
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu = nn.PReLU(cout) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.bn(self.conv(x)))


class SEModule(nn.Module):
    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(reduced)
        self.fc2 = nn.Conv2d(reduced, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(
            self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(x.mean((2, 3), keepdim=True))))))
        )
        return x * scale


class DepthWise(nn.Module):
    def __init__(
        self, cin: int, mid: int, cout: int, stride: int, residual: bool, se: int | None
    ) -> None:
        super().__init__()
        self.residual = residual
        self.conv = ConvBlock(cin, mid, 1, 1, 0, 1, act=True)
        self.conv_dw = ConvBlock(mid, mid, 3, stride, 1, mid, act=True)
        self.project = ConvBlock(mid, cout, 1, 1, 0, 1, act=False)
        self.se_module = SEModule(cout, se) if se else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.conv_dw(self.conv(x)))
        if self.se_module is not None:
            out = self.se_module(out)
        return x + out if self.residual else out


class Residual(nn.Module):
    def __init__(self, blocks: list[DepthWise]) -> None:
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MiniFASNet(nn.Module):
    """Built from a state dict: every width is read from a weight's shape."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()

        def width(key: str) -> int:
            return int(state[key].shape[0])

        def block(prefix: str, stride: int, residual: bool) -> DepthWise:
            se_key = f"{prefix}.se_module.fc1.weight"
            return DepthWise(
                int(state[f"{prefix}.conv.conv.weight"].shape[1]),
                width(f"{prefix}.conv.conv.weight"),
                width(f"{prefix}.project.conv.weight"),
                stride,
                residual,
                width(se_key) if se_key in state else None,
            )

        def stage(name: str) -> Residual:
            count = 1 + max(
                int(m.group(1)) for key in state if (m := re.match(rf"{name}\.model\.(\d+)\.", key))
            )
            return Residual([block(f"{name}.model.{i}", 1, True) for i in range(count)])

        self.conv1 = ConvBlock(3, width("conv1.conv.weight"), 3, 2, 1, 1, act=True)
        dw = width("conv2_dw.conv.weight")
        self.conv2_dw = ConvBlock(dw, dw, 3, 1, 1, dw, act=True)
        self.conv_23 = block("conv_23", 2, False)
        self.conv_3 = stage("conv_3")
        self.conv_34 = block("conv_34", 2, False)
        self.conv_4 = stage("conv_4")
        self.conv_45 = block("conv_45", 2, False)
        self.conv_5 = stage("conv_5")
        sep = width("conv_6_sep.conv.weight")
        self.conv_6_sep = ConvBlock(
            int(state["conv_6_sep.conv.weight"].shape[1]), sep, 1, 1, 0, 1, act=True
        )
        kernel = int(state["conv_6_dw.conv.weight"].shape[2])
        self.conv_6_dw = ConvBlock(sep, sep, kernel, 1, 0, sep, act=False)
        self.linear = nn.Linear(sep, width("linear.weight"), bias=False)
        self.bn = nn.BatchNorm1d(width("linear.weight"))
        self.prob = nn.Linear(width("linear.weight"), width("prob.weight"), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (
            self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34,
            self.conv_4, self.conv_45, self.conv_5, self.conv_6_sep, self.conv_6_dw,
        ):  # fmt: skip
            x = layer(x)
        return torch.softmax(self.prob(self.bn(self.linear(x.flatten(1)))), dim=1)


def load(path: Path) -> MiniFASNet:
    raw = torch.load(path, map_location="cpu", weights_only=True)
    state = {key.removeprefix("module."): value for key, value in raw.items()}
    net = MiniFASNet(state)
    # strict: a key the definition does not use, or a missing one, fails here.
    net.load_state_dict(state, strict=True)
    return net.eval()


def export(source: Path, target: Path) -> None:
    net = load(source)
    probe = torch.rand(1, 3, 80, 80) * 255
    torch.onnx.export(
        net,
        (probe,),
        str(target),
        input_names=["bgr"],
        output_names=["probabilities"],
        dynamic_axes={"bgr": {0: "batch"}, "probabilities": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    inputs = [
        rng.uniform(0, 255, (8, 3, 80, 80)).astype(np.float32),
        np.tile(np.linspace(0, 255, 80, dtype=np.float32), (4, 3, 80, 1)),
    ]
    for batch in inputs:
        with torch.no_grad():
            expected = net(torch.from_numpy(batch)).numpy()
        got = session.run(None, {"bgr": batch})[0]
        difference = float(np.abs(expected - got).max())
        if difference > 1e-4:
            target.unlink()
            sys.exit(f"{target.name}: onnxruntime differs from torch by {difference}")
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"{target.name}: {target.stat().st_size} bytes sha256 {digest}; matches torch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("weights", type=Path, help="folder with the two .pth state dicts")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for source, target in MODELS.items():
        export(args.weights / source, OUT / target)


if __name__ == "__main__":
    main()

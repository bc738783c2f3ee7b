"""Operator graphs of real networks, built from their published architectures.

Each builder returns a :class:`Network`: the operators in the order a
PyTorch ``forward`` runs them (the "framework default" order COSMA compares
against, Li, Gupta and Malik 2023), the shape of every tensor and the graph
input; :meth:`Network.instance` makes it a :class:`ScratchpadInstance`.

Conventions, the same for every network:

- Data are 8-bit and the batch is 1, so a tensor's size in bytes is its
  number of elements (``C*H*W`` for a feature map).
- Each operator writes one tensor, whose id is the operator's id
  (``layer1.0.conv1``); the graph input is ``input``.
- Layers are fused as inference compilers fuse them: a convolution with the
  batch norm after it (folded into the convolution's weights and a bias) and
  its activation (ReLU, ReLU6) is one operator; a residual add with the
  ReLU after it is one operator. Views (flatten, the heads' reshapes and
  transposes) are not operators: the reader sees the tensor itself.
- ``weights`` is an operator's parameter count (int8: bytes). A folded
  batch norm adds one bias per output channel to its convolution; a batch
  norm that cannot be folded (DenseNet's, applied before a ReLU and a
  convolution) keeps a scale and a shift per channel; a linear layer has its
  bias. So a network's total is the torchvision parameter count minus one
  per folded batch-norm channel (its scale and shift become one bias).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optsched.problems.memalloc.scratchpad.instance import Operator, ScratchpadInstance, Tensor

INPUT = "input"
"""Id of every network's graph input."""
IMAGE = (3, 224, 224)
"""The image input of the CNNs (channels, height, width)."""


@dataclass(frozen=True)
class Network:
    """A network's operators (in the listed order), its tensors' shapes and its graph inputs."""

    name: str
    source: str
    """The architecture's publication and the reference implementation followed."""
    operators: tuple[Operator, ...]
    shapes: Mapping[str, tuple[int, ...]]
    """Every tensor's shape (batch left out), graph input first, then in operator order."""
    inputs: tuple[str, ...] = (INPUT,)

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The tensors, 8-bit: the size is the number of elements."""
        return tuple(Tensor(t, math.prod(shape)) for t, shape in self.shapes.items())

    @property
    def parameters(self) -> int:
        """The weights of all operators (bytes, int8)."""
        return sum(op.weights for op in self.operators)

    def instance(self, capacity: int | None = None, *, stream_weights: bool = False,
                 order: str = "listed", name: str | None = None,
                 meta: Mapping[str, Any] | None = None) -> ScratchpadInstance:
        """The scratchpad instance; without ``capacity``, room for every tensor at once."""
        if capacity is None:
            capacity = sum(t.size for t in self.tensors) + (
                self.parameters if stream_weights else 0)
        return ScratchpadInstance(self.tensors, self.operators, capacity, self.inputs,
                                  order=order, stream_weights=stream_weights,
                                  name=self.name if name is None else name,
                                  meta=dict(meta or {"network": self.name,
                                                     "source": self.source}))


class _Builder:
    """Adds operators one by one, each writing one tensor named after it."""

    def __init__(self, name: str, source: str, shape: tuple[int, ...]) -> None:
        self.name = name
        self.source = source
        self.shapes: dict[str, tuple[int, ...]] = {INPUT: shape}
        self.ops: list[Operator] = []

    def op(self, name: str, inputs: Sequence[str], shape: tuple[int, ...],
           weights: int = 0) -> str:
        """Operator ``name`` reading ``inputs`` and writing the tensor ``name`` of ``shape``."""
        assert name not in self.shapes, name
        self.shapes[name] = shape
        self.ops.append(Operator(name, tuple(inputs), (name,), weights))
        return name

    def conv(self, name: str, x: str, channels: int, kernel: int, stride: int = 1,
             groups: int = 1, affine: int = 1) -> str:
        """A 2-D convolution with ``kernel // 2`` padding.

        Its weights are the kernel plus ``affine`` values per channel: 1 for a
        batch norm folded into a bias, 2 for a batch norm kept in front of it
        (per input channel), 0 for none.
        """
        c, h, w = self.shapes[x]
        pad = kernel // 2
        out = (channels, (h + 2 * pad - kernel) // stride + 1,
               (w + 2 * pad - kernel) // stride + 1)
        per = channels if affine == 1 else c * affine
        return self.op(name, (x,), out, channels * (c // groups) * kernel * kernel + per)

    def pool(self, name: str, x: str, kernel: int, stride: int, pad: int = 0) -> str:
        """Max or average pooling (no weights)."""
        c, h, w = self.shapes[x]
        return self.op(name, (x,), (c, (h + 2 * pad - kernel) // stride + 1,
                                    (w + 2 * pad - kernel) // stride + 1))

    def global_pool(self, name: str, x: str) -> str:
        """Adaptive average pooling to 1x1, seen flattened: ``(C,)``."""
        return self.op(name, (x,), (self.shapes[x][0],))

    def linear(self, name: str, x: str, features: int) -> str:
        """A fully connected layer with bias, over the last dimension."""
        *lead, d = self.shapes[x]
        return self.op(name, (x,), (*lead, features), d * features + features)

    def same(self, name: str, inputs: Sequence[str], weights: int = 0) -> str:
        """An elementwise operator (add, norm): the output has its first input's shape."""
        return self.op(name, inputs, self.shapes[inputs[0]], weights)

    def network(self) -> Network:
        """The network built so far."""
        return Network(self.name, self.source, tuple(self.ops), dict(self.shapes))


def _resnet(name: str, bottleneck: bool, layers: Sequence[int], source: str) -> Network:
    b = _Builder(name, source, IMAGE)
    x = b.pool("maxpool", b.conv("conv1", INPUT, 64, 7, 2), 3, 2, 1)
    expansion = 4 if bottleneck else 1
    channels = 64
    for i, blocks in enumerate(layers):
        planes = 64 << i
        for j in range(blocks):
            stride = 2 if i > 0 and j == 0 else 1
            p = f"layer{i + 1}.{j}"
            if bottleneck:  # torchvision's ResNet v1.5: the stride on the 3x3 convolution
                out = b.conv(f"{p}.conv1", x, planes, 1)
                out = b.conv(f"{p}.conv2", out, planes, 3, stride)
                out = b.conv(f"{p}.conv3", out, planes * expansion, 1)
            else:
                out = b.conv(f"{p}.conv2", b.conv(f"{p}.conv1", x, planes, 3, stride), planes, 3)
            shortcut = x
            if stride != 1 or channels != planes * expansion:
                shortcut = b.conv(f"{p}.downsample", x, planes * expansion, 1, stride)
            x = b.same(f"{p}.add", (out, shortcut))
            channels = planes * expansion
    b.linear("fc", b.global_pool("avgpool", x), 1000)
    return b.network()


def resnet18() -> Network:
    """ResNet-18, as torchvision's ``resnet18`` lays it out.

    He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition",
    CVPR 2016, Table 1.
    A 7x7/2 convolution (``conv1``, 64x112x112) and a 3x3/2 max pool, four
    stages of two basic blocks (3x3 convolutions; 64, 128, 256, 512
    channels; the first block of stages 2-4 has stride 2 and a 1x1
    ``downsample`` convolution), a global average pool and a 1000-way ``fc``.
    A block runs ``conv1``, ``conv2``, ``downsample``, ``add`` (add + ReLU).
    31 operators, 32 tensors; 11,684,712 parameters (torchvision's 11,689,512
    less one per folded batch-norm channel, 4,800).
    """
    return _resnet("resnet18", False, (2, 2, 2, 2), "He et al., Deep Residual Learning for "
                   "Image Recognition, CVPR 2016 (arXiv:1512.03385), Table 1; torchvision "
                   "resnet18")


def resnet50() -> Network:
    """ResNet-50 (He et al., CVPR 2016, Table 1), as torchvision's ``resnet50`` lays it out.

    The stem of ResNet-18, then 3, 4, 6, 3 bottleneck blocks (1x1 to width
    64, 128, 256, 512; 3x3 with the stage's stride, torchvision's v1.5; 1x1
    to 4x the width; a ``downsample`` in each stage's first block, stage 1's
    too since 64 != 256). 72 operators, 73 tensors; 25,530,472 parameters
    (torchvision's 25,557,032 less 26,560 folded batch-norm channels).
    """
    return _resnet("resnet50", True, (3, 4, 6, 3), "He et al., Deep Residual Learning for "
                   "Image Recognition, CVPR 2016 (arXiv:1512.03385), Table 1; torchvision "
                   "resnet50 (v1.5: stride on the 3x3 convolution)")


MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
"""MobileNetV2's bottleneck stages: expansion t, channels c, repeats n, first stride s
(Sandler et al. 2018, Table 2)."""


def mobilenet_v2() -> Network:
    """MobileNetV2, as torchvision's ``mobilenet_v2`` (width 1.0) lays it out.

    Sandler, Howard, Zhu, Zhmoginov and Chen, "MobileNetV2: Inverted Residuals
    and Linear Bottlenecks", CVPR 2018, Table 2.
    ``features.0`` is a 3x3/2 convolution to 32 channels; each inverted
    residual block ``features.i`` runs ``conv.0`` (1x1 expansion by t, ReLU6;
    absent when t = 1), a 3x3 depthwise convolution (ReLU6), a linear 1x1
    projection, and ``add`` (no activation) when its stride is 1 and its
    input and output channels agree (10 of the 17 blocks). Then
    ``features.18`` (1x1 to 1280), a global average pool and ``classifier.1``
    (the dropout before it is a no-op in inference). 64 operators, 65 tensors;
    3,487,816 parameters (torchvision's 3,504,872 less 17,056 folded
    batch-norm channels).
    """
    b = _Builder("mobilenet_v2", "Sandler et al., MobileNetV2: Inverted Residuals and Linear "
                 "Bottlenecks, CVPR 2018 (arXiv:1801.04381), Table 2; torchvision "
                 "mobilenet_v2", IMAGE)
    x = b.conv("features.0", INPUT, 32, 3, 2)
    block = 1
    for t, c, n, s in MOBILENET_V2_SETTINGS:
        for j in range(n):
            stride = s if j == 0 else 1
            p = f"features.{block}.conv"
            channels = b.shapes[x][0]
            out, k = x, 0
            if t != 1:
                out = b.conv(f"{p}.{k}", out, channels * t, 1)
                k += 1
            hidden = b.shapes[out][0]
            out = b.conv(f"{p}.{k}", out, hidden, 3, stride, groups=hidden)
            out = b.conv(f"{p}.{k + 1}", out, c, 1)
            x = b.same(f"features.{block}.add", (out, x)) if stride == 1 and channels == c \
                else out
            block += 1
    x = b.conv(f"features.{block}", x, 1280, 1)
    b.linear("classifier.1", b.global_pool("avgpool", x), 1000)
    return b.network()


def densenet121() -> Network:
    """DenseNet-121, as torchvision's ``densenet121`` lays it out.

    Huang, Liu, van der Maaten and Weinberger, "Densely Connected
    Convolutional Networks", CVPR 2017, Table 1.
    Growth rate 32, bottleneck width 4 x 32, blocks of 6, 12, 24, 16 layers,
    transitions halving the channels. The stem ``features.conv0`` (7x7/2,
    batch norm folded, ReLU) and ``features.pool0``; a dense layer ``l`` of
    block ``k`` runs ``features.denseblockk.denselayerl.cat`` (torch.cat of
    the block's input and the earlier layers' outputs; the first layer of a
    block reads the block's input itself, a copy of a single tensor being no
    work), ``conv1`` (batch norm + ReLU + 1x1 to 128, fused) and ``conv2``
    (batch norm + ReLU + 3x3 to 32); the block ends with ``...cat`` of
    everything. A transition: ``conv`` (batch norm + ReLU + 1x1) and ``pool``
    (2x2/2 average); then ``features.norm5`` (batch norm + ReLU), a global
    average pool and ``classifier``. The pre-activation batch norms cannot be
    folded into a convolution's bias, so each keeps its 2 values per input
    channel. 185 operators, 186 tensors; 7,978,792 parameters (torchvision's
    7,978,856 less the 64 of ``norm0``, folded).
    """
    b = _Builder("densenet121", "Huang et al., Densely Connected Convolutional Networks, "
                 "CVPR 2017 (arXiv:1608.06993), Table 1; torchvision densenet121", IMAGE)
    x = b.pool("features.pool0", b.conv("features.conv0", INPUT, 64, 7, 2), 3, 2, 1)
    for k, layers in enumerate((6, 12, 24, 16), 1):
        p = f"features.denseblock{k}"
        features = [x]
        for layer in range(1, layers + 1):
            q = f"{p}.denselayer{layer}"
            cat = features[0] if layer == 1 else _cat(b, f"{q}.cat", features)
            out = b.conv(f"{q}.conv1", cat, 128, 1, affine=2)
            features.append(b.conv(f"{q}.conv2", out, 32, 3, affine=2))
        x = _cat(b, f"{p}.cat", features)
        if k < 4:
            q = f"features.transition{k}"
            x = b.pool(f"{q}.pool", b.conv(f"{q}.conv", x, b.shapes[x][0] // 2, 1, affine=2),
                       2, 2)
    x = b.same("features.norm5", (x,), 2 * b.shapes[x][0])
    b.linear("classifier", b.global_pool("avgpool", x), 1000)
    return b.network()


def _cat(b: _Builder, name: str, parts: Sequence[str]) -> str:
    """Concatenation along the channels."""
    _, h, w = b.shapes[parts[0]]
    return b.op(name, parts, (sum(b.shapes[t][0] for t in parts), h, w))


def transformer_block(seq: int = 128, d_model: int = 768, heads: int = 12, ffn: int = 3072,
                      norm: str = "pre", name: str = "transformer_block") -> Network:
    """One transformer encoder block of BERT-base's size, on 128 tokens.

    Vaswani et al., "Attention Is All You Need", NeurIPS 2017, Sec. 3;
    Devlin et al., "BERT", NAACL 2019 (BERT-base: L=12, H=768, A=12, FFN 3072).
    Pre-LN by default (``norm="pre"``; Xiong et al. 2020, the layout of GPT-2
    and ViT): ``ln1``, ``attn.q``, ``attn.k``, ``attn.v`` (768x768 + bias
    each), ``attn.scores`` (Q K^T of all 12 heads at once: 12x128x128,
    scaled), ``attn.softmax``, ``attn.context`` (probabilities times V, the
    heads merged: 128x768), ``attn.out``, ``add1`` (the input plus it),
    ``ln2``, ``ffn.fc1`` (to 3072, GELU fused), ``ffn.fc2``, ``add2``: 13
    operators. ``norm="post"`` is BERT's own post-LN order (``ln1`` after
    ``add1``, ``ln2`` after ``add2``, the second residual taken from
    ``ln1``); its live bytes peak at the same 589,824 (see the tests). The
    heads' split and merge are views; no attention mask (one unpadded
    sequence). 7,087,872 parameters: 4 x 590,592 projections, 2,362,368 +
    2,360,064 in the FFN, 2 x 1,536 in the layer norms.
    """
    if norm not in ("pre", "post"):
        raise ValueError(f"norm must be 'pre' or 'post', got {norm!r}")
    b = _Builder(name, "Vaswani et al., Attention Is All You Need, NeurIPS 2017 "
                 "(arXiv:1706.03762); Devlin et al., BERT, NAACL 2019 (arXiv:1810.04805), "
                 f"BERT-base sizes; {norm}-LN (Xiong et al., arXiv:2002.04745)",
                 (seq, d_model))
    ln = 2 * d_model
    x = INPUT
    a = b.same("ln1", (x,), ln) if norm == "pre" else x
    q, k, v = (b.linear(f"attn.{t}", a, d_model) for t in "qkv")
    scores = b.op("attn.scores", (q, k), (heads, seq, seq))
    probs = b.same("attn.softmax", (scores,))
    context = b.op("attn.context", (probs, v), (seq, d_model))
    x = b.same("add1", (x, b.linear("attn.out", context, d_model)))
    if norm == "post":
        x = b.same("ln1", (x,), ln)
    f = b.same("ln2", (x,), ln) if norm == "pre" else x
    x = b.same("add2", (x, b.linear("ffn.fc2", b.linear("ffn.fc1", f, ffn), d_model)))
    if norm == "post":
        b.same("ln2", (x,), ln)
    return b.network()


def vit_block() -> Network:
    """One encoder block of ViT-B/16: :func:`transformer_block` on 197 tokens.

    Dosovitskiy et al., "An Image Is Worth 16x16 Words", ICLR 2021, Table 1:
    pre-LN, 197 tokens (196 patches of a 224x224 image and the class token),
    d_model 768, 12 heads, MLP 3072.
    """
    net = transformer_block(seq=197, name="vit_block")
    return Network(net.name, "Dosovitskiy et al., An Image Is Worth 16x16 Words, ICLR 2021 "
                   "(arXiv:2010.11929), ViT-B/16; pre-LN", net.operators, net.shapes)


NETWORKS: Mapping[str, Callable[[], Network]] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "densenet121": densenet121,
    "transformer_block": transformer_block,
    "vit_block": vit_block,
}
"""Every network by name (the generator's ``network`` choices)."""

"""The graphs of real networks, COSMA's budgets, and the generator.

Hand checks (8-bit data, batch 1, so bytes = elements):

- ResNet-18: ``conv1`` 7x7/2 pad 3 on 224x224 gives (224 + 6 - 7) // 2 + 1 = 112, so
  64x112x112 = 802,816 bytes; the 3x3/2 max pool gives 64x56x56 = 200,704. Operators: conv1,
  maxpool, 8 blocks x (conv1, conv2, add), 3 downsamples, avgpool, fc = 31; tensors 31 + the
  input = 32. M_R is the max pool's 802,816 + 200,704 = 1,003,520 (the biggest any block
  needs is layer1's add, 3 x 200,704); the only tensor waiting across a step is a block's
  input (at most 200,704 next to 401,408), so M_P = M_R: nothing to optimise without weights.
  Streamed weights: layer4's 3x3 conv needs 2 x 25,088 (512x7x7) + 512*512*9 + 512 (bias) =
  2,409,984 = M_R, while layer4.0.conv2 also has the block input (256x14x14 = 50,176)
  waiting for the downsample: M_P = 2,460,160.
- Parameters counted: every convolution's kernel plus one bias per output channel (its batch
  norm folded: scale and shift become a bias), a linear layer's weights and bias, a batch
  norm that cannot be folded (DenseNet's, before a ReLU) 2 per channel, a layer norm 2 per
  feature. So torchvision's count less one per folded batch-norm channel:
  ResNet-18 11,689,512 - 4,800 (64 + 4x64 + 4x128+128 + 4x256+256 + 4x512+512) = 11,684,712;
  ResNet-50 25,557,032 - 26,560 (64; per stage blocks x 6w + 4w for the downsample:
  1,408 + 3,584 + 10,240 + 11,264) = 25,530,472; MobileNetV2 3,504,872 - 17,056
  (32 + 48 + 528 + 1,152 + 2,944 + 3,360 + 5,472 + 2,240 + 1,280) = 3,487,816; DenseNet-121
  7,978,856 - 64 (norm0) = 7,978,792; the BERT-base block 4 x (768^2 + 768) + (768 x 3072 +
  3072) + (3072 x 768 + 768) + 2 x 1,536 = 7,087,872.
- ResNet-50: 2 + 16 x 4 + 4 downsamples + 2 = 72 operators. M_R = M_P = layer1.0.add's
  3 x 256x56x56 = 2,408,448 (the reimplementation's 2352 KB in /work/notes/cosma.md).
- MobileNetV2: features.0, block 1 (dw, project), 16 x 3, 10 adds, features.18, avgpool,
  classifier.1 = 64 operators. M_R = features.2's stride-2 depthwise conv: 96x112x112 +
  96x56x56 = 1,505,280, and no tensor waits across it: M_P = M_R (also with weights: + 960).
- Transformer block (pre-LN, seq 128, d 768): scores 12x128x128 = 196,608; M_R = ffn.fc1's
  128x768 + 128x3072 = 491,520; M_P = 589,824 (at ffn.fc1 add1's 98,304 waits for add2;
  at attn.scores the input, q, k, v and the scores are live: 4 x 98,304 + 196,608, the same);
  M_H = 540,672.
- DenseNet-121: M_R = denseblock1.cat, 256x56x56 in and out = 1,605,632; M_P at
  denselayer6.conv1: its input cat (224x56x56 = 702,464), the five layer outputs and block
  input waiting for the block's cat (702,464 again) and its output (128x56x56 = 401,408):
  1,806,336.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from optsched import SolveParams, solve
from optsched.errors import InputError
from optsched.problems.memalloc.scratchpad.belady import belady, listed_order
from optsched.problems.memalloc.scratchpad.bounds import lower_bound
from optsched.problems.memalloc.scratchpad.budgets import budgets, buffers
from optsched.problems.memalloc.scratchpad.evaluate import evaluate
from optsched.problems.memalloc.scratchpad.generate import NETWORK_PARAMS, network
from optsched.problems.memalloc.scratchpad.networks import (
    NETWORKS,
    Network,
    resnet18,
    transformer_block,
)
from optsched.problems.memalloc.scratchpad.reading import from_dict
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution, Segment
from optsched.problems.memalloc.solution import MemallocSolution

# network: operators, parameters, (M_R, M_P), (M_R, M_P) with streamed weights
EXPECTED = {
    "resnet18": (31, 11_684_712, (1_003_520, 1_003_520), (2_409_984, 2_460_160)),
    "resnet50": (72, 25_530_472, (2_408_448, 2_408_448), None),
    "mobilenet_v2": (64, 3_487_816, (1_505_280, 1_505_280), (1_506_240, 1_506_240)),
    "densenet121": (185, 7_978_792, (1_605_632, 1_806_336), None),
    "transformer_block": (13, 7_087_872, (491_520, 589_824), None),
    "vit_block": (13, 7_087_872, None, None),
}
_BUILT: dict[str, Network] = {}


def built(name: str) -> Network:
    if name not in _BUILT:
        _BUILT[name] = NETWORKS[name]()
    return _BUILT[name]


@pytest.mark.parametrize("name", list(NETWORKS))
def test_each_network_builds_with_its_counts(name: str) -> None:
    net = built(name)
    ops, params, _, _ = EXPECTED[name]
    inst = net.instance()
    assert len(inst.operators) == ops
    assert len(inst.tensors) == ops + 1  # one output each, and the input
    assert net.parameters == params
    assert inst.inputs == ("input",)
    assert inst.graph.output.count(True) == 1  # the logits / the block's output
    assert listed_order(inst) == list(range(ops))  # the listed order is topological
    assert net.source and inst.meta["source"] == net.source
    assert from_dict(json.loads(json.dumps(inst.to_dict()))) == inst


def test_resnet18_shapes() -> None:
    net = resnet18()
    assert net.shapes["input"] == (3, 224, 224)
    assert net.shapes["conv1"] == (64, 112, 112)
    sizes = {t.id: t.size for t in net.tensors}
    assert sizes["input"] == 150_528
    assert sizes["conv1"] == 802_816
    assert sizes["maxpool"] == 200_704
    assert net.shapes["layer2.0.downsample"] == (128, 28, 28)
    assert net.shapes["layer4.1.add"] == (512, 7, 7)
    assert sizes["fc"] == 1000
    ops = {op.id: op for op in net.operators}
    assert ops["conv1"].weights == 3 * 64 * 49 + 64
    assert ops["layer1.0.add"].inputs == ("layer1.0.conv2", "maxpool")
    assert ops["layer2.0.add"].inputs == ("layer2.0.conv2", "layer2.0.downsample")
    ids = [op.id for op in net.operators]  # BasicBlock.forward: conv1, conv2, downsample, add
    assert ids[ids.index("layer2.0.conv1"):ids.index("layer2.0.add") + 1] == [
        "layer2.0.conv1", "layer2.0.conv2", "layer2.0.downsample", "layer2.0.add"]


def test_mobilenet_and_transformer_shapes() -> None:
    mb = built("mobilenet_v2")
    assert mb.shapes["features.1.conv.0"] == (32, 112, 112)  # t = 1: depthwise first
    assert mb.shapes["features.2.conv.0"] == (96, 112, 112)
    assert mb.shapes["features.2.conv.1"] == (96, 56, 56)
    assert mb.shapes["features.18"] == (1280, 7, 7)
    adds = [op.id for op in mb.operators if op.id.endswith(".add")]
    assert len(adds) == 10 and "features.3.add" in adds and "features.2.add" not in adds
    tb = built("transformer_block")
    sizes = {t.id: t.size for t in tb.tensors}
    assert sizes["attn.scores"] == 12 * 128 * 128 == 196_608
    assert sizes["ffn.fc1"] == 128 * 3072
    assert [op.id for op in tb.operators] == [
        "ln1", "attn.q", "attn.k", "attn.v", "attn.scores", "attn.softmax", "attn.context",
        "attn.out", "add1", "ln2", "ffn.fc1", "ffn.fc2", "add2"]
    post = transformer_block(norm="post")
    assert [op.id for op in post.operators][-5:] == ["ln1", "ffn.fc1", "ffn.fc2", "add2", "ln2"]
    assert post.parameters == tb.parameters
    assert budgets(post.instance())["peak"] == 589_824  # post-LN peaks as high


@pytest.mark.parametrize("name", list(NETWORKS))
def test_budgets(name: str) -> None:
    _, _, plain, weighted = EXPECTED[name]
    for stream, expected in ((False, plain), (True, weighted)):
        inst = built(name).instance(stream_weights=stream)
        start = time.perf_counter()
        found = budgets(inst)
        took = time.perf_counter() - start
        print(f"{name} weights={stream}: M_R={found['min']} M_P={found['peak']} "
              f"M_H={found['mid']} ({took:.3f} s)")
        assert found["peak_proven"]
        assert found["min"] == max(inst.graph.needs)
        assert found["live_peak"] <= found["peak"]
        assert found["min"] <= found["mid"] <= found["peak"]
        assert found["mid"] == (found["min"] + found["peak"]) // 2
        if expected is not None:
            assert (found["min"], found["peak"]) == expected


@pytest.mark.parametrize(("name", "stream"), [("transformer_block", False),
                                              ("densenet121", False), ("vit_block", False),
                                              ("resnet18", True), ("resnet50", True)])
def test_budgets_leave_room_to_optimise(name: str, stream: bool) -> None:
    found = budgets(built(name).instance(stream_weights=stream))
    assert found["min"] < found["peak"]


@pytest.mark.parametrize("name", ["transformer_block", "densenet121"])
def test_peak_budget_runs_without_spills(name: str) -> None:
    """memalloc-bb's allocation of M_P is a plan with no reload: the checker accepts it."""
    inst = built(name).instance()
    problem = buffers(inst)
    result = solve(problem, "memalloc-bb", SolveParams(time_limit=10, workers=1))
    assert isinstance(result.solution, MemallocSolution)
    offsets = result.solution.offsets
    plan = ScratchpadSolution(tuple(op.id for op in inst.operators), tuple(
        Segment(b.id, b.lower, b.upper - 1, offsets[b.id]) for b in problem.buffers))
    check = evaluate(replace(inst, capacity=budgets(inst)["peak"]), plan)
    assert check.violations == () and check.objective == 0


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("budget", ["min", "mid"])
def test_belady_is_accepted(name: str, budget: str) -> None:
    (inst,) = network(name, budget)
    solution = belady(inst, listed_order(inst))
    check = evaluate(inst, solution)
    assert check.violations == ()
    assert check.objective is not None and check.objective >= lower_bound(inst)


def test_generator_names_and_meta() -> None:
    (inst,) = network("transformer_block", "min")
    assert inst.name == "transformer_block-min"
    assert inst.capacity == 491_520 and inst.fixed and not inst.stream_weights
    assert set(inst.meta) == {"network", "budget", "M_R", "M_P", "M_H", "M_P_proven", "source"}
    assert (inst.meta["M_R"], inst.meta["M_P"], inst.meta["M_H"]) == (491_520, 589_824,
                                                                     540_672)
    (mid,) = network("transformer_block")
    assert mid.name == "transformer_block-mid" and mid.capacity == 540_672
    (peak,) = network("resnet18", "peak", stream_weights=True, order="free")
    assert peak.name == "resnet18-peak-weights-free" and peak.capacity == 2_460_160
    assert peak.order == "free" and peak.stream_weights
    copies = network("transformer_block", count=2, seed=5)
    assert [c.name for c in copies] == ["transformer_block-mid-0", "transformer_block-mid-1"]
    assert copies[0].operators == copies[1].operators
    assert copies[0].capacity == copies[1].capacity
    assert json.loads(json.dumps(inst.to_dict()))["meta"]["network"] == "transformer_block"
    assert [p.name for p in NETWORK_PARAMS] == ["network", "budget", "stream_weights", "order",
                                                "count", "seed"]
    assert all(n in NETWORK_PARAMS[0].help for n in NETWORKS)


@pytest.mark.parametrize(("key", "value"), [("network", "vgg16"), ("budget", "max"),
                                            ("order", "random"), ("count", 0),
                                            ("seed", -1), ("stream_weights", "yes")])
def test_generator_refuses_bad_values(key: str, value: object) -> None:
    with pytest.raises(InputError) as err:
        network(**{key: value})  # type: ignore[arg-type]
    assert err.value.field == key

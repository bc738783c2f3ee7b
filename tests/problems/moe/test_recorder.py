"""Routing logs: every format on tiny hand-made data, then every kind of bad input."""

from __future__ import annotations

import importlib.util
import json
import random
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optsched.errors import InputError
from optsched.problems.moe import ptfile, recorder
from optsched.problems.moe.recorder import Routing, read_routing
from tests.problems.moe import ptwriter as pw

# Two MoE layers after a dense layer 0; 4 physical slots for 3 logical experts: slot 3
# replicates expert 0 in layers 0-1, slots 1 and 3 both hold expert 1 in layer 2.
MAP = [[0, 1, 2, 0], [0, 1, 2, 0], [2, 1, 0, 1]]


def _record(i: int, **fields: Any) -> dict[str, Any]:
    return {"forward_pass_id": i, "rank": 0, "gatherer_key": "primary", **fields}


def _error(path: Path, match: str, **kwargs: Any) -> str:
    with pytest.raises(InputError, match=match) as info:
        read_routing(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


# --------------------------------------------------------------------------- formats


def test_stat_dump_sums_passes_and_drops_the_dense_layer(tmp_path: Path) -> None:
    """logical_count [2 passes, 3 layers, 4 experts], layer 0 all zero (dense).

    Layer 1: [1,0,2,0] + [0,1,1,0] = [1,1,3,0]; layer 2: [0,3,0,1] + [2,0,0,0] = [2,3,0,1].
    """
    counts = [[[0, 0, 0, 0], [1, 0, 2, 0], [0, 3, 0, 1]],
              [[0, 0, 0, 0], [0, 1, 1, 0], [2, 0, 0, 0]]]
    path = pw.write_pt(tmp_path / "expert_distribution_recorder_1.5.pt",
                       {"rank": 0, "logical_count": pw.tensor(counts),
                        "average_utilization_rate_over_window": None})
    routing = read_routing(path)
    assert routing.load.tolist() == [[1, 1, 3, 0], [2, 3, 0, 1]]
    assert routing.load.dtype == np.int64 and not routing.load.flags.writeable
    assert routing.layers == (1, 2)
    assert routing.transitions == () and routing.coactivation == ()
    assert routing.previous is None
    assert routing.source == "sglang stat dump, 2 passes"
    kept = read_routing(path, drop_empty_layers=False)
    assert kept.load.tolist() == [[0, 0, 0, 0], [1, 1, 3, 0], [2, 3, 0, 1]]
    assert kept.layers == (0, 1, 2)


def test_stat_dump_2d(tmp_path: Path) -> None:
    path = pw.write_pt(tmp_path / "s.pt", {"logical_count": pw.tensor([[5, 0], [1, 2]], "int64")})
    routing = read_routing(path)
    assert routing.load.tolist() == [[5, 0], [1, 2]] and routing.layers == (0, 1)


def test_per_pass_maps_physical_slots_with_a_replica(tmp_path: Path) -> None:
    """Map layer 0 [0,1,2,0] (expert 0 on slots 0 and 3), layer 1 [2,1,0,1] (expert 1 twice).

    Slot totals over both records: layer 0 [1,2,3,4]+[1,0,0,1] = [2,2,3,5] -> logical
    [2+5, 2, 3] = [7,2,3]; layer 1 [5,0,1,2]+[0,1,0,1] = [5,1,1,3] -> e0 = slot 2 = 1,
    e1 = slots 1+3 = 4, e2 = slot 0 = 5 -> [1,4,5].
    """
    records = [_record(0, global_physical_count=pw.tensor([[1, 2, 3, 4], [5, 0, 1, 2]])),
               _record(1, global_physical_count=pw.tensor([[1, 0, 0, 1], [0, 1, 0, 1]]))]
    path = pw.write_pt(tmp_path / "expert_distribution_recorder_1.5_0.pt",
                       {"records": records, "last_physical_to_logical_map": pw.tensor(MAP[1:])})
    routing = read_routing(path)
    assert routing.load.tolist() == [[7, 2, 3], [1, 4, 5]]
    assert routing.previous is not None and routing.previous.tolist() == MAP[1:]
    assert routing.source == "sglang per_pass dump, rank 0, 2 records"
    assert routing.transitions == ()


def per_token_dump(path: Path) -> Path:
    """Three tokens in two records; top-2 in a row of width 3 (padding -1), layer 0 dense.

    Physical -> logical by MAP:
      layer 1: t0 slots [0,1] -> {0,1}; t1 [3,2] -> {0,2}; t2 [1,2] -> {1,2}
      layer 2: t0 slots [0,3] -> {2,1}; t1 [1,2] -> {1,0}; t2 [2,1] -> {0,1}
    """
    first = [[[-1, -1, -1]] * 2, [[0, 1, -1], [3, 2, -1]], [[0, 3, -1], [1, 2, -1]]]
    second = [[[-1, -1, -1]], [[1, 2, -1]], [[2, 1, -1]]]
    records = [_record(0, input_ids=[5, 6], positions=[0, 1], extend_seq_lens=[2],
                       forward_mode=1, topk_ids_of_layer=pw.tensor(first), misc_objects=[],
                       global_physical_count=pw.tensor(np.zeros((3, 4)))),
               _record(1, input_ids=[7], positions=[2], extend_seq_lens=None, forward_mode=2,
                       topk_ids_of_layer=pw.tensor(second), misc_objects=[],
                       global_physical_count=pw.tensor(np.zeros((3, 4))))]
    return pw.write_pt(path, {"records": records, "last_physical_to_logical_map": pw.tensor(MAP)})


def test_per_token_dump_load_transitions_coactivation(tmp_path: Path) -> None:
    """Worked by hand from :func:`per_token_dump` (kept layers 1, 2 become rows 0, 1).

    load: layer 1 e0 {t0,t1}=2, e1 {t0,t2}=2, e2 {t1,t2}=2; layer 2 e0 {t1,t2}=2,
    e1 {t0,t1,t2}=3, e2 {t0}=1.
    transitions (e at layer 1, f at layer 2): t0 {0,1}x{1,2}, t1 {0,2}x{0,1},
    t2 {1,2}x{0,1}: (0,0)1 (0,1)2 (0,2)1 (1,0)1 (1,1)2 (1,2)1 (2,0)2 (2,1)2 = 12 pairs.
    coactivation: layer 1 (0,1) (0,2) (1,2) once each; layer 2 (1,2) once, (0,1) twice.
    """
    routing = read_routing(per_token_dump(tmp_path / "expert_distribution_recorder_2_0.pt"))
    assert routing.load.tolist() == [[2, 2, 2], [2, 3, 1]]
    assert routing.layers == (1, 2)
    assert routing.transitions == ((0, 0, 0, 1), (0, 0, 1, 2), (0, 0, 2, 1), (0, 1, 0, 1),
                                   (0, 1, 1, 2), (0, 1, 2, 1), (0, 2, 0, 2), (0, 2, 1, 2))
    assert sum(c for *_, c in routing.transitions) == 12
    assert routing.coactivation == ((0, 0, 1, 1), (0, 0, 2, 1), (0, 1, 2, 1),
                                    (1, 0, 1, 2), (1, 1, 2, 1))
    assert routing.previous is not None and routing.previous.tolist() == MAP[1:]
    assert routing.source == "sglang per_token dump, rank 0, 2 records, 3 tokens"
    full = read_routing(tmp_path / "expert_distribution_recorder_2_0.pt",
                        drop_empty_layers=False)
    assert full.layers == (0, 1, 2) and full.load.tolist()[0] == [0, 0, 0]
    assert full.previous is not None and full.previous.tolist() == MAP
    # With the dense layer kept there is no pair between it and layer 1.
    assert {t[0] for t in full.transitions} == {1}


# vLLM: 3 layers, layer 0 a dense placeholder (zeros), top-2 of 4 experts, 2 requests.
#   layer 1: t0 {0,1}, t1 {1,0}, t2 {0,2};  layer 2: t0 {2,3}, t1 {3,2}, t2 {2,1}
REQUESTS = [[[[0, 0], [0, 1], [2, 3]], [[0, 0], [1, 0], [3, 2]]],
            [[[0, 0], [0, 2], [2, 1]]]]
ROUTED_LOAD = [[3, 2, 1, 0], [0, 1, 3, 2]]
ROUTED_TRANSITIONS = ((0, 0, 1, 1), (0, 0, 2, 3), (0, 0, 3, 2), (0, 1, 2, 2), (0, 1, 3, 2),
                      (0, 2, 1, 1), (0, 2, 2, 1))
ROUTED_COACTIVATION = ((0, 0, 1, 2), (0, 0, 2, 1), (1, 1, 2, 1), (1, 2, 3, 2))


def test_vllm_routed_experts_json(tmp_path: Path) -> None:
    """Load: layer 1 e0 3, e1 2, e2 1; layer 2 e1 1, e2 3, e3 2.

    Transitions: t0, t1 {0,1}x{2,3} and t2 {0,2}x{1,2}: (0,1)1 (0,2)3 (0,3)2 (1,2)2 (1,3)2
    (2,1)1 (2,2)1. Coactivation: layer 1 (0,1)2 (0,2)1; layer 2 (1,2)1 (2,3)2. Layer 0
    lists expert 0 twice for every token, which top-2 routing cannot do: a dense layer.
    """
    path = tmp_path / "routed.json"
    path.write_text(json.dumps({"routed_experts": REQUESTS}))
    routing = read_routing(path)
    assert routing.load.tolist() == ROUTED_LOAD and routing.layers == (1, 2)
    assert routing.transitions == ROUTED_TRANSITIONS
    assert routing.coactivation == ROUTED_COACTIVATION
    assert routing.source == "vllm routed_experts (json), 2 requests, 3 tokens"
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"routed_experts": REQUESTS[0] + REQUESTS[1],
                                  "num_experts": 6}))
    one = read_routing(single)
    assert one.load.tolist() == [[*row, 0, 0] for row in ROUTED_LOAD]
    assert one.transitions == ROUTED_TRANSITIONS and "1 requests" in one.source


def test_npz_routed_experts_and_npy_counts(tmp_path: Path) -> None:
    path = tmp_path / "routed.npz"
    np.savez(path, routed_experts=np.array(REQUESTS[0] + REQUESTS[1], dtype=np.uint8))
    routing = read_routing(path)
    assert routing.load.tolist() == ROUTED_LOAD
    assert routing.coactivation == ROUTED_COACTIVATION
    npy = tmp_path / "counts.npy"
    np.save(npy, np.array([[0, 0], [4, 1]], dtype=np.int32))
    counts = read_routing(npy)
    assert counts.load.tolist() == [[4, 1]] and counts.layers == (1,)
    assert counts.source == "npy logical_count"
    npz = tmp_path / "counts.dat"  # recognised by content, not suffix
    with npz.open("wb") as fh:
        np.savez_compressed(fh, logical_count=np.ones((3, 2, 2), dtype=np.int64),
                            physical_to_logical_map=np.array([[1, 0, 1], [0, 1, 0]]))
    both = read_routing(npz)
    assert both.load.tolist() == [[3, 3], [3, 3]] and both.source == "npz logical_count, 3 passes"
    assert both.previous is not None and both.previous.tolist() == [[1, 0, 1], [0, 1, 0]]


def test_json_logical_count(tmp_path: Path) -> None:
    path = tmp_path / "init.json"
    path.write_text(json.dumps({"logical_count": [[[1, 2]], [[3, 4]]]}))
    routing = read_routing(path)
    assert routing.load.tolist() == [[4, 6]] and routing.source == "json logical_count, 2 passes"
    path.write_text(json.dumps({"logical_count": [[1, 2], [0, 0], [3, 0]],
                                "physical_to_logical_map": [[0, 1, 1], [1, 0, 0], [0, 1, 0]]}))
    routing = read_routing(path)
    assert routing.layers == (0, 2) and routing.load.tolist() == [[1, 2], [3, 0]]
    assert routing.previous is not None and routing.previous.tolist() == [[0, 1, 1], [0, 1, 0]]


# --------------------------------------------------------------------------- .pt details


def test_pt_views_byte_order_and_dtypes(tmp_path: Path) -> None:
    storage = np.arange(10, dtype=np.int64)
    bf16 = np.array([0x3F80, 0xC000], dtype=np.uint16)  # 1.0, -2.0
    obj = OrderedDict(view=pw.Tensor(storage, (2, 3), (1, 2), offset=1),
                      again=pw.Tensor(storage, (2,), (5,)),
                      wide=pw.tensor([1, 65535], "uint16"), flags=pw.tensor([True, False], "bool"),
                      half=pw.tensor([0.5], "float16"), empty=pw.tensor(np.zeros((0, 3))),
                      bf=pw.Tensor(bf16, (2,), (1,), storage_class="BFloat16Storage"),
                      plain=[1, -5, 2**40, 1.5, "x", None, (True,)])
    for order in ("little", "big", None):
        out = ptfile.read_pt(pw.write_pt(tmp_path / f"t_{order}.pt", obj, byteorder=order))
        assert isinstance(out, dict)
        assert out["view"].tolist() == [[1, 3, 5], [2, 4, 6]]
        assert out["again"].tolist() == [0, 5]
        assert out["wide"].dtype == np.uint16 and out["wide"].tolist() == [1, 65535]
        assert out["flags"].tolist() == [True, False] and out["half"].tolist() == [0.5]
        assert out["empty"].shape == (0, 3) and out["bf"].tolist() == [1.0, -2.0]
        assert out["plain"] == [1, -5, 2**40, 1.5, "x", None, (True,)]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_reads_the_writer_output(tmp_path: Path) -> None:  # pragma: no cover
    torch: Any = importlib.import_module("torch")
    path = per_token_dump(tmp_path / "d.pt")
    loaded = torch.load(path, weights_only=True)
    ids = loaded["records"][0]["topk_ids_of_layer"]
    assert ids.dtype == torch.int32 and ids.tolist()[1] == [[0, 1, -1], [3, 2, -1]]
    saved = tmp_path / "real.pt"
    torch.save({"logical_count": torch.tensor([[[0, 1], [2, 3]]], dtype=torch.int32)}, saved)
    assert read_routing(saved).load.tolist() == [[0, 1], [2, 3]]


# --------------------------------------------------------------------------- bad input


def test_malicious_global_is_named_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for func in (pw.Global("os", "system"), pw.Global("builtins", "eval"),
                 pw.Global("posix", "system")):
        arg = f"touch {marker}" if func.name == "system" else f"open('{marker}', 'w')"
        data, _ = pw.dumps({"logical_count": pw.Call(func, (arg,))})
        path = pw.write_pt(tmp_path / "evil.pt", {}, pickle_bytes=data)
        message = _error(path, "refusing the pickled global")
        assert f"'{func.module}.{func.name}'" in message and "data.pkl" in message
        assert not marker.exists()


def test_allowed_globals_cannot_be_abused(tmp_path: Path) -> None:
    storage_call = pw.Call(pw.Global("torch", "IntStorage"), (3,))
    rebuild = pw.Global("torch._utils", "_rebuild_tensor_v2")
    plain = pw.Call(rebuild, (("storage", "IntStorage", "0", "cpu", 1), 0, (1,), (1,)))
    bad_type = pw.Persistent(("storage", "IntStorage", "0", "cpu", 1))
    bad_key = pw.Persistent(("storage", pw.Global("torch", "IntStorage"), 0, "cpu", 1))
    missing = pw.Persistent(("storage", pw.Global("torch", "IntStorage"), "9", "cpu", 1))
    other = pw.Persistent(("module", "x"))
    for obj, match in ((storage_call, "unreadable pickle"), (plain, "is not a storage record"),
                       (bad_type, "storage's type is not"), (bad_key, "malformed storage id"),
                       (missing, "data/9: missing storage member"),
                       (other, "unknown persistent id")):
        data, _ = pw.dumps({"logical_count": obj})
        _error(pw.write_pt(tmp_path / "a.pt", {}, pickle_bytes=data), match)
    garbage = pw.write_pt(tmp_path / "g.pt", {}, pickle_bytes=b"\x80\x02}q\x00(")
    _error(garbage, r"unreadable pickle \(")
    for name, match in (("torch\nIntStorage", "modify a storage type"),
                        ("torch._utils\n_rebuild_tensor_v2", "modify a rebuild function")):
        build = b"\x80\x02c" + name.encode() + b"\n}X\x01\x00\x00\x00xK\x01sb."
        _error(pw.write_pt(tmp_path / "b.pt", {}, pickle_bytes=build), match)


def test_storage_and_view_bounds(tmp_path: Path) -> None:
    big, _ = pw.dumps({"logical_count": pw.tensor(np.zeros((10, 10)))})
    path = pw.write_pt(tmp_path / "s.pt", {"logical_count": pw.tensor([[1, 2]])}, pickle_bytes=big)
    _error(path, r"data/0: storage of 100 elements \(400 bytes\) exceeds its archive member of 8")
    past = pw.Tensor(np.arange(4, dtype=np.int32), (3, 3), (3, 1))
    _error(pw.write_pt(tmp_path / "v.pt", {"logical_count": past}), "reads past its storage")
    neg = pw.Tensor(np.arange(4, dtype=np.int32), (2,), (-1,))
    _error(pw.write_pt(tmp_path / "n.pt", {"logical_count": neg}), "non-negative integers")


def test_container_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = per_token_dump(tmp_path / "good.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _error(cut, "truncated")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"hello world")
    _error(junk, "unrecognised content")
    legacy = tmp_path / "old.pt"
    legacy.write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.")
    _error(legacy, r"legacy torch.save format .*torch>=1.6")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("notes.txt", "hi")
    _error(other, "neither a torch.save file nor an npz")
    monkeypatch.setattr(ptfile, "MAX_FILE_BYTES", 100)
    _error(good, "exceeds the limit of 100 bytes")


def test_bad_arrays(tmp_path: Path) -> None:
    cases: list[tuple[Any, str]] = [
        ({"logical_count": [1, 2, 3]},
         r"logical_count: must be a 2-D or 3-D integer array, got shape \(3,\)"),
        ({"logical_count": [[1.5, 2]]}, "got float64 array of shape"),
        ({"logical_count": [[1, 2], [3]]}, "not a rectangular integer array"),
        ({"logical_count": [[1, -2]]}, r"logical_count\[0\]\[1\]: negative count: -2"),
        ({"logical_count": [[0, 0]]}, "no routed tokens"),
        ({"logical_count": [[1]], "physical_to_logical_map": [[0, 1]]},
         r"physical_to_logical_map\[0\]\[1\]: map entry out of range \[0, 1\): 1"),
        ({"physical_to_logical_map": [[0, 1]]}, "is a placement, not routing data"),
        ({"routed_experts": [[[0, -3]]]}, r"routed_experts\[0\]\[0\]\[1\]: negative expert id"),
        ({"routed_experts": [[[0, 4]]], "num_experts": 4}, r"must lie in \[0, 4\)"),
        ({"something": 1}, r"no logical_count, records or routed_experts key \(keys: .something"),
        ([1, 2], "top level must be a mapping, got list"),
    ]
    for obj, match in cases:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(obj))
        _error(path, match)
    path.write_text("{not json")
    _error(path, "invalid JSON")


def test_bad_dumps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pmap = pw.tensor(MAP)
    ids = pw.tensor([[[-1, -1]], [[0, 4]], [[1, 2]]])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"records": [_record(0, topk_ids_of_layer=ids)], "last_physical_to_logical_map": pmap},
         r"records\[0\]\.topk_ids_of_layer\[1\]\[0\]\[1\]: physical id out of range \[0, 4\)"),
        ({"records": [_record(0, topk_ids_of_layer=ids)],
          "last_physical_to_logical_map": pw.tensor([[0, 2, 2]])},
         r"last_physical_to_logical_map\[0\]: logical expert 1 has no physical slot"),
        ({"records": [_record(0, topk_ids_of_layer=ids)],
          "last_physical_to_logical_map": pw.tensor([[0, 5, 1]])},
         r"map entry out of range \[0, 3\): 5"),
        ({"records": [_record(0, global_physical_count=pw.tensor([[1, 2]]))],
          "last_physical_to_logical_map": pmap}, r"has shape \(1, 2\)"),
        ({"records": [_record(0, global_physical_count=pw.tensor(-np.ones((3, 4))))],
          "last_physical_to_logical_map": pmap}, "negative count: -1"),
        ({"records": [_record(0)], "last_physical_to_logical_map": pmap},
         r"records\[0\]\.global_physical_count: missing"),
        ({"records": [_record(0, topk_ids_of_layer=ids)]},
         "last_physical_to_logical_map: missing"),
        ({"records": []}, "records: must be a non-empty list"),
    ]
    for obj, match in cases:
        _error(pw.write_pt(tmp_path / "bad.pt", obj), match)
    good = per_token_dump(tmp_path / "good.pt")
    monkeypatch.setattr(recorder, "MAX_RECORDS", 1)
    _error(good, "has 2 records, more than 1")
    monkeypatch.setattr(recorder, "MAX_RECORDS", 10)
    monkeypatch.setattr(recorder, "MAX_PAIR_WORK", 20)
    _error(good, r"expands to 36 token pairs, more than 20; record fewer tokens")


def test_bad_numpy_files(tmp_path: Path) -> None:
    npz = tmp_path / "obj.npz"
    np.savez(npz, logical_count=np.array([[1, None]], dtype=object))
    _error(npz, "logical_count: declares object")
    npy = tmp_path / "cut.npy"
    np.save(npy, np.ones((50, 50), dtype=np.int64))
    npy.write_bytes(npy.read_bytes()[:500])
    _error(npy, r"npy: declares int64 \(50, 50\) \(20000 bytes\)")


def test_routing_is_frozen(tmp_path: Path) -> None:
    path = pw.write_pt(tmp_path / "s.pt", {"logical_count": pw.tensor([[1]])})
    routing = read_routing(path)
    assert isinstance(routing, Routing)
    with pytest.raises(AttributeError):
        routing.source = "x"  # type: ignore[misc]


def test_memo_index_cannot_exhaust_memory(tmp_path: Path) -> None:
    """LONG_BINPUT 2**32-1: the C unpickler would grow its memo list to 2**33 entries."""
    data = b"\x80\x02}r\xff\xff\xff\xff."
    _error(pw.write_pt(tmp_path / "memo.pt", {}, pickle_bytes=data), "no logical_count")


def test_too_many_experts_for_per_token_data(tmp_path: Path) -> None:
    path = tmp_path / "wide.json"
    path.write_text(json.dumps({"routed_experts": [[[0, 1]]], "num_experts": 10**12}))
    _error(path, "1000000000000 experts per layer")


def test_corrupted_files_give_one_line_input_errors(tmp_path: Path) -> None:
    """Random byte flips, cuts and insertions in valid files: an InputError or a result."""
    sources = [per_token_dump(tmp_path / "a.pt").read_bytes(),
               pw.write_pt(tmp_path / "b.pt", {"logical_count": pw.tensor([[1, 2]])}).read_bytes()]
    pickles = [pw.dumps({"logical_count": pw.tensor([[[1, 2]]]), "rank": 0})[0]]
    rng = random.Random(7)
    target = tmp_path / "f.pt"
    for trial in range(300):
        data = bytearray(rng.choice(pickles if trial % 2 else sources))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(2, len(data))
            if rng.random() < 0.6:
                data[at] = rng.randrange(256)
            else:
                del data[at:at + rng.randint(1, 8)]
        if trial % 2:
            pw.write_pt(target, {"logical_count": pw.tensor([[[1, 2]]])}, pickle_bytes=bytes(data))
        else:
            target.write_bytes(bytes(data))
        try:
            read_routing(target)
        except InputError as exc:
            assert "\n" not in str(exc)

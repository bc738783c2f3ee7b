"""Seeded mutations of a text input: byte-level edits and structure-level replacements."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import yaml

TOKENS = ["-1", "0", "1e400", "99999999999999999999999999999999999999999", "NaN", "Infinity",
          "null", "true", "[]", "{}", '"', "\\u0000", "١", "1_0", "+5", "0x10", "[" * 200,
          "{" * 200, '"' + "x" * 5000 + '"', "\xff\xfe", "&a [*a, *a]", "../../escaped",
          "/tmp/abs", "\n---\n", ": :", "\t", "-" * 3]
"""Values that have broken parsers before: numbers out of range, deep nesting, odd digits."""
VALUES: list[Any] = [-1, 0, 10**30, -(10**30), 1.5, float("1e300"), "", "x" * 3000, None, [],
                     {}, True, False, "١", "1_0", "../../../x", "/tmp/abs", "a\x00b",
                     [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
                     list(range(300)), {"unknown": 1}, 2**63, -(2**63) - 1, "1e3", " 5 "]
"""Values a structure-level mutation puts in place of another."""


def mutate(text: str, rng: random.Random) -> str:
    """One mutant of ``text``: a structural replacement when it parses, else byte edits."""
    if rng.random() < 0.5:
        changed = _structural(text, rng)
        if changed is not None:
            return changed
    return _bytes(text, rng)


def _bytes(text: str, rng: random.Random) -> str:
    data = bytearray(text.encode("utf-8", "surrogatepass"))
    for _ in range(rng.randint(1, 4)):
        if not data:
            data += rng.choice(TOKENS).encode("utf-8", "surrogatepass")
            continue
        at = rng.randrange(len(data))
        move = rng.randrange(5)
        if move == 0:
            data[at] = rng.randrange(256)
        elif move == 1:
            del data[at:at + rng.randint(1, 20)]
        elif move == 2:
            data[at:at] = data[at:at + rng.randint(1, 40)] * rng.randint(1, 3)
        elif move == 3:
            data[at:at] = rng.choice(TOKENS).encode("utf-8", "surrogatepass")
        else:
            del data[at:]
    return data.decode("utf-8", "replace") if rng.random() < 0.8 else data.decode("latin-1")


def _structural(text: str, rng: random.Random) -> str | None:
    dump: Callable[[Any], str]
    try:
        value = json.loads(text)
        dump = json.dumps
    except ValueError:
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            return None
        if not docs or not all(isinstance(d, dict | list) for d in docs):
            return None
        value = docs
        dump = _yaml_dump
    nodes = list(_walk(value))
    if not nodes:
        return None
    parent, key = rng.choice(nodes)
    parent[key] = rng.choice(VALUES)
    try:
        return str(dump(value))
    except (ValueError, yaml.YAMLError):
        return None


def _yaml_dump(value: Any) -> str:
    return str(yaml.safe_dump_all(value, sort_keys=False))


def _walk(value: Any) -> Any:
    """(container, key) for every member of every container in ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(
            item, list) else ()
        for key, child in list(pairs):
            yield item, key
            if isinstance(child, dict | list):
                stack.append(child)

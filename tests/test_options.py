"""Declared options: checks that name the field, defaults, listings and the JSON schema."""

from __future__ import annotations

import pytest

from optsched import InputError
from optsched.backends import cpsat_options
from optsched.options import Option, OptionSet
from optsched.registry import solvers

SET = OptionSet((
    Option("kicks", int, 300, "kicks of the search", low=1),
    Option("share", float, 0.5, "a share", low=0, high=1),
    Option("order", str, "priority", "queue order", ("priority", "arrival")),
    Option("ties", bool, False, "random ties"),
    Option("subsolvers", list, [], "portfolio", ("core", "lns")),
), reserved={"threads": "--workers"})


@pytest.mark.parametrize(("given", "field", "words"), [
    ({"kick": 1}, "options.kick", "is not an option of x/y (valid: kicks, share, order"),
    ({"kicks": 0}, "options.kicks", "must be an integer >= 1, got 0"),
    ({"kicks": 2.0}, "options.kicks", "must be an integer, got a float 2.0"),
    ({"kicks": True}, "options.kicks", "must be an integer, got a boolean True"),
    ({"share": 1.5}, "options.share", "must be a number in [0, 1], got 1.5"),
    ({"share": float("nan")}, "options.share", "must be a finite number"),
    ({"order": "fifo"}, "options.order", "must be one of priority, arrival, got a string 'fifo'"),
    ({"ties": 1}, "options.ties", "must be true or false, got an integer 1"),
    ({"subsolvers": ["core", "nope"]}, "options.subsolvers", "must be one of core, lns"),
    ({"subsolvers": "core"}, "options.subsolvers", "must be a list of strings"),
    ({"threads": 2}, "options.threads", "is set by optsched for x/y: use --workers"),
])
def test_bad_values_name_the_field(given: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        SET.check(given, "options", "x/y")
    assert caught.value.field == field and words in caught.value.problem


def test_good_values_and_defaults() -> None:
    """An int given for a float becomes a float; resolve fills in the defaults."""
    checked = SET.check({"share": 1, "subsolvers": ["lns"]}, "options", "x/y")
    assert checked == {"share": 1.0, "subsolvers": ["lns"]}
    assert isinstance(checked["share"], float)
    assert SET.resolve(checked) == {"kicks": 300, "share": 1.0, "order": "priority",
                                    "ties": False, "subsolvers": ["lns"]}


def test_a_long_list_names_the_closest_options() -> None:
    """CP-SAT declares hundreds: a typo is answered with the nearest names."""
    with pytest.raises(InputError, match="closest: linearization_level"):
        cpsat_options.options().check({"linearisation_level": 2}, "options", "smtt/cpsat")


def test_cpsat_declares_its_proto() -> None:
    """Types, defaults and enum names come from SatParameters; values are checked."""
    declared = cpsat_options.options()
    level = declared.get("linearization_level")
    order = declared.get("preferred_variable_order")
    assert level is not None and level.type is int and level.default == 1
    assert order is not None and order.default == "IN_ORDER" and "IN_RANDOM_ORDER" in order.choices
    assert declared.get("num_workers") is None and "num_workers" in declared.reserved
    with pytest.raises(InputError, match=r"must be an integer in \[-2147483648, 2147483647\]"):
        declared.check({"linearization_level": 2**40}, "options", "smtt/cpsat")


def test_schema_is_what_the_service_publishes() -> None:
    """smtt-bb's options as JSON schema: no other key, each with type, default and range."""
    schema = solvers("smtt")["smtt-bb"].options().schema()
    assert schema["additionalProperties"] is False
    assert schema["properties"]["memo_mb"] == {
        "type": "integer", "description": solvers("smtt")["smtt-bb"].options().options[0].help,
        "default": 2048, "minimum": 1}
    assert schema["properties"]["prune"]["enum"] == [0, 1]
    model = solvers("pods")["cpsat"].model_options.schema()
    assert model["properties"]["symmetry"]["enum"] == ["fix", "load", "none"]

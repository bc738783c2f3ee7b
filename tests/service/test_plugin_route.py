"""``POST /pods/plugin``: the scheduler plugin's contract through a real server."""

from __future__ import annotations

import copy
from typing import Any

from ..problems.pods.plugin.test_answer import CONTRACT, check
from .test_server import Server, server  # noqa: F401 - the fixture


def test_the_contract_through_the_service(server: Server) -> None:  # noqa: F811
    """The contract's example: both pending pods placed, checked as the script's answer
    is; the solve was a stored job (one pods job done)."""
    status, out, _ = server.call("POST", "/pods/plugin", CONTRACT)
    assert status == 200, out
    check(CONTRACT, out)
    assert out["status"] == "OPTIMAL" and {m["uid"] for m in out["placements"]} == {"u3", "u9"}
    _, page, _ = server.call("GET", "/jobs?family=pods")
    assert [(j["family"], j["status"]) for j in page["jobs"]] == [("pods", "done")]


def test_bad_input_is_the_plugins_status_and_nothing_is_stored(
        server: Server) -> None:  # noqa: F811
    """A pod without uid: MODEL_INVALID naming the field (HTTP 200: the plugin reads the
    status); no job is written."""
    bad: dict[str, Any] = copy.deepcopy(CONTRACT)
    bad["solver_input"]["pods"][0].pop("uid")
    status, out, _ = server.call("POST", "/pods/plugin", bad)
    assert status == 200 and out["status"] == "MODEL_INVALID"
    assert out["error"].startswith("solver_input.pods[0].uid:")
    _, page, _ = server.call("GET", "/jobs")
    assert page["jobs"] == []

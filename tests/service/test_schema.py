"""Property tests of the service's HTTP API against its own OpenAPI schema (schemathesis).

The schema is the app's own (``create_app(...).openapi()``, the document ``/openapi.json``
serves); the requests generated from it go to one real ``optsched serve`` on loopback.
Skipped without the ``service`` and ``service-test`` extras (fastapi, uvicorn,
schemathesis) unless CI requires the extras.
"""

from __future__ import annotations

import http.client
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optsched.io import instance_from_dict
from optsched.registry import solvers

from ..conftest import declined, extra
from .test_load import stderr_of
from .test_server import Server

extra("fastapi")
extra("uvicorn")
extra("schemathesis")

import schemathesis  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from optsched.service.app import Settings, create_app  # noqa: E402

# The app over an in-memory store, only for its schema: its runner is never started.
schema = schemathesis.openapi.from_dict(create_app(Settings(db=":memory:")).openapi())
EXAMPLES = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])
SMALL = {"name": "s", "processing_times": [3, 5, 2], "due_dates": [4, 6, 3]}


class Api:
    """The module's server, a job it has finished, and its stderr."""

    def __init__(self, server: Server, log: bytearray, job: str) -> None:
        self.server = server
        self.log = log
        self.job = job

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def stderr(self) -> str:
        return "server stderr (end):\n" + self.log.decode(errors="replace")[-6000:]

    def raw(self, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Status and whole body, whatever the body is (a 500's is plain text)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            connection.request(method, path, body, {"Content-Type": "application/json",
                                                    **(headers or {})})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the module: one worker, jobs of at most 5 s (what the fuzzer submits
    validly ends soon), with one finished job whose id the fuzzer's requests may use."""
    extra("fastapi")
    extra("uvicorn")
    s = Server(tmp_path_factory.mktemp("schema"), "--workers", "1", "--max-time-limit", "5")
    log = stderr_of(s)
    try:
        code, job, _ = s.call("POST", "/jobs", {"family": "smtt", "instance": SMALL,
                                                "time_limit": 1})
        assert code == 201, job
        s.wait(job["id"])
        yield Api(s, log, job["id"])
    finally:
        s.stop()


@schema.parametrize()
@schema.given(existing=st.booleans())
@settings(EXAMPLES)
def test_no_server_error(case: schemathesis.Case[Any], existing: bool, api: Api) -> None:
    """No request the schema allows (nor a negative one schemathesis derives from it) is
    answered with a 5xx: every operation, 30 examples each; the ``{job_id}`` of half of
    them is a job of the store (else nearly every one would be a 404). Before the fixes
    pinned below, random examples found ``GET /jobs/{id}/events`` with ``last-event-id:
    9223372036854775808`` (a stream cut short) or a ``filename`` with a NUL (a 500) in 4
    runs of 25."""
    if existing and case.path_parameters and "job_id" in case.path_parameters:
        case.path_parameters["job_id"] = api.job
    response = case.call(base_url=api.url, timeout=30)
    try:
        case.validate_response(response, checks=[not_a_server_error])
    except Exception:
        print(api.stderr())
        raise


@st.composite
def submissions(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A valid smtt submit (``docs/formats.md``) of 1 to 6 jobs, as its JSON object or as
    the text of an OR-Library ``wt<n>.txt``, any solver of the family; and the instance."""
    n = draw(st.integers(1, 6))
    as_text = draw(st.booleans())
    p = draw(st.lists(st.integers(1, 10**6), min_size=n, max_size=n))
    d = draw(st.lists(st.integers(0 if as_text else -10**6, 10**6), min_size=n, max_size=n))
    w = draw(st.none() | st.lists(st.integers(0, 100), min_size=n, max_size=n))
    if as_text:
        w = w if w is not None else [1] * n
        given_as: Any = "\n".join(" ".join(map(str, v)) for v in (p, w, d)) + "\n"
        extra_fields: dict[str, Any] = {"filename": f"wt{n}.txt"}
    else:
        given_as = {"name": "h", "processing_times": p, "due_dates": d, "weights": w}
        extra_fields = {}
    body = {"family": "smtt", "instance": given_as,
            "solver": draw(st.sampled_from(["auto", *sorted(solvers("smtt"))])),
            "time_limit": draw(st.floats(0.2, 2.0)), "workers": draw(st.integers(1, 4)),
            "seed": draw(st.integers(0, 2**31 - 1)), **extra_fields}
    return body, {"processing_times": p, "due_dates": d, "weights": w or [1] * n}


@given(submissions())
@EXAMPLES
def test_what_the_api_accepts_it_solves(api: Api,
                                        submit: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """A valid submit (any solver, time limit, workers, seed; JSON or OR-Library text) is
    201 and ends ``done`` with a verified result, never ``failed``: the objective is that of
    the returned order on the instance sent, the optimum (by enumeration) when the solver
    says optimal, and no better than it otherwise. Only a solver that declares it cannot
    take the instance (``supports``: smtt-bb on unequal weights) gets a one-line 422."""
    body, data = submit
    code, job, _ = api.server.call("POST", "/jobs", body)
    if declined(instance_from_dict({"family": "smtt", "format": 1, **data}), body["solver"]):
        assert code == 422 and "\n" not in job["error"], (body, job)
        return
    assert code == 201, (body, job)
    ended = api.server.wait(job["id"], within=30)
    assert ended["status"] == "done", (body, ended, api.stderr())
    result = ended["result"]
    assert result["verified"] is True, (body, ended)
    assert _cost(data, result["solution"]["sequence"]) == result["objective"], (body, ended)
    assert result["objective"] == ended["objective"], (body, ended)
    best = min(_cost(data, list(order))
               for order in itertools.permutations(range(len(data["due_dates"]))))
    assert result["objective"] >= best, (body, ended)
    if result["status"] == "optimal":
        assert result["objective"] == best, (body, ended)


def _cost(data: dict[str, Any], sequence: list[int]) -> int:
    """The weighted tardiness of the order ``sequence``."""
    total = clock = 0
    for j in sequence:
        clock += data["processing_times"][j]
        total += data["weights"][j] * max(0, clock - data["due_dates"][j])
    return total


@pytest.mark.parametrize(("fields", "why"), [
    ({"filename": "."}, "Path('.').name is '': the folder itself is written, IsADirectoryError"),
    ({"filename": ".."}, "Path('..').name is '..': IsADirectoryError"),
    ({"filename": "/"}, "Path('/').name is '': IsADirectoryError"),
    ({"filename": "wt3\u0000.txt"}, "ValueError: embedded null byte"),
    ({"filename": "\u00e9" * 200}, "200 characters, 400 bytes: OSError ENAMETOOLONG"),
    ({"instance": "3 5 2\n1 2 1\n4 6 \ud8003\n"}, "a lone surrogate: UnicodeEncodeError"),
])
def test_a_text_instance_the_schema_allows_is_not_a_500(api: Api, fields: dict[str, Any],
                                                        why: str) -> None:
    """Text instances with a ``filename`` that is no plain file name, or text that is no
    valid Unicode, are a 422 naming the field, not a 500 (they once crashed the write of
    the text to a temporary file)."""
    body = {"family": "smtt", "instance": "3 5 2\n1 2 1\n4 6 3\n", "filename": "wt3.txt",
            "time_limit": 1, **fields}
    code, answer = api.raw("POST", "/jobs", json.dumps(body).encode())
    assert code == 422, (why, code, answer, api.stderr())


def test_a_huge_last_event_id_is_not_a_server_error(api: Api) -> None:
    """``Last-Event-ID`` of 2^63 (beyond SQLite's 64-bit integers, which once cut the
    stream short after its 200) is a 422."""
    try:
        code, answer = api.raw("GET", f"/jobs/{api.job}/events",
                               headers={"Last-Event-ID": str(2**63)})
    except http.client.IncompleteRead as exc:
        raise AssertionError(f"the stream was cut: {exc!r}\n{api.stderr()}") from None
    assert code == 422 or (code == 200 and b"event: end" in answer), (code, answer)

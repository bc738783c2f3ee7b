"""A client of ``optsched serve``, on the standard library only (urllib and json).

>>> client = Client("http://127.0.0.1:8000")                      # doctest: +SKIP
>>> job = client.submit("instances/parplan/mixed-h100-a100-l40s.json")  # doctest: +SKIP
>>> client.wait(job["id"])["result"]["status"]                       # doctest: +SKIP
'optimal'

Every answer is the server's JSON: a job is :meth:`.Job.summary` (``id``,
``family``, ``solver``, ``status``, ``objective``, ``bound``, ``gap``,
``error``, ``result``, ...). Every refusal is a :class:`ServiceError`; bad
input (HTTP 422) a :class:`ServiceInputError`, which is also an
:class:`~optsched.errors.InputError`, so the command line reports it as one
line with exit status 2.

Requests that are safe to repeat (reads, cancels, and submits that carry an
idempotency key) are retried a bounded number of times when the server is
busy (503, honouring ``Retry-After``) or refuses the connection.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from optsched.errors import InputError, InstanceError, OptschedError
from optsched.family import Instance
from optsched.fields import excerpt, type_name
from optsched.io import claimed, instance_to_dict, load_json
from optsched.reading import STDIN, read_text
from optsched.registry import families, get_family
from optsched.service.store import FINAL

"""The job states a job does not leave."""

MAX_DELAY = 30.0
"""Longest pause between two attempts of one request, in seconds (``Retry-After`` included)."""


class ServiceError(OptschedError):
    """The service refused a request, or could not be reached.

    Parameters
    ----------
    status
        The HTTP status; 0 when no answer came (connection refused, timeout).
    error
        The server's one-line ``error`` (``"<field>: <problem>"`` for bad input).
    field
        The offending field as the server named it; ``""`` when it named none.
    retry_after
        Seconds the server asked to wait before trying again (503), or None.
    """

    def __init__(self, status: int, error: str, field: str = "",
                 retry_after: float | None = None) -> None:
        self.status = status
        self.error = error
        self.field = field
        self.retry_after = retry_after
        super().__init__(error if status in (0, 422) else f"{error} (HTTP {status})")


class ServiceInputError(InputError, ServiceError):
    """The server's 422: the request's input is bad; ``field`` names where.

    Parameters
    ----------
    status
        The HTTP status, 422.
    error
        The server's one line, ``"<field>: <problem>"``.
    field
        The offending field.
    """

    def __init__(self, status: int, error: str, field: str = "") -> None:
        prefix = f"{field}: "
        self.field = field
        self.problem = error[len(prefix):] if field and error.startswith(prefix) else error
        self.status = status
        self.error = f"{field}: {self.problem}" if field else self.problem
        self.retry_after = None
        Exception.__init__(self, self.error)  # InputError's and ServiceError's message

    def within(self, prefix: str) -> ServiceInputError:
        """Return the same error with ``prefix`` (a file) before the field."""
        field = f"{prefix}: {self.field}" if self.field else prefix
        return ServiceInputError(self.status, f"{field}: {self.problem}", field)


class Client:
    """Speaks to one ``optsched serve``.

    Parameters
    ----------
    url
        The server, e.g. ``http://127.0.0.1:8000``.
    token
        The bearer token the server was started with (``OPTSCHED_TOKEN``), if any.
    timeout
        Seconds to wait for each answer.
    retries
        Further attempts of a request that is safe to repeat, after a 503 or a
        refused connection.
    backoff
        Seconds before the first retry; each next one waits twice as long
        (a 503's ``Retry-After`` wins), at most :data:`MAX_DELAY`.

    Raises
    ------
    InputError
        ``url`` is not an http(s) URL.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 30,
                 *, retries: int = 3, backoff: float = 0.5) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError("url", f"must be an http(s) URL such as http://127.0.0.1:8000, "
                                    f"got {excerpt(url)}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff

    def submit(self, instance: Instance | Mapping[str, Any] | str | os.PathLike[str],
               family: str | None = None, solver: str = "auto", time_limit: float = 10.0,
               workers: int = 1, seed: int = 0, options: Mapping[str, Any] | None = None,
               model: Mapping[str, Any] | None = None, idempotency_key: str | None = None
               ) -> dict[str, Any]:
        """Queue a job.

        Parameters
        ----------
        instance
            An instance object, its JSON object, or a file: a ``.json`` file is
            sent as its object, any other file as its text with its file name,
            from which the server knows the format (``wt40.txt``, a pods YAML...).
        family
            The family; by default the instance's (needed only for a file that
            the formats of several families claim).
        solver, time_limit, workers, seed, options, model
            How to solve, as ``optsched solve`` takes them.
        idempotency_key
            Submitting again with the same key returns the first job instead of a
            new one; with a key, a busy or unreachable server is retried.

        Returns
        -------
        dict
            The job (``status`` ``queued`` for a new one).

        Raises
        ------
        InputError
            The file cannot be read, or the server found the input bad
            (:class:`ServiceInputError`, a file's name before the field).
        ServiceError
            Any other refusal.
        """
        path = Path(instance) if isinstance(instance, (str, os.PathLike)) else None
        body: dict[str, Any] = {"solver": solver, "time_limit": time_limit, "workers": workers,
                                "seed": seed, "options": dict(options or {}),
                                "model": dict(model or {})}
        body.update(_instance_body(instance, family))
        headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        try:
            job: dict[str, Any] = self._json("POST", "/jobs", body, headers,
                                             retry=idempotency_key is not None)
        except ServiceInputError as exc:
            if path is None:
                raise
            if exc.field.startswith(path.name) and body.get("filename") == path.name:
                field = str(path) + exc.field[len(path.name):]  # the server saw only the name
                raise ServiceInputError(exc.status, f"{field}: {exc.problem}", field) from None
            raise exc.within(str(path)) from None
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        """The job ``job_id``, its ``result`` once it is done (404 :class:`ServiceError`: none)."""
        job: dict[str, Any] = self._json("GET", f"/jobs/{_quote(job_id)}")
        return job

    def jobs(self, status: str | None = None, family: str | None = None, limit: int = 50,
             after: str | None = None) -> dict[str, Any]:
        """One page of jobs, oldest first.

        Parameters
        ----------
        status, family
            Keep only the jobs in this state, of this family.
        limit
            Jobs per page (1 to 500).
        after
            The ``next`` of the previous page.

        Returns
        -------
        dict
            ``{"jobs": [...], "next": <id or None>}``; ``next`` is None on the last page.
        """
        query = {k: v for k, v in (("status", status), ("family", family), ("limit", limit),
                                   ("after", after)) if v is not None}
        page: dict[str, Any] = self._json("GET", f"/jobs?{urllib.parse.urlencode(query)}")
        return page

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Ask for the job's end; returns the job as it stands.

        A queued job is cancelled at once; a running one stops soon after and
        keeps the best solution it had.
        """
        job: dict[str, Any] = self._json("POST", f"/jobs/{_quote(job_id)}/cancel", retry=True)
        return job

    def stream(self, job_id: str, last_event_id: int = 0) -> Iterator[dict[str, Any]]:
        """The job's events as they happen, until it has ended.

        Parameters
        ----------
        job_id
            The job.
        last_event_id
            Start after this event (0: from the first).

        Yields
        ------
        dict
            ``{"event": kind, "id": seq, "data": ...}``: ``status`` and ``incumbent``
            events (``data`` holds ``seq``, ``at``, ``kind``, ``objective``, ``bound``,
            ``detail``), then ``end`` whose ``data`` is the final job (``id`` None).
            A dropped or idle connection is resumed after the last event seen.
        """
        last, failures = last_event_id, 0
        while True:
            response = self._open("GET", f"/jobs/{_quote(job_id)}/events",
                                  headers={"Accept": "text/event-stream",
                                           "Last-Event-ID": str(last)}, retry=True)
            progressed = False
            try:
                with response:
                    for event in _events(response):
                        progressed = True
                        if isinstance(event["id"], int):
                            last = event["id"]
                        yield event
                        if event["event"] == "end":
                            return
            except TimeoutError:
                continue  # a quiet job: ask again from the last event
            except (OSError, http.client.HTTPException):
                pass  # dropped: resume after the last event
            failures = 0 if progressed else failures + 1
            if failures > self.retries:
                raise ServiceError(0, f"{self.url}: the event stream of job {job_id} closed "
                                      "before the job ended")
            time.sleep(min(self.backoff * 2 ** max(failures - 1, 0), MAX_DELAY))

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.2
             ) -> dict[str, Any]:
        """The job once it is ``done``, ``failed`` or ``cancelled``.

        Parameters
        ----------
        job_id
            The job.
        timeout
            Seconds to wait at most; None: as long as it takes.
        poll
            Seconds between two looks.

        Raises
        ------
        TimeoutError
            The job had not ended within ``timeout``.
        """
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job["status"] in FINAL:
                return job
            if until is not None and time.monotonic() >= until:
                raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout:g} s")
            pause = poll if until is None else max(0.0, min(poll, until - time.monotonic()))
            time.sleep(pause)

    def families(self) -> dict[str, Any]:
        """The server's families: ``{name: {"summary": ..., "solvers": [...]}}``."""
        found: dict[str, Any] = self._json("GET", "/families")
        return found

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "workers", "running", "queued"}``; needs no token."""
        found: dict[str, Any] = self._json("GET", "/health")
        return found

    def _json(self, method: str, path: str, body: Any = None,
              headers: Mapping[str, str] | None = None, retry: bool | None = None) -> Any:
        with self._open(method, path, body, headers, retry) as response:
            try:
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise ServiceError(0, f"{self.url}: the answer broke off: {exc}") from exc
        return json.loads(raw or b"null")

    def _open(self, method: str, path: str, body: Any = None,
              headers: Mapping[str, str] | None = None, retry: bool | None = None) -> IO[bytes]:
        """The answer of a 2xx, retried on 503 or a refused connection when ``retry``."""
        retry = method == "GET" if retry is None else retry
        attempt = 0
        while True:
            try:
                return self._once(method, path, body, headers)
            except ServiceError as exc:
                refused = isinstance(exc.__cause__, ConnectionRefusedError)
                if not retry or attempt >= self.retries or not (exc.status == 503 or refused):
                    raise
                delay = exc.retry_after if exc.retry_after is not None else \
                    self.backoff * 2 ** attempt
                time.sleep(min(max(delay, 0.0), MAX_DELAY))
                attempt += 1

    def _once(self, method: str, path: str, body: Any,
              headers: Mapping[str, str] | None) -> IO[bytes]:
        sent = {"Accept": "application/json", "User-Agent": "optsched-client", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            sent["Content-Type"] = "application/json"
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=sent)
        try:
            response: IO[bytes] = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            with exc:
                raise _refusal(exc.code, exc.read(), exc.headers.get("Retry-After")) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            cause = reason if isinstance(reason, OSError) else None
            what = "connection refused" if isinstance(reason, ConnectionRefusedError) else \
                f"no answer within {self.timeout:g} s" if isinstance(reason, TimeoutError) else \
                str(getattr(reason, "strerror", None) or reason)
            raise ServiceError(0, f"cannot reach {self.url}: {what}") from cause
        except TimeoutError as exc:
            raise ServiceError(0, f"cannot reach {self.url}: no answer within "
                                  f"{self.timeout:g} s") from exc
        except ConnectionError as exc:
            raise ServiceError(0, f"cannot reach {self.url}: {exc.strerror or exc}") from exc
        return response


def _quote(job_id: str) -> str:
    return urllib.parse.quote(job_id, safe="")


def _refusal(status: int, raw: bytes, retry_after: str | None) -> ServiceError:
    """The :class:`ServiceError` of a non-2xx answer."""
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        error, field = answer["error"], answer.get("field")
    else:  # not the app's answer (a proxy's page, say)
        text = " ".join(raw.decode("utf-8", "replace").split())
        error, field = excerpt(text) if text else f"HTTP {status}", None
    field = field if isinstance(field, str) else ""
    if status == 422:
        return ServiceInputError(status, error, field)
    try:
        after = float(retry_after) if retry_after is not None else None
    except ValueError:
        after = None
    return ServiceError(status, error, field, after)


def _instance_body(instance: Instance | Mapping[str, Any] | str | os.PathLike[str],
                   family: str | None) -> dict[str, Any]:
    """``family`` and ``instance`` (and ``filename`` for a text) of the submit body."""
    if family is not None:
        get_family(family)
    if isinstance(instance, Mapping):
        obj = dict(instance)
        return {"family": _family(obj, family, "instance"), "instance": obj}
    if not isinstance(instance, (str, os.PathLike)):
        obj = instance_to_dict(instance)
        return {"family": _family(obj, family, "instance"), "instance": obj}
    path = Path(instance)
    claim = claimed(path, family)
    if claim is not None:
        return {"family": claim[0].name, "instance": read_text(path, InstanceError),
                "filename": path.name}
    loaded = load_json(path, InstanceError)
    if not isinstance(loaded, dict):
        raise InstanceError(str(path), f"an instance must be a JSON object, got "
                                       f"{type_name(loaded)}")
    if not loaded.get("name"):
        loaded["name"] = "stdin" if str(path) == STDIN else path.stem
    return {"family": _family(loaded, family, str(path)), "instance": loaded}


def _family(obj: Mapping[str, Any], family: str | None, where: str) -> str:
    """The family of an instance object: ``family`` when given (it must agree), else its own."""
    own = obj.get("family")
    if family is not None:
        if own is not None and own != family:
            raise InstanceError(f"{where}: family", f"is {excerpt(own)}, but the {family} "
                                                    "family was asked for")
        return family
    if not isinstance(own, str):
        raise InstanceError(f"{where}: family", f"is missing (one of {', '.join(families())})"
                            if own is None else f"must be a family name, got {excerpt(own)}")
    return own


def _events(response: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Parse a server-sent event stream: ``{"event", "id", "data"}`` per dispatched event."""
    kind, ident = "message", None
    data: list[str] = []
    for raw in response:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                text = "\n".join(data)
                try:
                    parsed: Any = json.loads(text)
                except ValueError:
                    parsed = text
                yield {"event": kind, "id": ident, "data": parsed}
            kind, ident, data = "message", None, []
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            ident = int(value) if value.isdigit() else value or None

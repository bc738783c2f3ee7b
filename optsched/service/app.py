"""The HTTP API of ``optsched serve``: FastAPI over a :class:`.JobStore` and a :class:`.Runner`.

Endpoints: ``POST /jobs`` (``Idempotency-Key`` honoured), ``GET /jobs/{id}``,
``GET /jobs`` (filters, pages), ``POST /jobs/{id}/cancel``, ``GET
/jobs/{id}/events`` (server-sent events), ``GET /families``, ``GET /health``.
Bad input is a 422 whose ``error`` is the command line's one-line message
and ``field`` its path; a body over the size limit a 413; a full queue a 503
with ``Retry-After``; an unknown job a 404. With a token set, every endpoint
but ``/health`` needs ``Authorization: Bearer <token>``.
"""


import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, create_model

from optsched.cli.options import one_line
from optsched.errors import InputError
from optsched.params import MAX_SEED, MAX_TIME_LIMIT
from optsched.registry import families, solvers
from optsched.service.checks import check
from optsched.service.plugin_route import add_route
from optsched.service.runner import Runner, make_executor
from optsched.service.store import FINAL, STATES, JobStore, QueueFullError


@dataclass(frozen=True)
class Settings:
    """What ``optsched serve`` was started with."""

    db: str
    workers: int = 1
    token: str | None = None
    queue: int = 1000
    max_bytes: int = 16 << 20
    max_time_limit: float = 3600.0
    executor: str = "local"
    """Where jobs run: ``local`` (child processes here) or ``ray`` (tasks on a Ray cluster)."""
    ray_address: str | None = None
    """The Ray cluster of ``executor="ray"`` (None: a local Ray with ``workers`` CPUs)."""


class JobOptions(BaseModel):
    """How to run a job (the fields of every family's request)."""

    solver: str = Field("auto", description="a solver of the family, or auto")
    time_limit: float | None = Field(None, gt=0, le=MAX_TIME_LIMIT, description="seconds, "
                                     "whole call (default: 10, or the server's largest)")
    workers: int = Field(1, ge=1, le=1024, description="threads (at most the server's)")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    options: dict[str, Any] = Field(default_factory=dict, description="the solver's options")
    model: dict[str, Any] = Field(default_factory=dict, description="formulation and "
                                                                    "instance settings (-m)")
    filename: str | None = Field(None, max_length=255, description="for an instance given as "
                                 "text: the file name whose suffix names its format")


def _request_model(name: str) -> type[BaseModel]:
    """The submit body of one family: its name, its solvers, the instance."""
    names = tuple(["auto", *solvers(name)])
    fields: dict[str, Any] = {
        "family": (Literal[name], ...),
        "solver": (Literal[names], Field("auto")),
        "instance": (dict[str, Any] | str, Field(..., description=f"a {name} instance: its "
                                                 "JSON object, or the text of a file the CLI "
                                                 "reads"))}
    model: type[BaseModel] = create_model(f"Submit_{name}", __base__=JobOptions, **fields)
    return model


def create_app(settings: Settings, runner: Runner | None = None) -> FastAPI:
    """The app; ``runner`` (default: one over ``settings.db``) starts with it."""
    store = runner.store if runner is not None else JobStore(settings.db)
    runner = runner if runner is not None else Runner(
        store, settings.workers, executor=make_executor(settings.executor, settings.ray_address))
    models = [_request_model(n) for n in families()]
    union = Annotated[models[0] if len(models) == 1 else  # type: ignore[valid-type]
                      _union(models), Field(discriminator="family")]

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        yield
        runner.close()

    app = FastAPI(title="optsched", version="1", lifespan=lifespan)  # type: ignore[arg-type]

    def auth(authorization: Annotated[str | None, Header()] = None) -> None:
        if settings.token is not None and authorization != f"Bearer {settings.token}":
            raise HTTPException(401, detail={"error": "a bearer token is required"},
                                headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        return _error(422, _field(first["loc"]), str(first["msg"]))

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, dict) else {"error": str(exc.detail)}
        return JSONResponse(detail, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(SizeLimit, max_bytes=settings.max_bytes)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "workers": settings.workers, "running": store.count("running"),
                "queued": store.count("queued")}

    @app.get("/families", dependencies=[Depends(auth)])
    def list_families() -> dict[str, Any]:
        return {n: {"summary": f.summary, "solvers": sorted(solvers(n))}
                for n, f in families().items()}

    @app.post("/jobs", status_code=201, dependencies=[Depends(auth)])
    def submit(body: Annotated[union, Body()],  # type: ignore[valid-type]
               idempotency_key: Annotated[str | None, Header(max_length=200)] = None
               ) -> JSONResponse:
        if idempotency_key is not None and (found := store.by_key(idempotency_key)):
            return JSONResponse(found.summary(), status_code=200)
        full = HTTPException(503, detail={"error": "the queue is full"},
                             headers={"Retry-After": "5"})
        if store.count("queued") >= settings.queue:
            raise full
        try:
            family, instance, params = _checked(body, settings, runner.capacity)
        except InputError as exc:
            return _error(422, exc.field, exc.problem)
        try:
            job, created = store.submit(family, body.solver,  # type: ignore[attr-defined]
                                        instance, params, idempotency_key, settings.queue)
        except QueueFullError:
            raise full from None
        runner.wake()
        return JSONResponse(job.summary(), status_code=201 if created else 200)

    @app.get("/jobs/{job_id}", dependencies=[Depends(auth)])
    def get_job(job_id: str) -> dict[str, Any]:
        job = store.get(job_id)
        if job is None:
            raise HTTPException(404, detail={"error": f"no job {job_id}"})
        return job.summary()

    @app.get("/jobs", dependencies=[Depends(auth)])
    def list_jobs(status: Annotated[Literal[STATES] | None, Query()] = None,  # type: ignore[valid-type]
                  family: Annotated[str | None, Query(max_length=64)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  after: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
        jobs = store.jobs(status, family, limit, after)
        return {"jobs": [j.summary() for j in jobs],
                "next": jobs[-1].id if len(jobs) == limit else None}

    @app.post("/jobs/{job_id}/cancel", status_code=202, dependencies=[Depends(auth)])
    def cancel(job_id: str) -> dict[str, Any]:
        job = store.cancel(job_id)
        if job is None:
            raise HTTPException(404, detail={"error": f"no job {job_id}"})
        runner.wake()
        return job.summary()

    @app.get("/jobs/{job_id}/events", dependencies=[Depends(auth)])
    def events(job_id: str, last_event_id: Annotated[int, Header(ge=0, le=2**62)] = 0
               ) -> StreamingResponse:
        if store.get(job_id) is None:
            raise HTTPException(404, detail={"error": f"no job {job_id}"})
        return StreamingResponse(_stream(store, job_id, last_event_id),
                                 media_type="text/event-stream")

    add_route(app, runner, settings.queue, auth)
    return app


class SizeLimit:
    """Refuse a request body over ``max_bytes`` with 413, declared or streamed (chunked)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on, counting its body; answer 413 once it is over the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen, over, started = 0, False, False

        async def counted() -> Any:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # the app sees a client gone, and reads no more
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Any) -> None:
            nonlocal started
            if over:
                return  # the app's answer to a body it could not read: 413 instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"error": f"the body is larger than {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _field(loc: Any) -> str:
    """A validation error's path without FastAPI's ``body`` and the family's tag."""
    parts = [str(p) for p in loc if p != "body"]
    if parts and parts[0] in families() and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "family"


def _error(status: int, field: str, problem: str) -> JSONResponse:
    """``{"error": "<field>: <problem>", "field": ...}``: the command line's one line."""
    return JSONResponse({"error": one_line(f"{field}: {problem}" if field else problem),
                         "field": field}, status_code=status)


def _union(models: list[type[BaseModel]]) -> Any:
    from typing import Union

    return Union[tuple(models)]  # noqa: UP007 - built from a list


def _checked(body: JobOptions, settings: Settings, workers: int
             ) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The family, the instance's canonical JSON and the run's parameters, all checked.

    A job's workers are capped at ``workers``, what the runner offers.
    """
    return check(body.family, body.instance, body.filename,  # type: ignore[attr-defined]
                 body.solver, body.time_limit, body.workers, body.seed, body.options,
                 body.model, workers, settings.max_time_limit)


async def _stream(store: JobStore, job_id: str, after: int) -> AsyncIterator[str]:
    """The job's events as server-sent events until it has ended."""
    while True:
        for event in store.events(job_id, after):
            after = event["seq"]
            yield f"id: {after}\nevent: {event['kind']}\ndata: {json.dumps(event)}\n\n"
        job = store.get(job_id)
        if job is None or job.status in FINAL:
            if job is not None:
                yield f"event: end\ndata: {json.dumps(job.summary())}\n\n"
            return
        await asyncio.sleep(0.2)

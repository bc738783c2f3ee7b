"""``optsched serve``: the HTTP solver service (needs the ``service`` extra)."""

from __future__ import annotations

import ipaddress
import os

import click

from optsched.errors import InputError

TOKEN_ENV = "OPTSCHED_TOKEN"


def loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--db", default="optsched-jobs.db", show_default=True,
              help="The SQLite job store (created if missing; WAL mode).")
@click.option("--workers", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Threads all running jobs may use together.")
@click.option("--queue", type=click.IntRange(1, 10**6), default=1000, show_default=True,
              help="Most queued jobs; beyond, submits get 503 with Retry-After.")
@click.option("--max-time-limit", type=click.FloatRange(min=0.001), default=3600.0,
              show_default=True, help="Largest time limit a job may ask for (s).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Where jobs run: child processes here, or Ray tasks "
              "(needs the ray extra).")
@click.option("--ray-address", default=None, help="The Ray cluster of --executor ray "
              "(default: start a local Ray with --workers CPUs).")
def serve(host: str, port: int, db: str, workers: int, queue: int,
          max_time_limit: float, executor: str, ray_address: str | None) -> None:
    """Run the solver service (FastAPI under uvicorn).

    A bearer token (environment variable OPTSCHED_TOKEN) is required whenever
    the host is not loopback, and then by every request but /health. With
    --executor ray, jobs run at most --workers CPUs at once, and at most the
    cluster's CPUs.
    """
    token = os.environ.get(TOKEN_ENV) or None
    if token is None and not loopback(host):
        raise InputError("--host", f"{host} is not loopback: set {TOKEN_ENV} to a bearer token")
    if ray_address is not None and executor != "ray":
        raise InputError("--ray-address", "needs --executor ray")
    try:
        import uvicorn

        from optsched.service.app import Settings, create_app
    except ImportError as exc:
        raise InputError("serve", f"needs the service extra (pip install -e \".[service]\"): "
                                  f"{exc}") from None
    settings = Settings(db=db, workers=workers, token=token, queue=queue,
                        max_time_limit=max_time_limit, executor=executor,
                        ray_address=ray_address)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")

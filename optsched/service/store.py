"""The service's job store: SQLite in WAL mode, every write committed before it is answered.

One table of jobs and one of their events (incumbents, bounds, status
changes) in the order they came. A job moves ``queued`` -> ``running`` ->
``done`` | ``failed`` | ``cancelled``; :meth:`JobStore.recover` puts jobs a
crash left ``running`` back in the queue with their last incumbent as the
hint, or fails them after ``max_attempts``. Each method opens its own
short transaction, so the store can be shared by the server's threads
(``check_same_thread=False`` with a lock) and survives ``kill -9`` at any
point: SQLite's WAL journal keeps what was committed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    family TEXT NOT NULL,
    solver TEXT NOT NULL,
    instance TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    objective REAL,
    bound REAL,
    result TEXT,
    error TEXT,
    hint TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
CREATE TABLE IF NOT EXISTS events (
    job TEXT NOT NULL REFERENCES jobs (id),
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    objective REAL,
    bound REAL,
    detail TEXT,
    PRIMARY KEY (job, seq)
);
"""


class QueueFullError(Exception):
    """The queue holds its most jobs: come back later."""


@dataclass(frozen=True)
class Job:
    """One job as stored: what was asked, where it stands, and its verified result."""

    id: str
    family: str
    solver: str
    instance: dict[str, Any]
    params: dict[str, Any]
    status: str
    attempts: int
    cancel: bool
    created: float
    started: float | None
    finished: float | None
    objective: float | None
    bound: float | None
    result: dict[str, Any] | None
    error: str | None
    hint: dict[str, Any] | None
    idempotency_key: str | None

    def summary(self) -> dict[str, Any]:
        """What a client sees of the job (the result only when it is done)."""
        out = {k: getattr(self, k) for k in ("id", "family", "solver", "status", "attempts",
                                             "created", "started", "finished", "objective",
                                             "bound", "error")}
        out["gap"] = _gap(self.objective, self.bound)
        out["result"] = self.result
        return out


def _gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return abs(objective - bound) / max(abs(objective), 1.0)


class JobStore:
    """Jobs and their events in one SQLite file (``:memory:`` for tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(_SCHEMA)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction, committed before the caller goes on."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the file (committed work is already on disk)."""
        with self._lock:
            self._db.close()

    def submit(self, family: str, solver: str, instance: Mapping[str, Any],
               params: Mapping[str, Any], idempotency_key: str | None = None,
               max_queued: int | None = None) -> tuple[Job, bool]:
        """Queue a job; with a key already used, the job of that key and False.

        Raises :class:`QueueFullError` (nothing written) when ``max_queued`` jobs wait.
        """
        with self._write() as db:
            if idempotency_key is not None:
                row = db.execute("SELECT * FROM jobs WHERE idempotency_key = ?",
                                 (idempotency_key,)).fetchone()
                if row is not None:
                    return _job(row), False
            waiting = db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued'"
                                 ).fetchone()[0]
            if max_queued is not None and waiting >= max_queued:
                raise QueueFullError(max_queued)
            job_id = uuid.uuid4().hex
            db.execute("INSERT INTO jobs (id, idempotency_key, family, solver, instance, params,"
                       " status, created) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
                       (job_id, idempotency_key, family, solver, json.dumps(instance),
                        json.dumps(params), time.time()))
            self._event(db, job_id, "status", detail="queued")
        return self.get(job_id), True  # type: ignore[return-value]

    def by_key(self, key: str) -> Job | None:
        """The job submitted with idempotency key ``key``, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE idempotency_key = ?",
                                   (key,)).fetchone()
        return None if row is None else _job(row)

    def get(self, job_id: str) -> Job | None:
        """The job, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def jobs(self, status: str | None = None, family: str | None = None, limit: int = 50,
             after: str | None = None) -> list[Job]:
        """Jobs oldest first, filtered; ``after`` is the last id of the previous page."""
        where, args = [], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if family is not None:
            where.append("family = ?")
            args.append(family)
        if after is not None:
            where.append("(created, id) > (SELECT created, id FROM jobs WHERE id = ?)")
            args.append(after)
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created, id LIMIT ?",
                                    (*args, limit)).fetchall()
        return [_job(r) for r in rows]

    def count(self, status: str) -> int:
        """How many jobs are in ``status``."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM jobs WHERE status = ?",
                                   (status,)).fetchone()
        return int(row[0])

    def claim(self, max_workers: int | None = None) -> Job | None:
        """The oldest queued job, now ``running`` (its attempt counted), or None.

        None too when that job asks for more than ``max_workers`` (jobs start in
        order: a later, smaller one does not overtake it).
        """
        with self._write() as db:
            row = db.execute("SELECT id, params FROM jobs WHERE status = 'queued' ORDER BY "
                             "created, id LIMIT 1").fetchone()
            if row is None:
                return None
            wanted = int(json.loads(row["params"]).get("workers", 1))
            if max_workers is not None and wanted > max_workers:
                return None
            db.execute("UPDATE jobs SET status = 'running', started = ?, attempts = attempts + 1"
                       " WHERE id = ?", (time.time(), row["id"]))
            self._event(db, row["id"], "status", detail="running")
        return self.get(row["id"])

    def incumbent(self, job_id: str, objective: float | None, bound: float | None,
                  solution: Any = None, by: str | None = None) -> None:
        """Record an incumbent (and keep it as the hint of a re-run after a crash).

        ``by`` names who found it (``hint`` or the solver), whose claim ``bound`` is; it
        is the event's ``detail``.
        """
        with self._write() as db:
            db.execute("UPDATE jobs SET objective = COALESCE(?, objective), "
                       "bound = COALESCE(?, bound), hint = COALESCE(?, hint) WHERE id = ?",
                       (objective, bound, None if solution is None else json.dumps(solution),
                        job_id))
            self._event(db, job_id, "incumbent", objective, bound, by)

    def finish(self, job_id: str, status: str, result: Mapping[str, Any] | None = None,
               error: str | None = None) -> None:
        """End a job with its verified result or the reason it failed."""
        assert status in FINAL
        objective = None if result is None else result.get("objective")
        bound = None if result is None else result.get("bound")
        with self._write() as db:
            db.execute("UPDATE jobs SET status = ?, finished = ?, result = ?, error = ?, "
                       "objective = COALESCE(?, objective), bound = COALESCE(?, bound) "
                       "WHERE id = ?",
                       (status, time.time(), None if result is None else json.dumps(result),
                        error, objective, bound, job_id))
            self._event(db, job_id, "status", objective, bound, status)

    def cancel(self, job_id: str) -> Job | None:
        """Ask for a job's end: a queued one is cancelled at once, a running one flagged."""
        with self._write() as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if row["status"] == "queued":
                db.execute("UPDATE jobs SET status = 'cancelled', finished = ?, cancel = 1 "
                           "WHERE id = ?", (time.time(), job_id))
                self._event(db, job_id, "status", detail="cancelled")
            elif row["status"] == "running":
                db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (job_id,))
        return self.get(job_id)

    def events(self, job_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The job's events with ``seq > after``, in order."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM events WHERE job = ? AND seq > ? ORDER BY "
                                    "seq", (job_id, after)).fetchall()
        return [{k: r[k] for k in ("seq", "at", "kind", "objective", "bound", "detail")}
                for r in rows]

    def recover(self, max_attempts: int) -> tuple[int, int]:
        """Put back the jobs a crash left ``running``; returns (re-queued, failed).

        A job is queued again with its last incumbent as the hint, failed once it
        has been started ``max_attempts`` times, cancelled if that was asked.
        """
        requeued = failed = 0
        with self._write() as db:
            rows = db.execute("SELECT id, attempts, cancel FROM jobs WHERE status = 'running'"
                              ).fetchall()
            for row in rows:
                if row["cancel"]:
                    db.execute("UPDATE jobs SET status = 'cancelled', finished = ? WHERE id = ?",
                               (time.time(), row["id"]))
                    self._event(db, row["id"], "status", detail="cancelled")
                elif row["attempts"] >= max_attempts:
                    db.execute("UPDATE jobs SET status = 'failed', finished = ?, error = ? "
                               "WHERE id = ?", (time.time(), f"interrupted {row['attempts']} "
                                                f"time(s) by a server crash", row["id"]))
                    self._event(db, row["id"], "status", detail="failed")
                    failed += 1
                else:
                    db.execute("UPDATE jobs SET status = 'queued' WHERE id = ?", (row["id"],))
                    self._event(db, row["id"], "status", detail="queued again after a crash")
                    requeued += 1
        return requeued, failed

    @staticmethod
    def _event(db: sqlite3.Connection, job_id: str, kind: str, objective: float | None = None,
               bound: float | None = None, detail: str | None = None) -> None:
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job = ?",
                         (job_id,)).fetchone()[0]
        db.execute("INSERT INTO events (job, seq, at, kind, objective, bound, detail) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?)", (job_id, seq, time.time(), kind, objective, bound,
                                             detail))


def _job(row: sqlite3.Row) -> Job:
    def load(key: str) -> Any:
        return None if row[key] is None else json.loads(row[key])

    return Job(id=row["id"], family=row["family"], solver=row["solver"],
               instance=load("instance"), params=load("params"), status=row["status"],
               attempts=row["attempts"], cancel=bool(row["cancel"]), created=row["created"],
               started=row["started"], finished=row["finished"], objective=row["objective"],
               bound=row["bound"], result=load("result"), error=row["error"],
               hint=load("hint"), idempotency_key=row["idempotency_key"])

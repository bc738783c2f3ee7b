"""Suites: what they expand to, and one clear error for each kind of bad suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from optsched.bench.jobs import make_jobs
from optsched.bench.suite import load_suite
from optsched.errors import InputError

from .helpers import write_suite


def test_tiny_suite_expands_to_jobs(tmp_path: Path) -> None:
    """2 grid points x 2 instances x 2 solvers x 3 repetitions = 24 jobs."""
    suite = load_suite(write_suite(tmp_path, reps=3))
    jobs = make_jobs(suite)
    assert len(jobs) == 24 and len({j.key for j in jobs}) == 24
    assert {j.group for j in jobs} == {"n7-tf0.2-rdd0.4", "n7-tf0.6-rdd0.4"}
    assert sorted({j.seed for j in jobs}) == [0, 1, 2]


def test_files_from_the_data_directory(tmp_path: Path, data_dir: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('name = "orlib"\ntime_limit = 1\n[[instances]]\n'
                     'files = ["${data}/smtt/orlib/wt4*.txt"]\n[[solvers]]\nname = "edd"\n')
    loaded = load_suite(suite, data_dir)
    assert len(loaded.instances) == 125 and loaded.instances[0].group == "wt40"
    assert loaded.instances[0].instance.reference is not None


@pytest.mark.parametrize(("extra", "field"), [
    ("colour = 1\n", "colour"),
    ('[[instances]]\nfiles = ["${data}/nowhere/*.json"]\n', "matches no file"),
    ('[[instances]]\nfiles = ["missing.json"]\n', "instances[1].files[0]"),
    ('[[solvers]]\nname = "cpsatt"\n', "solvers[2]"),
    ('[[instances]]\ngenerator = "smtt"\nparams = {tf = 1.5}\n', "tf"),
    ('[[instances]]\ngenerator = "smtt"\nparams = {jobs = 5}\n', "params.jobs"),
    ('[[solvers]]\nname = "edd"\nlabel = "mddc"\n', "label"),
    ('[[solvers]]\nname = "ils"\noptions = {iterations = 0}\n',
     "solvers[2] on smtt-u7-tf0.2-rdd0.4-s0-0: options.iterations"),
    ('[[solvers]]\nname = "edd"\nlabel = "e2"\nmodel = {formulation = "x"}\n',
     "solvers[2] on smtt-u7-tf0.2-rdd0.4-s0-0: model.formulation"),
    ('[[instances]]\nfiles = ["suite.toml"]\nfamily = "nosuch"\n', "unknown family"),
    ("[[instances]\n", "TOML"),
])
def test_bad_suite_is_one_error(tmp_path: Path, extra: str, field: str) -> None:
    path = write_suite(tmp_path, extra=extra)
    with pytest.raises(InputError) as err:
        load_suite(path, tmp_path)
    assert field in str(err.value) and str(path) in str(err.value)


def test_time_limit_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="time_limit"):
        load_suite(write_suite(tmp_path, limit=-1))

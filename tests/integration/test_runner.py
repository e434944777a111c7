"""tests/run_c.sh, the runner of the C test programs: exit 77 is a skip, reported as
one, and neither a pass nor a failure; any other non-zero exit fails the run."""

import os

import mh

RUNNER = os.path.join(mh.REPO, "tests", "run_c.sh")


def test_skip_is_reported_and_not_a_pass():
    r = mh.run(["sh", RUNNER, "true", "exit 77", "true"])
    assert r.returncode == 0, r.stdout
    assert "-- skipped: exit 77" in r.stdout
    assert r.stdout.splitlines()[-1] == "C test programs: 2 passed, 0 failed, 1 skipped"


def test_failure_fails_the_run():
    r = mh.run(["sh", RUNNER, "exit 77", "exit 3", "true"])
    assert r.returncode != 0
    assert "-- FAILED (exit 3): exit 3" in r.stdout
    assert r.stdout.splitlines()[-1] == "C test programs: 1 passed, 1 failed, 1 skipped"

"""Schemathesis against the one OpenAPI description, through the gateway of the test stack.

Positive and negative cases from every phase (examples, coverage, fuzzing, stateful),
every check (schemathesis's, and ours in hooks.py: every accepted request is valid by the
description), bounded by the number of examples. Any failure (a 500, a response outside the
description, valid input refused, invalid input accepted) fails the test with
schemathesis's report and a command to replay it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from stack.config import StackConfig
from stack.openapi import DESCRIPTION_PATH

HERE = Path(__file__).resolve().parent


def test_schemathesis_finds_no_failure_through_the_gateway(tmp_path):
    config = StackConfig.for_tests()
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        str(DESCRIPTION_PATH),
        "--url",
        config.gateway_url,
        "--checks",
        "all",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        # Bounded by examples only, not also by time: with --max-time schemathesis keeps
        # generating until the clock runs out, so the cases run (and a floor on their
        # number) depended on the machine's speed, and a failure found on one machine might
        # not be generated on the next. With the seed, 120 examples per operation are the
        # same cases, about 2,200, on any machine (about 45 s here); the subprocess
        # timeout below only stops a hang, far above that.
        "--max-examples",
        "120",
        # One worker: two threads building AST objects at once (hypothesis) hit a CPython
        # 3.11 bug, "SystemError: AST constructor recursion depth mismatch", which failed
        # this test twice on clean runs.
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--seed",
        "20261128",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "hooks.py")}
    # Under pytest-timeout's 300 s, so a hang ends here, with the command in the error.
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts, result.stdout[-3000:]
    generated, passed = map(int, counts.groups())
    # Not a second bound: a check that the description still yields cases to send (an
    # operation lost, a phase that stopped generating), at about half of what this seed
    # generates.
    assert generated == passed and generated >= 1000, result.stdout[-3000:]

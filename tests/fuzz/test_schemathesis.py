"""Schemathesis against the one OpenAPI description, through the gateway of the test stack.

Positive and negative cases from every phase (examples, coverage, fuzzing, stateful),
every check (schemathesis's, and ours in hooks.py: every accepted request is valid by the
description), bounded in examples and time. Any failure (a 500, a response outside the
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
        "--max-examples",
        "60",
        "--max-time",
        "120",
        "--workers",
        "2",
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
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts, result.stdout[-3000:]
    generated, passed = map(int, counts.groups())
    assert generated == passed and generated >= 1000, result.stdout[-3000:]

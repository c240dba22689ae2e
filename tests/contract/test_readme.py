"""The README's curl examples work as printed (against the test stack's port)."""

import re
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def example_blocks() -> list[str]:
    section = README.read_text().split("## The API, by example", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def run(system, block: str) -> str:
    script = block.replace("127.0.0.1:8080", f"127.0.0.1:{system.config.gateway_port}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def blocks() -> list[str]:
    found = example_blocks()
    assert len(found) == 2, "the README's example blocks changed: update this test"
    return found


def test_the_crud_examples_answer_as_described(system, blocks):
    out = run(system, blocks[0])
    assert "HTTP/1.1 201 Created" in out and "Location: /api/jobs/" in out
    assert '"current_status_type":"RUNNING"' in out
    assert '"status_type":"PENDING"' in out
    assert "HTTP/1.1 204 No Content" in out
    assert "https://jobs.example/problems/validation-error" in out


def test_the_retry_and_etag_examples_answer_as_described(system, blocks):
    lines = run(system, blocks[1]).splitlines()
    assert [line for line in lines if line.startswith("HTTP")] == ["HTTP/1.1 201 Created"] * 2
    assert [line.lower() for line in lines if line.lower().startswith("idempotent")] == [
        "idempotent-replayed: true"
    ]
    assert lines[-3:] == ["304", "200", "412"]

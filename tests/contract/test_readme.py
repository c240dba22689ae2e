"""The README's curl examples work as printed (against the test stack's port)."""

import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def example_block() -> str:
    section = README.read_text().split("## The API, by example", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_readme_examples_run_and_answer_as_described(system):
    script = example_block().replace("127.0.0.1:8080", f"127.0.0.1:{system.config.gateway_port}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "HTTP/1.1 201 Created" in out and "Location: /api/jobs/" in out
    assert '"current_status_type":"RUNNING"' in out
    assert '"status_type":"PENDING"' in out
    assert "HTTP/1.1 204 No Content" in out
    assert "https://jobs.example/problems/" in out

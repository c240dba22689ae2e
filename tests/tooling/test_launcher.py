"""`python -m stack up` run for real, on spare ports with a throwaway state folder: a busy
port stops it before anything starts, a start that fails later leaves nothing running,
a second `up` changes nothing, a partly running stack gets its missing parts, `down`
keeps the data and `clean` removes it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from stack.config import REPO_ROOT, throwaway_state_dir
from stack.ports import bind_error, listeners
from stack.processes import stop_pid

VARIABLES = {
    "gateway": "GATEWAY_PORT",
    "command": "COMMAND_PORT",
    "query": "QUERY_PORT",
    "postgres": "POSTGRES_PORT",
}


def spare_ports(count: int) -> list[int]:
    """Ports the kernel has free now, all held at once so they differ."""
    probes = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    ports = [probe.getsockname()[1] for probe in probes]
    for probe in probes:
        probe.close()
    return ports


def live_pid(pid_file: Path) -> int | None:
    """The pid on the file's first line (postmaster.pid has more), if that process runs."""
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    return None if state == "Z" else pid


@dataclass
class Launcher:
    state_dir: Path
    ports: dict[str, int]

    def run(self, command: str, *, env: dict[str, str] | None = None, timeout: float = 180):
        # The default gateway address, whatever the shell running the tests says.
        environment = {key: value for key, value in os.environ.items() if key != "GATEWAY_HOST"}
        environment.update(
            STACK_DIR=str(self.state_dir),
            COMMAND_WORKERS="1",
            QUERY_WORKERS="1",
            GUNICORN_THREADS="2",
            QUERY_INSTANCES="1",
            **{VARIABLES[part]: str(port) for part, port in self.ports.items()},
        )
        environment.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "stack", command],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def pid_files(self) -> dict[str, Path]:
        return {
            "command": self.state_dir / "run" / "command.pid",
            "query": self.state_dir / "run" / "query.pid",
            "gateway": self.state_dir / "nginx" / "nginx.pid",
            "postgres": self.state_dir / "postgres" / "data" / "postmaster.pid",
        }

    def running(self) -> dict[str, int]:
        """The parts whose pid file names a live process, with that pid."""
        pids = {part: live_pid(pid_file) for part, pid_file in self.pid_files.items()}
        return {part: pid for part, pid in pids.items() if pid is not None}

    def assert_nothing_runs(self, *, except_port: int | None = None) -> None:
        assert self.running() == {}
        for part, port in self.ports.items():
            if port != except_port:
                assert listeners(port) == [], f"{part}'s port {port} is still listened on"


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    state_dir = throwaway_state_dir("jobs-launcher-test-")
    launcher = Launcher(state_dir, dict(zip(VARIABLES, spare_ports(4), strict=True)))
    try:
        yield launcher
    finally:
        launcher.run("clean", timeout=120)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def stopped(launcher: Launcher) -> Launcher:
    result = launcher.run("down", timeout=120)
    assert result.returncode == 0, result.stderr
    launcher.assert_nothing_runs()
    return launcher


@pytest.mark.parametrize("part", list(VARIABLES))
def test_a_busy_port_stops_up_before_anything_starts(stopped, part):
    port = stopped.ports[part]
    with socket.create_server(("127.0.0.1", port)):
        result = stopped.run("up")
        assert result.returncode != 0
        assert f"port {port}" in result.stderr
        assert VARIABLES[part] in result.stderr
        # This test holds the port: the message names its process.
        assert f"(pid {os.getpid()}: " in result.stderr
        assert "Traceback" not in result.stderr
        stopped.assert_nothing_runs(except_port=port)


def test_a_start_that_fails_later_stops_what_it_started(stopped):
    # No port is busy, so PostgreSQL and both services start; then "nginx" fails.
    result = stopped.run("up", env={"NGINX_BIN": shutil.which("false") or "/bin/false"})
    assert result.returncode != 0
    assert "nginx rejected the gateway config" in result.stderr
    assert "stopped again" in result.stderr
    stopped.assert_nothing_runs()


def test_up_on_a_running_stack_changes_nothing(stopped):
    first = stopped.run("up")
    assert first.returncode == 0, first.stderr
    before = stopped.running()
    assert set(before) == set(VARIABLES)
    second = stopped.run("up")
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    assert stopped.running() == before


def test_up_on_a_partly_running_stack_starts_only_what_is_missing(stopped):
    assert stopped.run("up").returncode == 0
    stop_pid(stopped.pid_files["gateway"], sig=signal.SIGQUIT, timeout=30)
    others = stopped.running()
    assert set(others) == {"postgres", "command", "query"}
    # Their ports are held by this stack itself: not "busy".
    result = stopped.run("up")
    assert result.returncode == 0, result.stderr
    now = stopped.running()
    assert {part: now[part] for part in others} == others
    assert httpx.get(f"{stopped.gateway_url}/api/jobs/", timeout=10).status_code == 200


def test_down_keeps_the_data_for_the_next_up(stopped):
    assert stopped.run("up").returncode == 0
    created = httpx.post(f"{stopped.gateway_url}/api/jobs/", json={"name": "kept"}, timeout=10)
    assert created.status_code == 201
    job = created.json()
    assert stopped.run("down").returncode == 0
    stopped.assert_nothing_runs()
    assert (stopped.state_dir / "postgres" / "data" / "PG_VERSION").exists()
    assert stopped.run("up").returncode == 0
    again = httpx.get(f"{stopped.gateway_url}/api/jobs/{job['id']}/", timeout=10)
    assert again.status_code == 200
    assert again.json() == job


def test_clean_stops_everything_and_removes_the_data(stopped):
    assert stopped.run("up").returncode == 0
    created = httpx.post(f"{stopped.gateway_url}/api/jobs/", json={"name": "gone"}, timeout=10)
    assert created.status_code == 201
    result = stopped.run("clean", timeout=120)
    assert result.returncode == 0, result.stderr
    stopped.assert_nothing_runs()
    assert not stopped.state_dir.exists()
    # The next up starts from nothing: a new database without the job.
    stopped.state_dir.mkdir(mode=0o755)
    assert stopped.run("up").returncode == 0
    page = httpx.get(f"{stopped.gateway_url}/api/jobs/", timeout=10).json()
    assert page["count"] == 0


def two_free_ports() -> int:
    """A port that is free, and the next one too (query instance 1 takes QUERY_PORT + 1)."""
    for port in spare_ports(20):
        if bind_error("127.0.0.1", port + 1) is None and bind_error("127.0.0.1", port) is None:
            return port
    raise AssertionError("no two free ports in a row")


def test_query_instances_each_run_on_their_port_and_down_stops_them_all(stopped):
    """QUERY_INSTANCES=2: the port check covers the second instance and names the variable
    that moves it; each instance runs and is listed by `status`; a `down` with the
    default 1 still stops the second."""
    port = two_free_ports()
    two = {"QUERY_PORT": str(port), "QUERY_INSTANCES": "2"}
    with socket.create_server(("127.0.0.1", port + 1)):
        busy = stopped.run("up", env=two)
    assert busy.returncode != 0
    assert f"port {port + 1} (query instance 1, QUERY_PORT + 1) is in use" in busy.stderr
    assert "set QUERY_PORT to a free port" in busy.stderr
    try:
        up = stopped.run("up", env=two)
        assert up.returncode == 0, up.stderr
        status = stopped.run("status", env=two)
        assert status.returncode == 0, status.stdout
        assert f"query     running :{port}" in status.stdout
        assert f"query-1   running :{port + 1}" in status.stdout
        for instance in (port, port + 1):
            assert httpx.get(f"http://127.0.0.1:{instance}/readyz", timeout=10).status_code == 200
        assert (stopped.state_dir / "logs" / "query-1.log").exists()
        down = stopped.run("down", env={"QUERY_PORT": str(port)})
        assert down.returncode == 0, down.stderr
        assert live_pid(stopped.state_dir / "run" / "query-1.pid") is None
        assert listeners(port + 1) == []
        stopped.assert_nothing_runs()
    finally:
        stopped.run("down", env=two)


def test_an_up_with_fewer_query_instances_stops_the_ones_beyond(stopped):
    """As with READ_REPLICAS: `up` brings the stack to what the variables say, so a second
    instance left by QUERY_INSTANCES=2 stops, after the gateway no longer lists it."""
    port = two_free_ports()
    two = {"QUERY_PORT": str(port), "QUERY_INSTANCES": "2"}
    one = {"QUERY_PORT": str(port), "QUERY_INSTANCES": "1"}
    try:
        assert stopped.run("up", env=two).returncode == 0
        assert live_pid(stopped.state_dir / "run" / "query-1.pid") is not None
        status = stopped.run("status", env=one)
        assert "(beyond QUERY_INSTANCES: the next `make up` stops it)" in status.stdout
        up = stopped.run("up", env=one)
        assert up.returncode == 0, up.stderr
        assert live_pid(stopped.state_dir / "run" / "query-1.pid") is None
        assert listeners(port + 1) == []
        upstream = (stopped.state_dir / "nginx" / "nginx.conf").read_text()
        assert f"127.0.0.1:{port + 1}" not in upstream
        assert httpx.get(f"{stopped.gateway_url}/api/jobs/", timeout=10).status_code == 200
    finally:
        stopped.run("down", env=two)

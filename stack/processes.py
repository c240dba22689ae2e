"""The two gunicorns and nginx: start detached, wait until they answer, stop gracefully."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from stack import gateway_config
from stack.config import REPO_ROOT, StackConfig
from stack.tools import StackError, nginx_binary

GATEWAY_DIR = REPO_ROOT / "gateway"
DASHBOARD_DIR = REPO_ROOT / "dashboard"
SERVICES = ("command", "query")


def _pid_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def wait_until(check, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise StackError(f"{what} did not become ready within {timeout:.0f}s")


def stop_pid(pid_file: Path, *, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def instance_name(kind: str, instance: int) -> str:
    """`query` for the first query instance (its files keep their names), `query-1`..."""
    return kind if instance == 0 else f"{kind}-{instance}"


class Service:
    """One Django service under gunicorn (gthread workers, so nginx can keep connections).
    The query service may run as several instances, each its own gunicorn on its own port."""

    def __init__(
        self, kind: str, config: StackConfig, env: dict[str, str], *, instance: int = 0
    ) -> None:
        self.kind = kind
        self.instance = instance
        self.name = instance_name(kind, instance)
        self.config = config
        self.env = env
        self.port = config.command_port if kind == "command" else config.query_port + instance
        self.workers = config.command_workers if kind == "command" else config.query_workers
        self.pid_file = config.state_dir / "run" / f"{self.name}.pid"
        self.log = config.logs_dir / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self) -> None:
        if self.is_running():
            return
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            f"{self.kind}_service.wsgi:application",
            "--chdir",
            str(REPO_ROOT / "services" / self.kind),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.config.threads),
            "--pid",
            str(self.pid_file),
            "--graceful-timeout",
            "20",
            "--timeout",
            "30",
            "--keep-alive",
            "75",
            # Above nginx's own limits (4k request line, 4k header line), so an oversized
            # request always gets the gateway's problem+json, never gunicorn's HTML page.
            "--limit-request-line",
            "8190",
            # gunicorn's maximum: nginx's own header limits (4k a line, 16k in all) bind
            # first. At its default of 100 lines, gunicorn's HTML 431 reached clients.
            "--limit-request-fields",
            "32768",
            "--worker-tmp-dir",
            "/dev/shm" if Path("/dev/shm").is_dir() else "/tmp",
            # gunicorn detaches itself, so the server outlives (and is never a zombie
            # child of) whoever started it: `make up`, or the test runner.
            "--daemon",
            "--error-logfile",
            str(self.log),
            "--capture-output",
        ]
        env = {**os.environ, **self.env}
        result = subprocess.run(
            command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise StackError(f"the {self.name} service did not start:\n{result.stderr}")
        wait_until(self._ready, timeout=60, what=f"the {self.name} service ({self.log})")

    def stop(self) -> None:
        # SIGTERM: gunicorn stops accepting, lets in-flight requests finish, then exits.
        stop_pid(self.pid_file, sig=signal.SIGTERM, timeout=30)


def _generated_fragments(config: StackConfig) -> Path:
    """The gateway's problem documents and methods table, generated now from the catalogue
    and the description (compose mounts the committed copy, which `make test` holds to
    the same generator)."""
    directory = config.state_dir / "nginx" / "generated"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in gateway_config.render().items():
        (directory / name).write_text(text)
    return directory


def query_upstream_servers(config: StackConfig) -> str:
    """The `server` lines of the gateway's query upstream, one per instance. After one
    failure nginx leaves an instance out for 2 s, then gives it a request again: so a
    stopped instance costs no more than that, and a restarted one is back without a reload."""
    # One line: the template's comments name the placeholder too.
    return " ".join(
        f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in config.query_ports
    )


def gateway_cache_dir(config: StackConfig) -> Path:
    return config.state_dir / "nginx" / "cache"


def render_gateway_config(config: StackConfig) -> str:
    """gateway/default.conf.template with the stack's address and ports, wrapped in a main
    context whose paths all live under the state folder (so nginx needs no root-owned files)."""
    values = {
        "GATEWAY_LISTEN": config.gateway_listen,
        "COMMAND_UPSTREAM": f"127.0.0.1:{config.command_port}",
        "QUERY_UPSTREAM_SERVERS": query_upstream_servers(config),
        "GATEWAY_ACCESS_LOG": str(config.logs_dir / "gateway-access.log"),
        "GATEWAY_RATE_LIMIT": str(config.rate_limit),
        "GATEWAY_RATE_BURST": str(config.rate_burst),
        "GATEWAY_UPSTREAM_TIMEOUT": config.upstream_timeout,
        "DASHBOARD_ROOT": str(DASHBOARD_DIR),
        "GATEWAY_GENERATED_DIR": str(_generated_fragments(config)),
        "GATEWAY_CACHE_SECONDS": str(config.gateway_cache_seconds),
        "GATEWAY_CACHE_DIR": str(gateway_cache_dir(config)),
    }
    server = (GATEWAY_DIR / "default.conf.template").read_text()
    for name, value in values.items():
        server = server.replace("${" + name + "}", value)
    runtime = config.state_dir / "nginx"
    return "\n".join(
        [
            "worker_processes 1;",
            f"pid {runtime / 'nginx.pid'};",
            f"error_log {config.logs_dir / 'gateway-error.log'} warn;",
            "events { worker_connections 1024; }",
            "http {",
            f"    client_body_temp_path {runtime / 'client_body'};",
            f"    proxy_temp_path {runtime / 'proxy'};",
            f"    fastcgi_temp_path {runtime / 'fastcgi'};",
            f"    uwsgi_temp_path {runtime / 'uwsgi'};",
            f"    scgi_temp_path {runtime / 'scgi'};",
            "    default_type application/octet-stream;",
            "    sendfile on;",
            "    tcp_nodelay on;",
            "    keepalive_timeout 65;",
            server,
            "}",
            "",
        ]
    )


class Gateway:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.runtime = config.state_dir / "nginx"
        self.conf = self.runtime / "nginx.conf"
        self.pid_file = self.runtime / "nginx.pid"

    def is_running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def write_config(self) -> Path:
        self.runtime.mkdir(parents=True, exist_ok=True)
        self.config.logs_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(render_gateway_config(self.config))
        return self.conf

    def test_config(self) -> subprocess.CompletedProcess[str]:
        self.write_config()
        return subprocess.run(
            [str(nginx_binary()), "-t", "-q", "-p", str(self.runtime), "-c", str(self.conf)],
            capture_output=True,
            text=True,
        )

    def _ready(self) -> bool:
        try:
            httpx.get(f"{self.config.gateway_url}/api/", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    def start(self) -> None:
        if self.is_running():
            return
        # An entry keeps the age limit it was stored with: a gateway started with a
        # shorter GATEWAY_CACHE_SECONDS (or 0) must not serve one kept under a longer one.
        shutil.rmtree(gateway_cache_dir(self.config), ignore_errors=True)
        checked = self.test_config()
        if checked.returncode != 0:
            raise StackError(f"nginx rejected the gateway config:\n{checked.stderr}")
        result = subprocess.run(
            [str(nginx_binary()), "-p", str(self.runtime), "-c", str(self.conf)],
            capture_output=True,
            text=True,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise StackError(f"nginx did not start:\n{result.stderr}")
        wait_until(self._ready, timeout=20, what="the gateway")

    def reload_if_changed(self) -> None:
        """A running gateway whose config would now be another (QUERY_INSTANCES changed)
        is reloaded: nginx's workers finish their requests, new ones read the new list."""
        before = self.conf.read_text() if self.conf.exists() else ""
        checked = self.test_config()
        if self.conf.read_text() == before:
            return
        if checked.returncode != 0:
            raise StackError(f"nginx rejected the gateway config:\n{checked.stderr}")
        result = subprocess.run(
            [str(nginx_binary()), "-p", str(self.runtime), "-c", str(self.conf), "-s", "reload"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"nginx did not reload:\n{result.stderr}")

    def stop(self) -> None:
        # SIGQUIT: nginx's graceful shutdown, open requests are served to the end.
        stop_pid(self.pid_file, sig=signal.SIGQUIT, timeout=30)

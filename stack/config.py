"""Where the stack lives and which ports it uses; every value can be overridden by environment."""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stack.tools import StackError

REPO_ROOT = Path(__file__).resolve().parent.parent

DATABASE_NAME = "jobs"
ADMIN_ROLE = "jobs_admin"
COMMAND_ROLE = "jobs_command"
QUERY_ROLE = "jobs_query"
REPLICATION_ROLE = "jobs_replication"
# Hot standbys the launcher may run (READ_REPLICAS); standby k listens on POSTGRES_PORT + k.
MAX_READ_REPLICAS = 8
# The browser origin the test stack allows, for the CORS contract tests.
TEST_ORIGIN = "http://dashboard.test"
# The longest GATEWAY_CACHE_SECONDS: it is a term of the reads' staleness bound.
MAX_GATEWAY_CACHE_SECONDS = 60


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# How many query services the launcher may start: each is a gunicorn of its own, on
# QUERY_PORT + k, so the range stays clear of the other parts' default ports.
MAX_QUERY_INSTANCES = 16


def _bounded_int_env(name: str, default: int, low: int, high: int) -> int:
    """A whole number in low..high, written in ASCII digits; anything else is refused with
    the variable named."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
        raise StackError(f"{name}={value!r} is not a whole number from {low} to {high}")
    return int(value)


def _check_port_ranges(config: StackConfig) -> None:
    """Query instance k (QUERY_PORT + k, k >= 1) and standby k (POSTGRES_PORT + k) take
    ports of their own: none may be another part's."""
    taken = {
        getattr(config, f"{part}_port"): config.port_variable(part)
        for part in ("gateway", "command", "query", "postgres")
    }
    ranges = [
        ("query instance", "query", "QUERY_INSTANCES", config.query_ports[1:]),
        (
            "PostgreSQL standby",
            "postgres",
            "READ_REPLICAS",
            [config.standby_port(k) for k in range(1, config.read_replicas + 1)],
        ),
    ]
    for what, part, count_variable, ports in ranges:
        for number, port in enumerate(ports, start=1):
            if port in taken:
                raise StackError(
                    f"{taken[port]}={port} is the port of {what} {number} "
                    f"({config.port_variable(part)} + {number}): move one of them, "
                    f"or lower {config.env_prefix}{count_variable}"
                )
        taken.update(dict.fromkeys(ports, config.port_variable(part)))


def _address_env(name: str, default: str) -> str:
    """An IP address to listen on. A host name is refused: the launcher checks the port on
    the exact address before it starts anything, and nginx would resolve a name itself."""
    value = os.environ.get(name, "").strip() or default
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise StackError(
            f"{name}={value!r} is not an IP address: use 127.0.0.1 (the default, this machine "
            "only), 0.0.0.0 (every interface) or one address of this machine"
        ) from None


def throwaway_state_dir(prefix: str) -> Path:
    """A new state folder under the system's temporary folder, for a stack or a part of one
    that lives only as long as a test or a bench. Open to other users (0755): PostgreSQL
    and nginx's workers run as other users than root, and mkdtemp's and pytest's folders
    are closed to them."""
    state_dir = Path(tempfile.mkdtemp(prefix=prefix))
    state_dir.chmod(0o755)
    return state_dir


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    # The gateway's listen address: loopback unless exposed on purpose, since the API has
    # no authentication of its own (docs/operations.md, "Exposing the gateway").
    gateway_host: str
    gateway_port: int
    command_port: int
    query_port: int
    postgres_port: int
    command_workers: int
    query_workers: int
    threads: int
    rate_limit: int
    rate_burst: int
    cors_allowed_origins: str
    # Query services, each its own gunicorn: instance k listens on query_port + k.
    query_instances: int = 1
    # How long the gateway waits for a service's answer before its 504 (nginx time).
    upstream_timeout: str = "30s"
    # Streaming hot standbys of the primary (stack/standbys.py), and how far behind each
    # deliberately applies (recovery_min_apply_delay, for tests of stale reads).
    read_replicas: int = 0
    standby_apply_delay_ms: int = 0
    # How long the gateway may answer the list, the summary and the stats from its cache (0: never).
    gateway_cache_seconds: int = 0
    # "" for `make up`, "TEST_" for `make test`: how the variables that move it are named.
    env_prefix: str = ""

    @classmethod
    def from_env(cls, *, state_dir: Path | None = None) -> StackConfig:
        """The stack of `make up`: the gateway on GATEWAY_HOST (default 127.0.0.1), ports
        from GATEWAY_PORT, COMMAND_PORT, QUERY_PORT, POSTGRES_PORT; state under STACK_DIR
        (default .stack)."""
        return cls._build(
            state_dir or Path(os.environ.get("STACK_DIR", REPO_ROOT / ".stack")),
            env_prefix="",
            port_offset=0,
            rate=(100, 200),
            cors_allowed_origins="",
        )

    @classmethod
    def for_tests(cls) -> StackConfig:
        """The stack `make test` starts: its own folder (.stack-test) and ports (18080...,
        or TEST_GATEWAY_PORT and friends), so it runs beside a stack of `make up`. Its rate
        limit is higher (its concurrency tests are all one client) and it allows one
        browser origin, for the CORS tests."""
        return cls._build(
            REPO_ROOT / ".stack-test",
            env_prefix="TEST_",
            port_offset=10000,
            rate=(2000, 2000),
            cors_allowed_origins=TEST_ORIGIN,
        )

    @classmethod
    def _build(
        cls,
        state_dir: Path,
        *,
        env_prefix: str,
        port_offset: int,
        rate: tuple[int, int],
        cors_allowed_origins: str,
    ) -> StackConfig:
        config = cls(
            state_dir=state_dir.resolve(),
            gateway_host=_address_env(f"{env_prefix}GATEWAY_HOST", "127.0.0.1"),
            gateway_port=_int_env(f"{env_prefix}GATEWAY_PORT", 8080 + port_offset),
            command_port=_int_env(f"{env_prefix}COMMAND_PORT", 8001 + port_offset),
            query_port=_int_env(f"{env_prefix}QUERY_PORT", 8002 + port_offset),
            postgres_port=_int_env(f"{env_prefix}POSTGRES_PORT", 5544 + port_offset),
            # gthread workers; see docs/operations.md for the sizing against cores.
            command_workers=_int_env("COMMAND_WORKERS", 2),
            query_workers=_int_env("QUERY_WORKERS", 2),
            threads=_int_env("GUNICORN_THREADS", 4),
            query_instances=_bounded_int_env(
                f"{env_prefix}QUERY_INSTANCES", 1, 1, MAX_QUERY_INSTANCES
            ),
            # Requests per second per client address at the gateway, and the burst.
            rate_limit=_int_env(f"{env_prefix}GATEWAY_RATE_LIMIT", rate[0]),
            rate_burst=_int_env(f"{env_prefix}GATEWAY_RATE_BURST", rate[1]),
            cors_allowed_origins=os.environ.get(
                f"{env_prefix}CORS_ALLOWED_ORIGINS", cors_allowed_origins
            ),
            env_prefix=env_prefix,
            read_replicas=_bounded_int_env(f"{env_prefix}READ_REPLICAS", 0, 0, MAX_READ_REPLICAS),
            standby_apply_delay_ms=_bounded_int_env(
                f"{env_prefix}STANDBY_APPLY_DELAY_MS", 0, 0, 3_600_000
            ),
            gateway_cache_seconds=_bounded_int_env(
                f"{env_prefix}GATEWAY_CACHE_SECONDS", 0, 0, MAX_GATEWAY_CACHE_SECONDS
            ),
        )
        _check_port_ranges(config)
        return config

    @property
    def gateway_listen(self) -> str:
        """nginx's `listen` address:port (an IPv6 address in brackets)."""
        return f"{_bracketed(self.gateway_host)}:{self.gateway_port}"

    @property
    def gateway_url(self) -> str:
        """Where this machine reaches the gateway: loopback when it listens on every
        interface, else the one address it listens on."""
        host = ipaddress.ip_address(self.gateway_host)
        if host.is_unspecified:
            host = ipaddress.ip_address("::1" if host.version == 6 else "127.0.0.1")
        return f"http://{_bracketed(str(host))}:{self.gateway_port}"

    @property
    def query_ports(self) -> list[int]:
        """Each query instance's port: QUERY_PORT, QUERY_PORT + 1, ..."""
        return [self.query_port + k for k in range(self.query_instances)]

    def port_variable(self, part: str) -> str:
        """The environment variable that moves a part's port, e.g. TEST_GATEWAY_PORT."""
        return f"{self.env_prefix}{part.upper()}_PORT"

    def standby_port(self, number: int) -> int:
        """Standby k (1..read_replicas) listens on the primary's port + k."""
        return self.postgres_port + number

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address

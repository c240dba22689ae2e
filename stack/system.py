"""The whole local system: PostgreSQL, migrations, both services and the gateway."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from stack.config import COMMAND_ROLE, QUERY_ROLE, REPO_ROOT, StackConfig, throwaway_state_dir
from stack.ports import busy_port_message
from stack.postgres import Postgres
from stack.processes import SERVICES, Gateway, Service
from stack.standbys import Standby, Standbys
from stack.tools import StackError

SECRET_KEYS = (
    "admin_password",
    "command_password",
    "query_password",
    "secret_key",
    "replication_password",
)


def _load_secrets(state_dir: Path) -> dict[str, str]:
    """Passwords and the Django secret key, made once per state folder and kept there (0600).
    A file from before a secret existed gains it and keeps the others."""
    path = state_dir / "secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [key for key in SECRET_KEYS if key not in values]
    if not missing:
        return values
    state_dir.mkdir(parents=True, exist_ok=True)
    values.update({key: secrets.token_urlsafe(32) for key in missing})
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def _service_label(service: Service) -> str:
    """How a busy-port message names a service; an extra query instance says which
    variable its port follows."""
    if service.instance == 0:
        return f"the {service.kind} service"
    prefix = service.config.env_prefix
    return f"query instance {service.instance}, {prefix}QUERY_PORT + {service.instance}"


class System:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.secrets = _load_secrets(config.state_dir)
        self.postgres = Postgres(config, self.secrets)
        self.standbys = Standbys(self.postgres)
        self.services = {
            service.name: service
            for kind in SERVICES
            for service in (
                Service(kind, config, self.service_env(kind, instance=k), instance=k)
                for k in range(config.query_instances if kind == "query" else 1)
            )
        }
        self.gateway = Gateway(config)

    def database_url(self, service: str) -> str:
        if service == "command":
            return self.postgres.url(COMMAND_ROLE, "command_password")
        return self.postgres.url(QUERY_ROLE, "query_password")

    def replica_url(self, instance: int) -> str | None:
        """The standby query instance k reads: standby 1 + k mod READ_REPLICAS, so the
        instances spread over the standbys (None without standbys)."""
        wanted = self.standbys.wanted
        if not wanted:
            return None
        return wanted[instance % len(wanted)].url(QUERY_ROLE, "query_password")

    def primary_reader(self, port: int) -> Service:
        """A query instance of this stack's code that reads the primary alone (no
        READ_REPLICA_URL), on `port`, in a throwaway state folder: what answers from a
        standby are compared with. Not started; its caller removes the folder."""
        config = dataclasses.replace(
            self.config, state_dir=throwaway_state_dir("jobs-primary-reader-"), query_port=port
        )
        env = {k: v for k, v in self.service_env("query").items() if k != "READ_REPLICA_URL"}
        return Service("query", config, env)

    def service_env(self, service: str, *, instance: int = 0) -> dict[str, str]:
        replica = self.replica_url(instance) if service == "query" else None
        return {
            **({"READ_REPLICA_URL": replica} if replica else {}),
            "DATABASE_URL": self.database_url(service),
            "SECRET_KEY": self.secrets["secret_key"],
            "DEBUG": os.environ.get("DEBUG", "0"),
            "CORS_ALLOWED_ORIGINS": self.config.cors_allowed_origins,
            # Page links name the gateway, whatever a request's Host says: its address
            # as clients reach it (PUBLIC_BASE_URL when exposed), else as this machine does.
            "PUBLIC_BASE_URL": os.environ.get(f"{self.config.env_prefix}PUBLIC_BASE_URL")
            or self.config.gateway_url,
        }

    def is_running(self) -> bool:
        return (
            self.postgres.is_running()
            and all(service.is_running() for service in self.services.values())
            and self.gateway.is_running()
            and self.standbys.is_running()
            and not self.leftover_query_instances()
        )

    def start_database(self) -> None:
        self.postgres.initialise()
        self.postgres.start()
        self.postgres.create_database_and_roles()

    def migrate(self) -> None:
        """Migrations are applied by the command side, with its own role (the schema's owner)."""
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO_ROOT / "services" / "command",
            env={**os.environ, **self.service_env("command")},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"migrate failed:\n{result.stdout}\n{result.stderr}")

    def busy_ports(self) -> list[str]:
        """One line per port a part that is not running yet could not listen on. The ports
        of this stack's own running parts are not checked: they are in use by design."""
        config = self.config
        parts: dict[str, tuple[str, str, int, Postgres | Service | Gateway]] = {
            "postgres": ("PostgreSQL", "127.0.0.1", config.postgres_port, self.postgres),
            **{
                name: (_service_label(service), "127.0.0.1", service.port, service)
                for name, service in self.services.items()
            },
            "gateway": ("the gateway", config.gateway_host, config.gateway_port, self.gateway),
        }
        messages = []
        for name, (what, host, port, part) in parts.items():
            if part.is_running():
                continue
            message = busy_port_message(
                what=what,
                host=host,
                port=port,
                variable=config.port_variable(name.split("-")[0]),
                host_variable=f"{config.env_prefix}GATEWAY_HOST" if name == "gateway" else None,
            )
            if message:
                messages.append(message)
        return [*messages, *self.standbys.busy_ports()]

    def check_ports(self) -> None:
        """Refuse to start anything while a port of ours is taken: nginx would otherwise fail
        last, after PostgreSQL and both services are up, with a raw bind() error."""
        messages = self.busy_ports()
        if messages:
            raise StackError("\n".join([*messages, "Nothing was started."]))

    def up(self) -> bool:
        """Start what is not running. Returns False when everything already was.

        When a start fails anyway (a port taken meanwhile, a service that does not become
        ready), what this run started is stopped again, so the stack is left as it was.
        """
        if self.is_running():
            return False
        self.check_ports()
        started: list[Postgres | Standby | Service | Gateway] = []
        try:
            if not self.postgres.is_running():
                started.append(self.postgres)
            self.start_database()
            self.migrate()
            # After the migrations, so a new standby's base backup has the schema at once.
            self.standbys.up(on_start=started.append)
            servers: list[Service | Gateway] = [*self.services.values(), self.gateway]
            for server in servers:
                if not server.is_running():
                    started.append(server)
                    server.start()
            if self.gateway not in started:
                self.gateway.reload_if_changed()
            # As for standbys: instances beyond QUERY_INSTANCES stop once the gateway's
            # upstream no longer lists them.
            for leftover in self.leftover_query_instances():
                leftover.stop()
        except BaseException as error:
            for part in reversed(started):
                # A failed stop must not hide why the start failed.
                with contextlib.suppress(Exception):
                    part.stop()
            if started and isinstance(error, StackError):
                raise StackError(f"{error}\nWhat this run had started is stopped again.") from None
            raise
        return True

    def leftover_query_instances(self) -> list[Service]:
        """Query instances a previous `up` with a larger QUERY_INSTANCES left running."""
        run = self.config.state_dir / "run"
        found = []
        for pid_file in sorted(run.glob("query-*.pid")):
            number = pid_file.stem.removeprefix("query-")
            if number.isdigit() and pid_file.stem not in self.services:
                service = Service("query", self.config, {}, instance=int(number))
                if service.is_running():
                    found.append(service)
        return found

    def down(self) -> None:
        self.gateway.stop()
        for service in [*self.services.values(), *self.leftover_query_instances()]:
            service.stop()
        # Before the primary, whose fast shutdown waits for its WAL senders.
        self.standbys.down()
        self.postgres.stop()

    def clean(self) -> None:
        # The standbys' slots are dropped while the primary still runs, so that none
        # outlives its standby even when the primary's data is kept elsewhere.
        if self.postgres.is_running():
            with contextlib.suppress(Exception):
                self.standbys.remove_all()
        self.down()
        shutil.rmtree(self.config.state_dir, ignore_errors=True)

"""A private PostgreSQL under the state folder, run by an unprivileged user when we are root."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from stack.config import ADMIN_ROLE, DATABASE_NAME, REPLICATION_ROLE, REPO_ROOT, StackConfig
from stack.tools import StackError, postgres_bindir

ROLES_SQL = REPO_ROOT / "db" / "roles.sql"
# First in pg_hba.conf, as the first matching line decides: the replication role may open
# replication connections (initdb's own `host replication all 127.0.0.1/32` line) and no
# other kind ("all" matches every database but not `replication`).
HBA_REPLICATION_ONLY = f"host all {REPLICATION_ROLE} all reject\n"


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: then it runs as PG_OS_USER (default `postgres`),
    created as a system user when the machine has none."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("PG_OS_USER", "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
        )
    return name


class Server:
    """A PostgreSQL server of the stack under its own folder, run by the PostgreSQL OS user
    with pg_ctl: the primary (Postgres) and each standby (stack/standbys.py)."""

    label = "PostgreSQL"

    def __init__(self, config: StackConfig, secrets: dict[str, str], root: Path) -> None:
        self.config = config
        self.secrets = secrets
        self.root = root
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user = _server_user()

    @property
    def port(self) -> int:
        return self.config.postgres_port

    def _options(self) -> list[str]:
        """Its `-c` settings beyond the port and addresses every server of the stack has."""
        return []

    def _run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            user=self.user,
            capture_output=True,
            text=True,
            **kwargs,  # type: ignore[call-overload]
        )

    def _bin(self, name: str) -> str:
        return str(postgres_bindir() / name)

    def url(self, role: str, password_key: str, database: str = DATABASE_NAME) -> str:
        return f"postgres://{role}:{self.secrets[password_key]}@127.0.0.1:{self.port}/{database}"

    def exists(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.exists():
            return False
        return self._run([self._bin("pg_ctl"), "status", "-D", str(self.data)]).returncode == 0

    def start(self) -> None:
        if self.is_running():
            return
        options = " ".join(
            [
                f"-c port={self.port}",
                "-c listen_addresses=127.0.0.1",
                "-c unix_socket_directories=''",
                *self._options(),
            ]
        )
        result = self._run(
            [
                self._bin("pg_ctl"),
                *("start", "-D", str(self.data), "-l", str(self.log)),
                *("-w", "-t", "60", "-o", options),
            ]
        )
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise StackError(f"{self.label} did not start:\n{result.stderr}\n{tail}")

    def stop(self) -> None:
        if self.is_running():
            self._run([self._bin("pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"])


class Postgres(Server):
    """The stack's primary."""

    def __init__(self, config: StackConfig, secrets: dict[str, str]) -> None:
        super().__init__(config, secrets, config.state_dir / "postgres")

    def _options(self) -> list[str]:
        return ["-c max_connections=200", "-c shared_buffers=256MB", "-c fsync=on"]

    @property
    def admin_url(self) -> str:
        return self.url(ADMIN_ROLE, "admin_password")

    def _prepare_root(self) -> None:
        prepare_server_folder(self.root, self.user)

    def initialise(self) -> None:
        """initdb once; the admin role's password is set at birth, password auth everywhere."""
        self._prepare_root()
        if self.exists():
            self.restrict_replication_role()
            return
        password_file = self.root / "admin-password"
        password_file.write_text(self.secrets["admin_password"])
        if self.user is not None:
            shutil.chown(password_file, self.user)
        password_file.chmod(0o600)
        try:
            result = self._run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    ADMIN_ROLE,
                    f"--pwfile={password_file}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8" if _has_c_utf8() else "--no-locale",
                ]
            )
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        self.restrict_replication_role()

    def restrict_replication_role(self) -> None:
        """Put the replication role's `reject` line first in pg_hba.conf, once; data folders
        made before the role existed get it on their next `make up` (and a reload)."""
        hba = self.data / "pg_hba.conf"
        if not hba.exists():
            return
        text = hba.read_text()
        if text.startswith(HBA_REPLICATION_ONLY):
            return
        hba.write_text(HBA_REPLICATION_ONLY + text)
        if self.user is not None:
            shutil.chown(hba, self.user, self.user)
        if self.is_running():
            self._run([self._bin("pg_ctl"), "reload", "-D", str(self.data)])

    def create_database_and_roles(self) -> None:
        """Create the database (once) and apply db/roles.sql (every time; it is idempotent)."""
        with psycopg.connect(
            self.url(ADMIN_ROLE, "admin_password", "postgres"), autocommit=True
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            script = ROLES_SQL.read_text()
            for variable, key in (
                ("command_password", "command_password"),
                ("query_password", "query_password"),
                ("replication_password", "replication_password"),
            ):
                literal = sql.Literal(self.secrets[key]).as_string(conn)
                script = script.replace(f":'{variable}'", literal)
            conn.execute(script)  # type: ignore[arg-type]


def prepare_server_folder(root: Path, user: str | None) -> None:
    """A folder of ours the PostgreSQL OS user owns (when we are root) and can write."""
    root.mkdir(parents=True, exist_ok=True)
    if user is None:
        return
    account = pwd.getpwnam(user)
    for path in [root, *root.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    if subprocess.run(["test", "-w", str(root)], user=user).returncode != 0:
        raise StackError(
            f"the PostgreSQL user {user!r} cannot write {root}: a parent folder "
            "is closed to other users. Clone the project where others may enter "
            "(e.g. under /srv or /tmp), or set STACK_DIR to such a place."
        )


def _has_c_utf8() -> bool:
    result = subprocess.run(["locale", "-a"], capture_output=True, text=True)
    return result.returncode == 0 and any(
        line.strip().lower() in {"c.utf8", "c.utf-8"} for line in result.stdout.splitlines()
    )

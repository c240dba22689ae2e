"""Which TCP ports are free to listen on, and which program holds one that is not.

Linux only, like the rest of the launcher: the holder is found from /proc (the listening
socket's inode in /proc/net/tcp{,6}, then the process whose fd links to it), so there is
no dependency on ss or lsof; without permission to read another user's /proc entries it
is "another program".
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


@dataclass(frozen=True)
class Listener:
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int
    inode: int


@dataclass(frozen=True)
class Holder:
    pid: int
    name: str
    # The start of its command line: gunicorn, for one, is just "python" by name.
    command: str

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid}: {self.command})"


def _command_line(proc: Path) -> str:
    words = (proc / "cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()
    return words if len(words) <= 80 else words[:77] + "..."


def _decode_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp{,6} print addresses as the kernel's 32-bit words in host order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listeners(port: int) -> list[Listener]:
    """Every listening TCP socket on `port`, IPv4 and IPv6, whoever owns it."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue  # no IPv6 on this machine
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            hex_address, hex_port = local.split(":")
            if state == _LISTEN and int(hex_port, 16) == port:
                found.append(Listener(_decode_address(hex_address), port, int(inode)))
    return found


def _holders_of(inodes: set[int]) -> list[Holder]:
    links = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(fd.readlink().as_posix() in links for fd in (proc / "fd").iterdir()):
                name = (proc / "comm").read_text().strip()
                holders.append(Holder(int(proc.name), name, _command_line(proc)))
        except OSError:
            continue  # gone meanwhile, or another user's process
    return holders


def _parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _conflicts(listening: ipaddress.IPv4Address | ipaddress.IPv6Address, ours: str) -> bool:
    wanted = ipaddress.ip_address(ours)
    if isinstance(listening, ipaddress.IPv6Address) and listening.ipv4_mapped:
        listening = listening.ipv4_mapped
    return listening.is_unspecified or wanted.is_unspecified or listening == wanted


def holder(host: str, port: int) -> Holder | None:
    """The program listening where we want to, when /proc lets us see it. Of several
    processes sharing the socket (nginx's master and workers, gunicorn's arbiter and
    workers) the parent is named."""
    inodes = {entry.inode for entry in listeners(port) if _conflicts(entry.address, host)}
    holders = _holders_of(inodes) if inodes else []
    pids = {found.pid for found in holders}
    for found in sorted(holders, key=lambda h: h.pid):
        if _parent_pid(found.pid) not in pids:
            return found
    return None


def bind_error(host: str, port: int) -> OSError | None:
    """Why listening on host:port would fail now, or None when it would work.

    A real bind is the only exact answer (a wildcard or dual-stack listener elsewhere
    conflicts too); SO_REUSEADDR as nginx, gunicorn and PostgreSQL set it, so a port
    left in TIME_WAIT by a stopped stack is free, as it is for them.
    """
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error
    return None


def busy_port_message(
    *, what: str, host: str, port: int, variable: str, host_variable: str | None = None
) -> str | None:
    """One line on why `what` cannot listen on host:port and how to move it, or None."""
    error = bind_error(host, port)
    if error is None:
        return None
    if error.errno == errno.EADDRINUSE:
        found = holder(host, port)
        by = str(found) if found else "another program"
        return f"port {port} ({what}) is in use by {by}: stop it, or set {variable} to a free port"
    if error.errno == errno.EADDRNOTAVAIL:
        fix = f": set {host_variable} to one that is" if host_variable else ""
        return f"{host} ({what}) is not an address of this machine{fix}"
    return f"cannot listen on {host}:{port} ({what}): {error.strerror}; set {variable}"

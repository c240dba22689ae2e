"""The running test stack listens on this machine's loopback only: the API has no
authentication, so nothing it starts may be reachable from the network by default. And
the authenticating proxy docs/operations.md shows in front of it works as printed."""

import errno
import fcntl
import ipaddress
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from stack.ports import listeners
from stack.processes import stop_pid
from stack.tools import nginx_binary

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"

_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


def non_loopback_ipv4_addresses() -> list[str]:
    """This machine's own IPv4 addresses beyond loopback, one per interface that has one."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError as error:
                if error.errno == errno.EADDRNOTAVAIL:
                    continue  # an interface without an IPv4 address
                raise
            address = ipaddress.ip_address(answer[20:24])
            if not address.is_loopback:
                found.append(str(address))
    return found


def stack_ports(system) -> dict[str, int]:
    config = system.config
    return {
        "gateway": config.gateway_port,
        "command": config.command_port,
        "query": config.query_port,
        "postgres": config.postgres_port,
    }


@pytest.mark.parametrize("part", ["gateway", "command", "query", "postgres"])
def test_every_listener_of_the_stack_is_on_loopback_only(system, part):
    """Read from the kernel's socket table, so a listener on 0.0.0.0 or :: cannot hide."""
    port = stack_ports(system)[part]
    found = listeners(port)
    assert found, f"nothing listens on {port} ({part}): is the test stack up?"
    # TEST_GATEWAY_HOST may move the gateway on purpose; nothing else can move.
    expected = system.config.gateway_host if part == "gateway" else "127.0.0.1"
    assert {str(entry.address) for entry in found} == {expected}


def test_the_gateway_is_not_reachable_on_this_machines_other_addresses(system):
    if not ipaddress.ip_address(system.config.gateway_host).is_loopback:
        pytest.skip("TEST_GATEWAY_HOST exposes the test stack's gateway on purpose")
    addresses = non_loopback_ipv4_addresses()
    if not addresses:
        pytest.skip("this machine has no address beyond loopback")
    for address in addresses:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, system.config.gateway_port), timeout=5).close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def documented_proxy(system, tmp_path):
    """The operations guide's nginx example, on a spare port with a throwaway certificate
    and password file, in front of the test stack's gateway."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed for the example's certificate")
    section = OPERATIONS.read_text().split("## Exposing the gateway", 1)[1]
    example = re.search(r"```nginx\n(.*?)```", section, re.S)
    assert example, "the operations guide lost its proxy example: update this test"
    port = free_port()
    certificate = [
        *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
        *("-subj", "/CN=localhost", "-keyout", str(tmp_path / "key.pem")),
        *("-out", str(tmp_path / "cert.pem")),
    ]
    subprocess.run(certificate, check=True, capture_output=True, timeout=60)
    (tmp_path / "users").write_text("alice:{PLAIN}wonderland\n")
    server = example[1]
    for printed, here in {
        "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
        "/etc/ssl/certs/jobs.example.org.pem": str(tmp_path / "cert.pem"),
        "/etc/ssl/private/jobs.example.org.key": str(tmp_path / "key.pem"),
        "/etc/nginx/jobs.htpasswd": str(tmp_path / "users"),
        "127.0.0.1:8080": f"127.0.0.1:{system.config.gateway_port}",
    }.items():
        assert printed in server, printed
        server = server.replace(printed, here)
    # Started as root, nginx's workers would run as nobody, whom tmp_path shuts out.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  access_log off;\n{server}\n}}\n"
    )
    started = subprocess.run(
        [str(nginx_binary()), "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 10
        while not listeners(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert listeners(port), f"the documented proxy is not listening on {port} after 10 s"
        yield f"https://127.0.0.1:{port}"
    finally:
        stop_pid(tmp_path / "nginx.pid", sig=signal.SIGQUIT, timeout=10)


def test_the_documented_proxy_asks_for_a_password_and_then_passes_requests_on(
    documented_proxy, system
):
    with httpx.Client(base_url=documented_proxy, verify=False, timeout=10) as client:
        assert client.get("/api/jobs/").status_code == 401
        assert client.get("/api/jobs/", auth=("alice", "wrong")).status_code == 401
        created = client.post(
            "/api/jobs/", json={"name": "behind-the-proxy"}, auth=("alice", "wonderland")
        )
        assert created.status_code == 201, created.text
        # Links name PUBLIC_BASE_URL (the guide sets it to the proxy's address; the test
        # stack's is its gateway's), never the Host or scheme the proxy passes on.
        listed = client.get("/api/jobs/", params={"limit": 1}, auth=("alice", "wonderland"))
        assert listed.status_code == 200
        public = system.service_env("query")["PUBLIC_BASE_URL"]
        assert listed.json()["next"].startswith(f"{public}/api/jobs/")

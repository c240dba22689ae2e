"""The gateway config, checked by nginx itself (`nginx -t`) with the values both the local
launcher and compose put into it."""

import dataclasses
import re
import subprocess

import yaml

from stack.config import StackConfig
from stack.processes import GATEWAY_DIR, Gateway, render_gateway_config
from stack.tools import nginx_binary


def test_local_gateway_config_passes_nginx_t(tmp_path):
    config = StackConfig.for_tests()
    gateway = Gateway(dataclasses.replace(config, state_dir=tmp_path))
    result = gateway.test_config()
    assert result.returncode == 0, result.stderr


def test_compose_sets_every_placeholder_of_the_template_and_the_launcher_too(tmp_path):
    placeholders = set(
        re.findall(r"\$\{([A-Z_]+)\}", (GATEWAY_DIR / "default.conf.template").read_text())
    )
    compose = yaml.safe_load((GATEWAY_DIR.parent / "compose.yaml").read_text())
    assert placeholders == set(compose["services"]["gateway"]["environment"])
    config = dataclasses.replace(StackConfig.for_tests(), state_dir=tmp_path)
    assert not re.search(r"\$\{[A-Z_]+\}", render_gateway_config(config))


def test_compose_style_rendering_passes_nginx_t(tmp_path):
    """What the official image does: envsubst the template into an http{} include."""
    template = (GATEWAY_DIR / "default.conf.template").read_text()
    for name, value in {
        "GATEWAY_PORT": "18999",
        "COMMAND_UPSTREAM": "127.0.0.1:18998",
        "QUERY_UPSTREAM": "127.0.0.1:18997",
        "GATEWAY_ACCESS_LOG": "/dev/stdout",
        "GATEWAY_RATE_LIMIT": "100",
        "GATEWAY_RATE_BURST": "200",
        "GATEWAY_UPSTREAM_TIMEOUT": "30s",
        "DASHBOARD_ROOT": "/usr/share/nginx/dashboard",
    }.items():
        template = template.replace("${" + name + "}", value)
    (tmp_path / "default.conf").write_text(template)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/default.conf;\n}}\n"
    )
    result = subprocess.run(
        [str(nginx_binary()), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr

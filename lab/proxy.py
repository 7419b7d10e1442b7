"""nginx in front of a chain's scoring handler: the buffering proxy gunicorn's deployment docs ask for.

gunicorn's docs: "When using the default synchronous workers you must ensure the proxy buffers slow clients;
otherwise Gunicorn becomes vulnerable to denial-of-service attacks." With ``SCORING_<CHAIN>_PROXY=nginx`` (``make up
PROXY=nginx``, or the variants ``sync-nginx`` and ``async-nginx``) nginx listens on the scoring handler's own port, the
one the README's curl commands use, and the handler moves to loopback on ``app_port``. nginx reads a whole request
(headers within ``client_header_timeout``, the body buffered) before it passes it on, and takes the whole answer at
once, so a worker is held only while it computes. nginx's own errors (no upstream, a body over the limit, a slow
upstream) answer the lab's JSON error shape, like the handlers' own.

This module writes the configuration and the command line; ``lab/launcher.py`` starts it like every other service,
in the foreground (``daemon off``), in its own process group.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from api_common.contract import HEALTH_PATH, predict_path
from api_common.errors import HTTP_CODES

TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")  # every one, or nginx wants its default path
ACCESS_LOG = "access.log"  # with ``access_log``: one line per answer, "<epoch s> <upstream host:port> <status>"
PACKAGE = "nginx-light"  # Debian's; ``make nginx`` installs it where apt-get works


class ProxySettings(BaseSettings):
    """nginx's own settings (env prefix PROXY_), the same in front of either chain."""

    model_config = SettingsConfigDict(env_prefix="PROXY_")

    binary: str | None = None  # else ``nginx`` on PATH or /usr/sbin/nginx
    workers: int = 1  # one event loop carries thousands of connections; the cores are the chains'
    worker_connections: int = 4096
    # A client must send its whole header within this, and each piece of its body within the next: a slowloris
    # holds a connection at most this long, and holds no worker of the handler at all.
    client_header_timeout_s: float = 10.0
    client_body_timeout_s: float = 10.0
    send_timeout_s: float = 10.0  # a reader that takes nothing for this long is dropped
    keepalive_timeout_s: float = 15.0  # an idle client connection
    # Above the handlers' own limit (``max_body_bytes``, 64 KiB), so that their JSON 413 is what a client gets
    # for a body a little too large; nginx answers the same shape past this.
    client_max_body_bytes: int = 1024 * 1024
    proxy_connect_timeout_s: float = 2.0
    # The handler's own deadline answers first (a 504 of its own within its model timeout); this is the backstop.
    proxy_read_timeout_s: float = 30.0
    # Idle connections kept open to the handler per nginx worker (HTTP/1.1 upstream keep-alive); a server that
    # closes after each answer (gunicorn's sync workers, ``Connection: close``) gets a new one each time.
    upstream_keepalive: int = 64
    # Each answer's end time, the upstream that gave it and its status, to access.log in the proxy's folder: what a
    # blue/green switch is checked against (benchmark/bluegreen.py). Off by default: a write per request.
    access_log: bool = False


@dataclass(frozen=True)
class Proxy:
    """One nginx in front of one chain's scoring handler (``role`` "scoring") or of its model tier ("model": the
    blue/green update's switch, benchmark/bluegreen.py)."""

    chain: str
    host: str  # where it listens: the scoring handler's own host and port
    port: int
    upstream: str  # host:port of the handler behind it
    settings: ProxySettings
    role: str = "scoring"

    @property
    def name(self) -> str:
        return f"proxy-{self.chain}" if self.role == "scoring" else f"proxy-{self.role}-{self.chain}"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}{HEALTH_PATH}"

    @property
    def predict_url(self) -> str:
        if self.role != "scoring":
            raise ValueError(f"{self.name} fronts a {self.role} tier: its paths are that tier's")
        return f"{self.url}{predict_path(self.chain)}"


class NginxNotFound(RuntimeError):
    pass


def find_binary(settings: ProxySettings) -> str | None:
    if settings.binary:
        return settings.binary
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def _error(status: int, message: str) -> str:
    return json.dumps({"error": HTTP_CODES[status], "message": message})


# nginx's own answers, in the lab's error shape (the handler's own errors pass through untouched).
ERRORS = {
    400: "the request could not be read (nginx)",
    413: "the body is larger than the proxy takes (nginx)",
    502: "the scoring handler behind the proxy did not answer (nginx)",
    503: "the proxy is overloaded (nginx)",
    504: "the scoring handler behind the proxy did not answer in time (nginx)",
}


def config(proxy: Proxy, prefix: Path) -> str:
    """nginx.conf for ``proxy``, its temporary files and pid under ``prefix``."""
    s = proxy.settings
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers that can read the temporary files under prefix
    errors = "".join(
        f"        location = /_lab_error/{status} {{\n            internal;\n"
        f"            default_type application/json;\n            return {status} '{_error(status, message)}';\n"
        f"        }}\n"
        for status, message in ERRORS.items()
    )
    pages = "".join(f"        error_page {status} /_lab_error/{status};\n" for status in ERRORS)
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in TEMP_KINDS)
    log = f"log_format lab '$msec $upstream_addr $status';\n    access_log {prefix / ACCESS_LOG} lab;"
    return f"""# Written by the lab (lab/proxy.py) for {proxy.name}; rewritten at every start.
{user}worker_processes {s.workers};
pid {prefix / "nginx.pid"};
error_log stderr warn;
events {{
    worker_connections {s.worker_connections};
}}
http {{
    {log if s.access_log else "access_log off;"}
    server_tokens off;
{temp}
    client_header_timeout {s.client_header_timeout_s:g}s;
    client_body_timeout {s.client_body_timeout_s:g}s;
    send_timeout {s.send_timeout_s:g}s;
    keepalive_timeout {s.keepalive_timeout_s:g}s;
    client_max_body_size {s.client_max_body_bytes};
    client_body_buffer_size 64k;
    upstream scoring {{
        server {proxy.upstream};
        keepalive {s.upstream_keepalive};
    }}
    server {{
        listen {proxy.host}:{proxy.port};
{pages}        location / {{
            proxy_pass http://scoring;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_request_buffering on;
            proxy_buffering on;
            proxy_connect_timeout {s.proxy_connect_timeout_s:g}s;
            proxy_read_timeout {s.proxy_read_timeout_s:g}s;
            proxy_send_timeout {s.proxy_read_timeout_s:g}s;
            proxy_next_upstream off;
        }}
{errors}    }}
}}
"""


def folder(proxy: Proxy, workdir: Path) -> Path:
    """Where ``proxy`` keeps its configuration, pid, temporary files and access log: one per port (stacks side by
    side)."""
    return (workdir / f"{proxy.name}-{proxy.port}").resolve()


def write_config(proxy: Proxy, workdir: Path) -> Path:
    prefix = folder(proxy, workdir)
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(config(proxy, prefix))
    return conf


def command(proxy: Proxy, workdir: Path) -> list[str]:
    """Write the configuration under ``workdir`` and return the command that runs nginx in the foreground."""
    binary = find_binary(proxy.settings)
    if binary is None:
        raise NginxNotFound(f"nginx is not installed: `make nginx` installs Debian's {PACKAGE} (apt-get)")
    conf = write_config(proxy, workdir)
    return [binary, "-p", str(conf.parent), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"]


def switch(proxy: Proxy, workdir: Path, upstream: str) -> Proxy:
    """``proxy`` pointed at ``upstream``: its configuration rewritten in place. The running nginx reads it when its
    master gets SIGHUP (``processes.reload``): new workers take new connections at once, the old ones finish the
    requests they hold and exit ("graceful shutdown" in nginx's docs), so nothing in flight is dropped."""
    turned = replace(proxy, upstream=upstream)
    write_config(turned, workdir)
    return turned

"""Our nginx files in a real nginx, laid out as Elastic Beanstalk's platform does,
in front of the Procfile's server.

The platform's nginx.conf includes `conf.d/*.conf` in its `http` block and
`conf.d/elasticbeanstalk/*.conf` in its one `server` block, whose generated
`location /` proxies to the application on 127.0.0.1:8000 (here, a free port).
Needs nginx (.ci/run installs it: apt-get install -y nginx).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from server.config import DEFAULT_MAX_BODY_BYTES
from tests.server.conftest import STUDENT, RunningServer, copy_committed_store, free_port

REPO = Path(__file__).resolve().parents[2]
# Debian puts it in /usr/sbin, which a non-root PATH may lack.
NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin")
CONF_D = REPO / ".platform" / "nginx" / "conf.d"

pytestmark = pytest.mark.skipif(
    NGINX is None and not os.environ.get("CI"),
    reason="nginx is not installed: apt-get install -y nginx",
)

PLATFORM_LIKE_CONF = """\
daemon off;
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {conf_d}/*.conf;
    server {{
        listen 127.0.0.1:{port};
        include {conf_d}/elasticbeanstalk/*.conf;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@contextmanager
def platform_nginx(tmp: Path, upstream: int) -> Iterator[int]:
    """nginx on a free port, proxying to `upstream`; yields its port, always stopped."""
    assert NGINX, "nginx is not installed: apt-get install -y nginx"
    tmp.mkdir(exist_ok=True)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        PLATFORM_LIKE_CONF.format(
            # As root, nginx's workers would run as nobody, who cannot enter
            # pytest's private temporary folders.
            user="user root;" if os.geteuid() == 0 else "",
            tmp=tmp,
            conf_d=CONF_D,
            port=port,
            upstream=upstream,
        )
    )
    checked = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([NGINX, "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        wait_listening(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def nginx_url(tmp_path_factory) -> Iterator[int]:
    """nginx in front of the Procfile server; both stopped at the end."""
    tmp = tmp_path_factory.mktemp("nginx")
    store = copy_committed_store(tmp / "store")
    server = RunningServer(store.root, tmp / "server.log")
    try:
        server.wait_ready()
        with platform_nginx(tmp / "nginx", server.port) as port:
            yield port
    finally:
        server.stop()


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx not listening on {port} after {timeout} s")


def post(port: int, body: bytes, content_type: str = "application/json"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": content_type}
        connection.request("POST", "/predictdata", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def test_a_prediction_goes_through_nginx(nginx_url):
    status, content_type, body = post(nginx_url, json.dumps(STUDENT).encode())
    assert status == 200, body
    assert content_type == "application/json"
    assert 0 <= json.loads(body)["math_score"] <= 120


def test_a_cohort_of_almost_the_whole_limit_reaches_the_server(nginx_url):
    # A JSON array of students just under 16 MiB: nginx buffers it to disk and
    # passes it on; the server scores every student.
    one = json.dumps(STUDENT).encode()
    count = (DEFAULT_MAX_BODY_BYTES - 2) // (len(one) + 1)
    body = b"[" + b",".join([one] * count) + b"]"
    assert len(body) <= DEFAULT_MAX_BODY_BYTES
    status, _, answer = post(nginx_url, body)
    assert status == 200, answer[:300]
    assert json.loads(answer)["count"] == count


def test_a_body_over_the_limit_is_refused_by_nginx_with_a_json_error(nginx_url):
    status, content_type, body = post(nginx_url, b"[" + b" " * DEFAULT_MAX_BODY_BYTES + b"]")
    assert status == 413
    assert content_type == "application/json"
    error = json.loads(body)["error"]
    assert f"{DEFAULT_MAX_BODY_BYTES} bytes" in error
    assert "split the cohort" in error


def test_no_answer_from_gunicorn_is_a_json_502(tmp_path):
    nothing_listens = free_port()
    with platform_nginx(tmp_path, nothing_listens) as port:
        status, content_type, body = post(port, json.dumps(STUDENT).encode())
    assert status == 502
    assert content_type == "application/json"
    assert "send the request again" in json.loads(body)["error"]


def test_the_servers_own_errors_pass_through_untouched(nginx_url):
    status, content_type, body = post(nginx_url, b"[1, 2", "application/json")
    assert (status, content_type) == (400, "application/json")
    assert json.loads(body)["error"].startswith("malformed JSON")

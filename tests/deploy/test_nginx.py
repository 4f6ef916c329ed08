"""Our nginx files in a real nginx, laid out as Elastic Beanstalk's platform does,
in front of the Procfile's server.

The platform's nginx.conf includes `conf.d/*.conf` in its `http` block and
`conf.d/elasticbeanstalk/*.conf` in its one `server` block, where our
00_application.conf replaces the platform's `location /` and proxies to the
application on 127.0.0.1:8000 (here, a free port). Needs nginx (.ci/run
installs it).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    }}
}}
"""
# Our 00_application.conf replaces the platform's `location /`; it proxies to
# Gunicorn on PORT (8000), here moved to the upstream's free port.
APPLICATION_CONF = Path("elasticbeanstalk") / "00_application.conf"
APPLICATION_UPSTREAM = "http://127.0.0.1:8000;"
# The load balancer's addresses (the VPC's private ranges) in the edge file.
EDGE_CONF = Path("studypredict-edge.conf")
A_LOAD_BALANCER_RANGE = "10.0.0.0/8"
# Loopback stands in for the VPC: the "load balancer" connects from 127.0.0.2,
# any other client from 127.0.0.1 (Linux routes all of 127.0.0.0/8 to lo).
LOAD_BALANCER = "127.0.0.2"
ELSEWHERE = "127.0.0.1"


def our_conf_d(tmp: Path, upstream: int, trusted: str | None) -> Path:
    """A copy of our conf.d proxying to `upstream`, the load balancer at `trusted`."""
    conf_d = tmp / "conf.d"
    shutil.copytree(CONF_D, conf_d)
    replace_in(conf_d / APPLICATION_CONF, APPLICATION_UPSTREAM, f"http://127.0.0.1:{upstream};", 1)
    if trusted is not None:
        # Both lists: real_ip's and the one X-Forwarded-Proto is believed from.
        replace_in(conf_d / EDGE_CONF, A_LOAD_BALANCER_RANGE, f"{trusted}/32", 2)
    return conf_d


def replace_in(path: Path, old: str, new: str, count: int) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == count, f"{path.name}: expected {old!r} {count} times"
    path.write_text(text.replace(old, new), encoding="utf-8")


@contextmanager
def platform_nginx(tmp: Path, upstream: int, trusted: str | None = None) -> Iterator[int]:
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
            conf_d=our_conf_d(tmp, upstream, trusted),
            port=port,
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


def get(port: int, path: str, source: str = ELSEWHERE, headers: dict | None = None):
    """GET `path` from the address `source`; the response, already read."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(source, 0)
    )
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.body = response.read()
        return response
    finally:
        connection.close()


def statuses(port: int, count: int, source: str, headers: dict | None = None) -> list:
    """`count` GETs on one keep-alive connection, as fast as nginx answers; each response."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(source, 0)
    )
    answers = []
    try:
        for _ in range(count):
            connection.request("GET", "/health", headers=headers or {})
            response = connection.getresponse()
            response.body = response.read()
            answers.append(response)
    finally:
        connection.close()
    return answers


class EchoHeaders(BaseHTTPRequestHandler):
    """Stands in for Gunicorn where the test must see what nginx forwarded."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = json.dumps({name.lower(): value for name, value in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def behind_load_balancer(tmp_path_factory) -> Iterator[int]:
    """nginx trusting 127.0.0.2 as the load balancer, in front of a header echo."""
    echo = ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    thread = threading.Thread(target=echo.serve_forever, daemon=True)
    thread.start()
    try:
        tmp = tmp_path_factory.mktemp("nginx-lb")
        with platform_nginx(tmp, echo.server_address[1], trusted=LOAD_BALANCER) as port:
            yield port
    finally:
        echo.shutdown()
        echo.server_close()


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


def test_plain_http_through_the_load_balancer_is_redirected_to_https(behind_load_balancer):
    answer = get(
        behind_load_balancer,
        "/model?x=1",
        LOAD_BALANCER,
        {
            "Host": "scores.example.org",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-For": "203.0.113.9",
        },
    )
    assert answer.status == 301
    assert answer.getheader("Location") == "https://scores.example.org/model?x=1"


def test_https_through_the_load_balancer_carries_hsts_and_reaches_the_server(
    behind_load_balancer,
):
    answer = get(
        behind_load_balancer,
        "/model",
        LOAD_BALANCER,
        {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4, 203.0.113.9"},
    )
    assert answer.status == 200
    assert answer.getheader("Strict-Transport-Security") == "max-age=31536000"
    forwarded = json.loads(answer.body)
    assert forwarded["x-forwarded-proto"] == "https"
    # The address the load balancer saw, not the chain the client could write.
    assert forwarded["x-forwarded-for"] == "203.0.113.9"


def test_the_load_balancers_health_checks_are_not_redirected(behind_load_balancer):
    answer = get(behind_load_balancer, "/ready", LOAD_BALANCER)
    assert answer.status == 200
    assert answer.getheader("Strict-Transport-Security") is None
    assert "x-forwarded-proto" not in json.loads(answer.body)


def test_forwarding_headers_from_anyone_but_the_load_balancer_are_not_believed(
    behind_load_balancer,
):
    claims = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"}
    answer = get(behind_load_balancer, "/model", ELSEWHERE, claims)
    assert answer.status == 200
    assert answer.getheader("Strict-Transport-Security") is None
    forwarded = json.loads(answer.body)
    assert "x-forwarded-proto" not in forwarded
    assert forwarded["x-forwarded-for"] == ELSEWHERE
    # Nor is "http" a reason to redirect someone who did not come through it.
    assert (
        get(behind_load_balancer, "/model", ELSEWHERE, {"X-Forwarded-Proto": "http"}).status == 200
    )


def test_a_burst_from_one_client_gets_a_json_429_with_retry_after(tmp_path):
    # Nothing behind nginx: a request the limit lets through is nginx's own
    # JSON 502, answered as fast as a 429, so the burst outruns the refill.
    with platform_nginx(tmp_path, free_port()) as port:
        answers = statuses(port, 300, ELSEWHERE)
        another_client = get(port, "/health", "127.0.0.3")
    refused = [a for a in answers if a.status == 429]
    assert refused, "300 requests at once were all let through"
    assert sum(a.status == 502 for a in answers) >= 100  # the burst allowance
    assert {a.status for a in answers} == {502, 429}
    for answer in refused[:3]:
        assert answer.getheader("Content-Type") == "application/json"
        assert answer.getheader("Retry-After") == "1"
        assert "wait a second" in json.loads(answer.body)["error"]
    assert another_client.status == 502, "the limit is per client, not for everyone"


def test_clients_behind_the_load_balancer_are_limited_one_by_one(behind_load_balancer):
    flooding = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    assert any(
        a.status == 429 for a in statuses(behind_load_balancer, 300, LOAD_BALANCER, flooding)
    )
    other = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.8"}
    assert get(behind_load_balancer, "/health", LOAD_BALANCER, other).status == 200


def test_a_client_at_a_steady_pace_is_never_limited(nginx_url):
    # More requests than the burst allows, at half the rate: all answered.
    for _ in range(150):
        status, _, body = post(nginx_url, json.dumps(STUDENT).encode())
        assert status == 200, body
        time.sleep(1 / 25)

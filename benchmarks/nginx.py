"""nginx as Elastic Beanstalk runs it, our .platform/nginx files in the platform's
nginx.conf in brief (benchmarks/nginx.conf), in front of a launched server.
Two lines of our copy change: the upstream's port, and the per-client rate, which would
refuse one load generator after 100 requests (the limiter still runs).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from benchmarks.launcher import REPO, Server, ServerError

# Debian puts it in /usr/sbin, which a non-root PATH may lack.
NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin")
CONF_D = REPO / ".platform" / "nginx" / "conf.d"
EDITS = {  # file in conf.d -> (our text, the benchmark's)
    "elasticbeanstalk/00_application.conf": ("http://127.0.0.1:8000;", "http://127.0.0.1:{port};"),
    "studypredict-edge.conf": ("rate=50r/s", "rate=1000000r/s"),
}
PLATFORM_CONF = Path(__file__).resolve().parent / "nginx.conf"  # a template


def launch_nginx(upstream: Server, folder: Path) -> Server:
    """nginx on a free loopback port proxying to `upstream`; stop it with `stop()`."""
    if NGINX is None:
        raise ServerError("nginx is not installed: apt-get install -y nginx")
    folder.mkdir(parents=True)
    shutil.copytree(CONF_D, folder / "conf.d")
    for name, (ours, benchmarks) in EDITS.items():
        path = folder / "conf.d" / name
        if path.read_text().count(ours) != 1:
            raise ServerError(f"{path.name} no longer holds {ours!r} once: update {__file__}")
        path.write_text(path.read_text().replace(ours, benchmarks.format(port=upstream.port)))
    with socket.socket() as probe:  # nginx binds its own port: a small race, told if lost
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # As root its workers would run as nobody, who cannot enter a private temporary folder.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(PLATFORM_CONF.read_text().format(user=user, folder=folder, port=port))
    checked = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    if checked.returncode != 0:
        raise ServerError(f"nginx refuses {conf}: {checked.stderr}")
    started_at = time.perf_counter()
    process = subprocess.Popen([NGINX, "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    return Server(process, port, folder / "error.log", started_at)

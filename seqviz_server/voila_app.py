"""Voila with seqviz's follow mode (``seqviz_server/follow.py``) beside it.

    python -m seqviz_server.voila_app <root> [Voila's options]   (serve.py builds the command)

Voila builds its own tornado application; this subclass starts follow mode's fan-out in a
process of its own (``python -m seqviz_server.follow``, same address, its own port, at a lower
priority than the kernels: ``SEQVIZ_FOLLOW_NICE``, default 5), redirects ``/follow...`` there,
and tells the kernels it starts where to publish (``SEQVIZ_FOLLOW_URL``, the fan-out's loopback
address) and with which token (``SEQVIZ_FOLLOW_TOKEN``): kernels and the fan-out inherit this
process's environment, browsers never see it.

Settings: ``SEQVIZ_FOLLOW_PORT`` (default: any free port; give one a firewall lets through for a
class), ``SEQVIZ_FOLLOW_PROCESS=0`` mounts the fan-out on Voila's own loop as before (one port
only, e.g. behind a proxy that forwards just Voila's).
"""

from __future__ import annotations

import atexit
import os
import secrets
import subprocess
import sys
import threading

from tornado.ioloop import IOLoop
from voila.app import Voila

from seqviz_server.follow import TOKEN_ENV, URL_ENV, FollowHub, follow_handlers, redirect_handlers
from seqviz_server import admission  # the cap on dashboard kernels and its queue (issue 17)

_ANY = ("", "0.0.0.0", "::", "127.0.0.1", "localhost")


def start_fanout(ip: str, base_url: str, token: str, allow=(), port: int = 0, nice: int = 5,
                 timeout: float = 30.0, parent: int | None = None) -> tuple[subprocess.Popen, int] | None:
    """The fan-out process and its port; None when it did not start (the caller mounts it itself).
    It ends by itself when ``parent`` (default: this process) ends, even killed."""
    cmd = [sys.executable, "-m", "seqviz_server.follow", "--ip", ip, "--port", str(port), "--base-url", base_url,
           "--parent", str(parent or os.getpid()), "--nice", str(nice)] + [x for a in allow for x in ("--allow", a)]
    env = {**os.environ, TOKEN_ENV: token}
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    except OSError:
        return None
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    line = box[0] if box else ""
    if not line.startswith("seqviz-follow listening "):
        proc.kill()
        return None
    atexit.register(lambda: proc.poll() is None and proc.terminate())
    return proc, int(line.split()[-1])


class SeqvizVoila(Voila):
    hub: FollowHub | None = None  # set only when the fan-out runs on Voila's own loop
    fanout: subprocess.Popen | None = None

    def _publish_url(self) -> str:
        host = "127.0.0.1" if self.ip in _ANY else self.ip
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{self.server_url.rstrip('/')}/"

    def init_handlers(self):
        handlers = admission.install(self, super().init_handlers())
        own = () if self.ip in _ANY else (self.ip,)
        if os.environ.get("SEQVIZ_FOLLOW_PROCESS", "1") != "0":
            token = secrets.token_urlsafe(32)
            ip = "" if self.ip in ("", "0.0.0.0") else ("127.0.0.1" if self.ip == "localhost" else self.ip)
            started = start_fanout(ip, self.server_url, token, own, int(os.environ.get("SEQVIZ_FOLLOW_PORT", "0")),
                                   int(os.environ.get("SEQVIZ_FOLLOW_NICE", "5")))
            if started is not None:
                self.fanout, port = started
                host = "127.0.0.1" if self.ip in _ANY else self.ip
                host = f"[{host}]" if ":" in host else host
                os.environ[TOKEN_ENV] = token
                os.environ[URL_ENV] = f"http://{host}:{port}{self.server_url.rstrip('/')}/"
                self.log.info("seqviz follow mode: fan-out process %s on port %s", self.fanout.pid, port)
                return redirect_handlers(port, self.server_url) + handlers
            self.log.warning("seqviz follow mode: the fan-out process did not start; serving it on Voila's loop")
        self.hub = FollowHub(allowed_ips=own)
        os.environ[TOKEN_ENV] = self.hub.token
        os.environ[URL_ENV] = self._publish_url()

        def started_():  # listen() may have moved to another port: kernels started from now on know
            os.environ[URL_ENV] = self._publish_url()
            self.hub.start()

        IOLoop.current().add_callback(started_)
        return follow_handlers(self.hub, self.server_url) + handlers


main = SeqvizVoila.launch_instance

if __name__ == "__main__":
    main()

"""Voila with seqviz's follow mode (``seqviz_server/follow.py``) mounted on the same server.

    python -m seqviz_server.voila_app <root> [Voila's options]   (serve.py builds the command)

Voila builds its own tornado application; this subclass adds the follow handlers in front of
Voila's and tells the kernels it starts where to publish (``SEQVIZ_FOLLOW_URL``) and with which
token (``SEQVIZ_FOLLOW_TOKEN``): kernels inherit this process's environment, browsers never see it.
"""

from __future__ import annotations

import os

from tornado.ioloop import IOLoop
from voila.app import Voila

from seqviz_server.follow import TOKEN_ENV, URL_ENV, FollowHub, follow_handlers
from seqviz_server import admission  # the cap on dashboard kernels and its queue (issue 17)

_ANY = ("", "0.0.0.0", "::", "127.0.0.1", "localhost")


class SeqvizVoila(Voila):
    hub: FollowHub | None = None

    def _publish_url(self) -> str:
        host = "127.0.0.1" if self.ip in _ANY else self.ip
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{self.server_url.rstrip('/')}/"

    def init_handlers(self):
        handlers = admission.install(self, super().init_handlers())
        own = () if self.ip in _ANY else (self.ip,)
        self.hub = FollowHub(allowed_ips=own)
        os.environ[TOKEN_ENV] = self.hub.token
        os.environ[URL_ENV] = self._publish_url()

        def started():  # listen() may have moved to another port: kernels started from now on know
            os.environ[URL_ENV] = self._publish_url()
            self.hub.start()

        IOLoop.current().add_callback(started)
        return follow_handlers(self.hub, self.server_url) + handlers


main = SeqvizVoila.launch_instance

if __name__ == "__main__":
    main()

"""An HTTP proxy in front of a real server that answers chosen requests with an error: a
registry outage on exactly the call under test, everything else served for real."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def faulty_proxy(
    upstream: str, fails: Callable[[str, str], bool], status: int = 503
) -> Iterator[str]:
    """Yield the proxy's URL; requests for which `fails(method, path)` get `status`."""

    class Handler(BaseHTTPRequestHandler):
        def _relay(self) -> None:
            if fails(self.command, self.path):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error_code": "TEMPORARILY_UNAVAILABLE"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            request = urllib.request.Request(
                upstream.rstrip("/") + self.path, data=body, method=self.command
            )
            for key in ("Content-Type", "Authorization"):
                if self.headers.get(key):
                    request.add_header(key, self.headers[key])
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    code, payload, kind = response.status, response.read(), response.headers
            except urllib.error.HTTPError as error:
                code, payload, kind = error.code, error.read(), error.headers
            self.send_response(code)
            self.send_header("Content-Type", kind.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _relay

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

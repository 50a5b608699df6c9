"""Drop from root to nobody keeping only CAP_NET_BIND_SERVICE, then serve on a port below 1024.

Run as root: ``.venv/bin/python examples/bind_low_port.py``. The server runs in a forked
child, so the script's own process stays as it was; it answers one HTTP request made to
itself on 127.0.0.1 and exits 0.

Everything the dropped child uses is imported before the drop: once it is nobody, it
cannot read a virtualenv under a private home directory to import more.
"""

from __future__ import annotations

import encodings.idna  # noqa: F401 -- socket's host-name codec, needed after the drop
import errno
import http.client
import http.server
import json
import os
import sys
import threading

from hardenkit import current_identity, drop_privileges, get_capabilities


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        me = current_identity()
        body = json.dumps({"uid": me.uid, "user": me.user, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 -- stdlib name
        del format, args  # quiet


def bind_below_1024() -> http.server.HTTPServer:
    """Bind the first free port below 1024 (only possible with CAP_NET_BIND_SERVICE)."""
    for port in range(1023, 512, -1):
        server = _try_bind(port)
        if server is not None:
            return server
    raise SystemExit("no free port below 1024")


def _try_bind(port: int) -> http.server.HTTPServer | None:
    try:
        return http.server.HTTPServer(("127.0.0.1", port), Hello)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            return None
        raise


def serve_one_request() -> int:
    """In the child: drop, bind, serve our own request, report."""
    identity = drop_privileges("nobody", keep={"NET_BIND_SERVICE"})
    sets = get_capabilities()
    print(f"dropped to {identity.user} (uid {identity.uid}, groups {list(identity.groups)})")
    print(f"effective capabilities: {sorted(c.name for c in sets.effective)}")
    print(f"bounding set: {sorted(c.name for c in sets.bounding)}")
    with bind_below_1024() as server:
        port = server.server_address[1]
        thread = threading.Thread(target=server.handle_request)
        thread.start()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/hello")
        reply = json.loads(conn.getresponse().read())
        conn.close()
        thread.join()
    print(f"served port {port} and got back {reply}")
    return 0 if reply["uid"] == identity.uid and port < 1024 else 1  # noqa: PLR2004


def main() -> int:
    if os.geteuid() != 0:
        print("run me as root: I show how root becomes nobody and keeps one capability")
        return 0
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = serve_one_request()
        except Exception as err:  # noqa: BLE001 -- report anything, then exit the child
            print(f"child failed: {type(err).__name__}: {err}")
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print("the parent is still uid", os.getuid(), "- the child exited with", code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

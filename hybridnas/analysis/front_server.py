"""``hybridnas serve``: the interactive front page of a run, redrawn as the run directory changes.

A :class:`LiveFront` reads the run (never writes it: the page is rendered in memory) and keeps
the last payload it built; the page polls ``/data.json?since=<stamp>`` and gets the whole
payload only when the run's files changed (their sizes and modification times are the stamp).
A search writes the run while it is read: records are appended a whole line at a time and a
line still being written is skipped (:meth:`RunStore.records`), whole files are replaced
atomically; anything else that fails mid-read keeps the last good payload and says why in the
page's status line, and the next poll tries again.

The server is the standard library's ``ThreadingHTTPServer``. It binds 127.0.0.1 unless told
otherwise, refuses a host that is not a loopback address unless ``allow_remote``, and (when not
remote) answers only requests addressed to a loopback name, so another site's page cannot
reach it through DNS rebinding.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from ..errors import UserError
from ..store import RunStore
from ..store.layout import BLOCKS, CONFIG, DATASET, EVALS, FRONT_JSON, GENERATIONS, MANIFEST, PICKS, SUMMARY, TRAINED

WATCHED = (CONFIG, DATASET, BLOCKS, EVALS, TRAINED, PICKS, FRONT_JSON, SUMMARY, MANIFEST)
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str, resolve: bool = True) -> bool:
    """Whether every address ``host`` names is a loopback address (127.0.0.0/8, ::1). Without
    ``resolve`` only an address or a name of this machine (localhost) counts: a request's Host
    header must not be looked up, since DNS rebinding points an attacker's name at 127.0.0.1."""
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        pass
    if h.lower() in LOOPBACK_NAMES:
        return True
    if not resolve:
        return False
    try:
        infos = socket.getaddrinfo(h, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def _stat(p: Path) -> Optional[Tuple[int, int]]:
    try:
        s = p.stat()
    except OSError:
        return None
    return (s.st_size, s.st_mtime_ns)


class LiveFront:
    """The payload of a run's page, rebuilt when the run's files change."""

    def __init__(self, root: Path, run: Optional[str] = None):
        self.store = RunStore.open_existing(Path(root))  # a missing or foreign folder: UserError now
        self.run = run
        self._lock = threading.Lock()
        self._stamp: Optional[str] = None
        self._payload: Optional[Dict[str, Any]] = None
        self._body: Optional[bytes] = None
        self._cells: Tuple[Any, List[Optional[str]]] = (None, [])
        self.warning = ""

    def stamp(self) -> str:
        root = self.store.root
        parts = [(rel, _stat(root / rel)) for rel in WATCHED]
        gens = root / GENERATIONS
        try:
            names = sorted(p.name for p in gens.iterdir())
        except OSError:
            names = []
        parts.append((GENERATIONS, names, _stat(gens / names[-1]) if names else None))
        return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]

    def _build(self, stamp: str) -> Dict[str, Any]:
        from ..results import RunResults
        from .front_page import Snapshot
        from .front_view import cell_images, payload

        results = Snapshot(RunStore(self.store.root))
        blocks = _stat(self.store.path(BLOCKS))
        if blocks != self._cells[0]:  # drawing the cells takes a moment: once per library
            self._cells = (blocks, cell_images(RunResults(RunStore(self.store.root))))
        return payload(results, self.run, cells=self._cells[1], stamp=stamp)

    def current(self, strict: bool = False) -> Tuple[str, Dict[str, Any], bytes]:
        """``(stamp, payload, payload as JSON)``; rebuilt when the run changed since the last call.
        ``strict``: a run that cannot be read raises instead of keeping the last state."""
        with self._lock:
            stamp = self.stamp()
            if stamp != self._stamp or self._payload is None:
                try:
                    built = self._build(stamp)
                except Exception as exc:  # noqa: BLE001 - a run being written: keep what was shown, say why
                    if strict:
                        raise
                    self.warning = (f"could not read the run just now ({type(exc).__name__}: {exc}); "
                                    "showing the last state")
                    if self._payload is None:
                        from .front_view import empty_payload

                        self._payload = empty_payload(self.store.root.name, self.run or str(self.store.root))
                        self._body = json.dumps(self._payload, allow_nan=False).encode()
                else:
                    self.warning = ""
                    self._stamp, self._payload = stamp, built
                    self._body = json.dumps(built, allow_nan=False).encode()
            return self._stamp or "", self._payload, self._body


def make_handler(live: LiveFront, every_ms: int, allow_remote: bool):
    from .front_view import render

    class Handler(BaseHTTPRequestHandler):
        server_version = "hybridnas-serve"

        def log_message(self, format, *args):  # noqa: A002 - quiet: the terminal shows the URL, not every poll
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's naming
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            if not allow_remote and not is_loopback(host or "127.0.0.1", resolve=False):
                return self._send(HTTPStatus.FORBIDDEN, b"forbidden: not addressed to this machine\n", "text/plain")
            url = urlsplit(self.path)
            if url.path in ("/", "/index.html"):
                _, pl, _ = live.current()
                page = render(pl, live={"url": "data.json", "every_ms": every_ms})
                return self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
            if url.path == "/data.json":
                stamp, _, body = live.current()
                since = parse_qs(url.query).get("since", [""])[0]
                if since and since == stamp:
                    body = json.dumps({"stamp": stamp, "warning": live.warning}).encode()
                elif live.warning:
                    d = json.loads(body)
                    d["warning"] = live.warning
                    body = json.dumps(d).encode()
                return self._send(HTTPStatus.OK, body, "application/json")
            return self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

        do_HEAD = do_GET

    return Handler


def serve(run, host: str = "127.0.0.1", port: int = 8765, allow_remote: bool = False, every_s: float = 2.0,
          label: Optional[str] = None, ready=None) -> None:
    """Serve the page of ``run`` until interrupted. ``ready(url)`` is called once it listens."""
    from ..errors import require
    from .front_view import PURPOSE

    require("plotly", "interactive", PURPOSE)
    if not allow_remote and not is_loopback(host):
        raise UserError(f"--host {host} is not a loopback address, so the page would be reachable from other machines; "
                        "add --allow-remote to serve it there, or leave --host out (127.0.0.1)")
    if not every_s > 0:
        raise UserError(f"--every {every_s:g} must be a number of seconds > 0; give e.g. --every 2")
    live = LiveFront(Path(run), label)
    live.current(strict=True)  # read the run once before listening: a broken run fails here, not in the browser
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

    try:
        httpd = Server((host.strip("[]"), port), make_handler(live, int(every_s * 1000), allow_remote))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port "
                        "(or --port 0 for any free one)") from None
    with httpd:
        h, p = httpd.server_address[:2]
        url = f"http://{'[' + h + ']' if ':' in h else h}:{p}/"
        if ready is not None:
            ready(url)
        httpd.serve_forever(poll_interval=0.5)  # Ctrl-C: the CLI says 'interrupted' and exits 130

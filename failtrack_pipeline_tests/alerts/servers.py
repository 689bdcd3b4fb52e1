"""Real servers on 127.0.0.1 for the channels: Slack's Web API (`chat.postMessage`), a
webhook receiver and an SMTP server (aiosmtpd). Each can go down (nothing listens on its
port: connection refused) and come back up on the same port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from failtrack_pipeline.testing.webserver import free_port


class _HttpReceiver:
    """An HTTP server recording the body of every POST it answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return {}

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = self.headers.get("Content-Type", "")
                if "json" in kind:
                    body = json.loads(raw)
                else:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                receiver.received.append(body)
                receiver.headers.append(dict(self.headers))
                reply = json.dumps(receiver.answer(self.path, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class SlackApi(_HttpReceiver):
    """Answers `chat.postMessage` as Slack does; `base_url` is what the SDK is given."""

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path != "/api/chat.postMessage":
            return {"ok": False, "error": "unknown_method"}
        return {"ok": True, "channel": body.get("channel"), "ts": "1.0", "message": body}


class WebhookReceiver(_HttpReceiver):
    pass


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class SmtpServer:
    """With `login` (user, password), sending needs that login (AUTH without TLS)."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.login = login
        self._collector = _Collector()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Message]:
        return self._collector.messages

    def up(self) -> None:
        auth: dict[str, Any] = {}
        if self.login is not None:
            auth = {
                "auth_required": True,
                "auth_require_tls": False,
                "authenticator": self._authenticate,
            }
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()

    def _authenticate(self, *args: Any) -> AuthResult:
        auth_data = args[-1]
        given = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        return AuthResult(success=given == self.login)

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def running(*servers: Any) -> Iterator[None]:
    for server in servers:
        server.up()
    try:
        yield
    finally:
        for server in servers:
            server.down()

"""A local stand-in for the Slack Web API: a real HTTP server (thread) that records every call.

It answers what the bot's WebClient calls: auth.test, chat.postMessage, chat.update, chat.postEphemeral, views.open, and
files upload v2 (files.getUploadURLExternal, a POST of the bytes to the returned upload URL, then
files.completeUploadExternal). Tests wait on it for a message with a condition, never on a timer.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    raw: bytes = b""
    reply: dict[str, Any] = field(default_factory=dict)  # what the mock answered (e.g. the posted ts)


@dataclass
class SlackMock:
    server: ThreadingHTTPServer
    calls: list[Call] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    fail: dict[str, str] = field(default_factory=dict)  # method -> Slack error to answer with
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def record(self, call: Call) -> None:
        with self.cond:
            self.calls.append(call)
            self.cond.notify_all()

    def of(self, method: str) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, pred: Callable[[list[Call]], Any], timeout: float = 180.0) -> Any:
        """The first truthy ``pred(calls)``; fails the test (with what was seen) if it never comes."""
        with self.cond:
            result = self.cond.wait_for(lambda: pred(list(self.calls)), timeout=timeout)
            if not result:
                seen = [(c.method, str(c.params.get("text", ""))[:80]) for c in self.calls]
                raise AssertionError(f"Slack mock: condition not met in {timeout}s; calls: {seen}")
            return result

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _params(handler: BaseHTTPRequestHandler, raw: bytes) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(urlparse(handler.path).query))
    ctype = handler.headers.get("Content-Type", "")
    if "json" in ctype and raw:
        params.update(json.loads(raw))
    elif raw and "form" in ctype:
        params.update(parse_qsl(raw.decode()))
    for key in ("blocks", "files"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def start_mock() -> SlackMock:
    mock: SlackMock

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, body: dict[str, Any] | str, status: int = 200) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlparse(self.path).path
            if path.startswith("/upload/"):
                mock.record(Call("upload", {"file_id": path.rsplit("/", 1)[-1]}, raw))
                return self._reply("OK - uploaded")
            method = path.removeprefix("/api/")
            params = _params(self, raw)
            call = Call(method, params, raw)
            call.reply = reply = self._answer(method, params)
            mock.record(call)
            return self._reply(reply)

        def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
            if method in mock.fail:
                return {"ok": False, "error": mock.fail[method]}
            if method == "auth.test":
                return {"ok": True, "url": "https://example.slack.com/", "team": "Example", "user": "rca",
                        "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"}
            if method == "chat.postMessage":
                ts = mock.next_ts()
                return {"ok": True, "channel": params.get("channel"), "ts": ts,
                        "message": {"text": params.get("text"), "ts": ts}}
            if method == "chat.update":
                return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": mock.next_ts()}
            if method == "files.getUploadURLExternal":
                fid = f"F{len(mock.of(method)) + 1:04d}"
                return {"ok": True, "file_id": fid, "upload_url": f"{mock.base}/upload/{fid}"}
            if method == "files.completeUploadExternal":
                files = params.get("files") or []
                return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
            if method == "views.open":
                view = params.get("view")
                return {"ok": True, "view": {"id": f"V{len(mock.of(method)) + 1}",
                                             **(json.loads(view) if isinstance(view, str) else view or {})}}
            if method == "response_url":
                return {"ok": True}
            return {"ok": False, "error": "unknown_method"}

        do_GET = do_POST  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    mock = SlackMock(server=server)
    threading.Thread(target=server.serve_forever, daemon=True, name="slack-mock").start()
    return mock

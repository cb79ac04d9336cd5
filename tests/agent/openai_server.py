"""A local HTTP server speaking the OpenAI chat-completions protocol (JSON and SSE streaming, tool calls),
driven by a LangChain-message policy; it can answer 429 or stall to exercise the client's retries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages


class OpenAIStub:
    """``with OpenAIStub(policy) as stub:`` then point ChatOpenAI at ``stub.base_url``."""

    def __init__(self, policy: Callable[[list[BaseMessage]], AIMessage], *, fail_first: int = 0,
                 fail_status: int = 429, stall_first: int = 0, stall_s: float = 0.0) -> None:
        self.policy = policy
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.stall_first = stall_first
        self.stall_s = stall_s
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.requests.append(body)
                    n = len(stub.requests)
                if n <= stub.stall_first:
                    time.sleep(stub.stall_s)
                if n <= stub.fail_first:
                    payload = json.dumps({"error": {"message": "rate limited", "type": "rate_limit"}}).encode()
                    self.send_response(stub.fail_status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                msgs = [m for m in body["messages"]]
                for m in msgs:  # the protocol's assistant tool calls carry arguments as a JSON string
                    if m.get("role") == "assistant" and m.get("content") is None:
                        m["content"] = ""
                reply = stub.policy(list(convert_to_messages(msgs)))
                calls = [{"id": tc["id"] or f"call_{i}", "type": "function",
                          "function": {"name": tc["name"], "arguments": json.dumps(tc["args"])}}
                         for i, tc in enumerate(reply.tool_calls)]
                content = reply.content if isinstance(reply.content, str) else ""
                usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()

                    def send(delta: dict[str, Any], finish: str | None = None, use: Any = None) -> None:
                        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                        if use is not None:
                            chunk = {**chunk, "choices": [], "usage": use}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())

                    send({"role": "assistant", "content": ""})
                    for i in range(0, len(content), 16):
                        send({"content": content[i:i + 16]})
                    for i, c in enumerate(calls):
                        send({"tool_calls": [{"index": i, **c}]})
                    send({}, "tool_calls" if calls else "stop")
                    if (body.get("stream_options") or {}).get("include_usage"):
                        send({}, use=usage)
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                message: dict[str, Any] = {"role": "assistant", "content": content or None}
                if calls:
                    message["tool_calls"] = calls
                payload = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                                      "choices": [{"index": 0, "message": message,
                                                   "finish_reason": "tool_calls" if calls else "stop"}],
                                      "usage": usage}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

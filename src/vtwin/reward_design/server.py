"""An offline, scripted OpenAI-compatible chat-completions server, for tests and demos.

No model runs: every answer comes from a script of :class:`ScriptedReply` entries indexed by
``(round, sample)``. The request body's integer ``seed`` picks the entry — the reward-design
loop sends ``seed = 1000 * round + sample``, so ``round = seed // 1000`` and
``sample = seed % 1000`` (a request without a seed is round 0, sample 0). A reply can be slow
(``delay_s``), fail with an HTTP status (``status``) or fail with HTTP 500 for its first
``fail_first`` requests, which exercises a client's timeouts and retries.

Endpoints: ``POST /v1/chat/completions`` (also ``/chat/completions``) and ``GET /v1/models``
(also ``/models``). Answers have the ``chat.completion`` JSON shape the ``openai`` client
parses; token counts are a deterministic estimate (``len(text) // 4 + 1`` per message).

Only the standard library is used (YAML scripts need PyYAML, a vtwin dependency). From a
shell, ``python -m vtwin.reward_design.server --script FILE [--port N]`` serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["OfflineChatServer", "ScriptedReply", "load_script", "main"]

_CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_MODELS_PATHS = frozenset({"/v1/models", "/models"})
_SEED_STRIDE = 1000  # seed = 1000 * round + sample
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


@dataclass(frozen=True)
class ScriptedReply:
    """One scripted answer: its text, a delay in seconds, an HTTP status, and early failures.

    ``status != 200`` answers that HTTP status with an OpenAI-style JSON error body;
    ``fail_first = n`` answers HTTP 500 to the first ``n`` requests for this reply, then
    succeeds.
    """

    content: str = ""
    delay_s: float = 0.0
    status: int = 200
    fail_first: int = 0

    def __post_init__(self) -> None:
        if not self.delay_s >= 0.0:
            raise ValueError(f"ScriptedReply.delay_s must be >= 0 seconds, got {self.delay_s!r}")
        if not 100 <= self.status <= 599:
            raise ValueError(
                f"ScriptedReply.status must be an HTTP status 100-599, got {self.status!r}"
            )
        if self.fail_first < 0:
            raise ValueError(f"ScriptedReply.fail_first must be >= 0, got {self.fail_first!r}")


Script = Mapping[tuple[int, int], ScriptedReply] | Sequence[Sequence[ScriptedReply]]


def _estimate_tokens(text: str) -> int:
    """A deterministic token estimate: one token per four characters, plus one."""
    return len(text) // 4 + 1


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, a list of text parts, or anything else."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return json.dumps(content, sort_keys=True)


class _Handler(BaseHTTPRequestHandler):
    """Request handler; the owning :class:`OfflineChatServer` is ``self.server.owner``."""

    server: _HTTPServer
    error_content_type = "application/json"
    error_message_format = (
        '{"error": {"message": "%(message)s", "type": "http_error", "code": %(code)d}}'
    )

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr log."""

    def do_GET(self) -> None:
        """Serve the model list."""
        path = self.path.split("?", 1)[0].rstrip("/")
        owner = self.server.owner
        if path in _MODELS_PATHS:
            model = {"id": owner.model, "object": "model", "created": 0, "owned_by": "vtwin"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"no such endpoint: GET {path}")

    def do_POST(self) -> None:
        """Serve a chat completion from the script."""
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in _CHAT_PATHS:
            self._send_error(404, f"no such endpoint: POST {path}")
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._send_error(400, f"request body is not valid JSON: {exc}")
            return
        if not isinstance(body, dict):
            self._send_error(400, "request body must be a JSON object")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner._handle_chat(self, body, headers)

    def _send_json(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        # a client that gave up (a timeout) has nobody left to answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def _send_error(self, status: int, message: str) -> None:
        error = {
            "message": message,
            "type": _ERROR_TYPES.get(status, "server_error" if status >= 500 else "api_error"),
            "param": None,
            "code": status,
        }
        self._send_json(status, {"error": error})


class _HTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its owner and does not wait for handlers on close."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], owner: OfflineChatServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client that hangs up mid-answer is expected (timeouts)."""


class OfflineChatServer:
    """A scripted OpenAI-compatible chat server on ``host:port`` (port 0: an ephemeral one).

    ``script`` is either a mapping ``{(round, sample): ScriptedReply}`` — a missing key
    answers HTTP 404 naming the round and sample — or a sequence of rounds, each a sequence
    of replies, read ``script[round][sample]`` and wrapped around (``round mod n_rounds``,
    ``sample mod n_samples_of_that_round``) when out of range.

    Use as a context manager (or :meth:`start` / :meth:`close`). For tests it keeps
    :attr:`requests` (the request bodies, in order of arrival), :attr:`request_headers`
    (their headers, lower-cased names, same order) and :meth:`count` (requests per
    ``(round, sample)``).
    """

    def __init__(
        self,
        script: Script,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "vtwin-offline",
    ) -> None:
        self.model = model
        self._mapping: dict[tuple[int, int], ScriptedReply] | None = None
        self._rounds: list[list[ScriptedReply]] | None = None
        if isinstance(script, Mapping):
            self._mapping = {(int(r), int(s)): reply for (r, s), reply in script.items()}
            replies = list(self._mapping.values())
        else:
            self._rounds = [list(round_) for round_ in script]
            if not self._rounds or any(not round_ for round_ in self._rounds):
                raise ValueError(
                    "OfflineChatServer: a sequence script needs >= 1 round, each with >= 1 reply"
                )
            replies = [reply for round_ in self._rounds for reply in round_]
        for reply in replies:
            if not isinstance(reply, ScriptedReply):
                got = type(reply).__name__
                raise TypeError(
                    f"OfflineChatServer: script entries must be ScriptedReply, got {got}"
                )
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._served: dict[tuple[int, int], int] = {}  # requests per resolved script entry
        self._counts: dict[tuple[int, int], int] = {}  # requests per requested (round, sample)
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self._host = host
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on (the ephemeral one when built with port 0)."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``http://host:port/v1``."""
        return f"http://{self._host}:{self.port}/v1"

    def count(self, round_: int, sample: int) -> int:
        """How many chat requests arrived for ``(round, sample)`` so far (errors included)."""
        with self._lock:
            return self._counts.get((round_, sample), 0)

    @property
    def counts(self) -> dict[tuple[int, int], int]:
        """A copy of the request count per ``(round, sample)``."""
        with self._lock:
            return dict(self._counts)

    def start(self) -> OfflineChatServer:
        """Serve on a daemon thread; returns ``self``. Starting twice is an error."""
        if self._thread is not None:
            raise RuntimeError("OfflineChatServer already started")
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"vtwin-offline-chat-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close the socket; delayed answers in flight are cut short."""
        self._closing.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> OfflineChatServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _resolve(self, round_: int, sample: int) -> tuple[tuple[int, int], ScriptedReply] | None:
        """The script entry (its key and reply) answering ``(round, sample)``, or None."""
        if self._mapping is not None:
            reply = self._mapping.get((round_, sample))
            return None if reply is None else ((round_, sample), reply)
        assert self._rounds is not None
        r = round_ % len(self._rounds)
        s = sample % len(self._rounds[r])
        return (r, s), self._rounds[r][s]

    def _handle_chat(
        self, handler: _Handler, body: dict[str, Any], headers: dict[str, str]
    ) -> None:
        """Answer one parsed chat request (called on the handler's thread)."""
        messages = body.get("messages")
        if not isinstance(messages, list):
            handler._send_error(400, "request body lacks a 'messages' list")
            return
        seed = body.get("seed", 0)
        if seed is None:
            seed = 0
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            handler._send_error(400, f"'seed' must be a non-negative integer, got {seed!r}")
            return
        round_, sample = divmod(seed, _SEED_STRIDE)
        resolved = self._resolve(round_, sample)
        served = 0
        with self._lock:
            self.requests.append(body)
            self.request_headers.append(headers)
            self._counts[(round_, sample)] = self._counts.get((round_, sample), 0) + 1
            if resolved is not None:
                served = self._served.get(resolved[0], 0)
                self._served[resolved[0]] = served + 1
        if resolved is None:
            handler._send_error(
                404, f"no scripted reply for round {round_}, sample {sample} (seed {seed})"
            )
            return
        _, reply = resolved
        if reply.delay_s > 0.0 and self._closing.wait(reply.delay_s):
            return  # shutting down
        if served < reply.fail_first:
            handler._send_error(
                500,
                f"scripted failure {served + 1} of {reply.fail_first} "
                f"for round {round_}, sample {sample}",
            )
            return
        if reply.status != 200:
            handler._send_error(
                reply.status, f"scripted HTTP {reply.status} for round {round_}, sample {sample}"
            )
            return
        prompt_tokens = sum(
            _estimate_tokens(_text_of(m.get("content"))) for m in messages if isinstance(m, dict)
        )
        completion_tokens = _estimate_tokens(reply.content)
        model = body.get("model")
        with self._lock:
            n = len(self.requests)
        handler._send_json(
            200,
            {
                "id": f"chatcmpl-vtwin-{round_}-{sample}-{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model if isinstance(model, str) else self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )


_REPLY_FIELDS = tuple(f.name for f in fields(ScriptedReply))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# each reply field: (does a loaded value fit, what is allowed)
_FIELD_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "content": (lambda v: isinstance(v, str), "a string"),
    "delay_s": (
        lambda v: (_is_int(v) or isinstance(v, float)) and v >= 0,
        "a number of seconds >= 0",
    ),
    "status": (lambda v: _is_int(v) and 100 <= v <= 599, "an HTTP status (integer 100-599)"),
    "fail_first": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
}


def _check_field(where: str, name: str, value: Any) -> None:
    """Raise ValueError (without the file name) when a reply field has the wrong type or range."""
    fits, allowed = _FIELD_RULES[name]
    if not fits(value):
        raise ValueError(f"{where}.{name}: expected {allowed}, got {value!r}")


def _parse_script(data: Any) -> dict[tuple[int, int], ScriptedReply]:
    """The ``{(round, sample): reply}`` of a loaded ``{"rounds": [[{...}, ...], ...]}``."""
    if not isinstance(data, dict):
        raise ValueError(
            f"top level: expected a mapping with the field 'rounds', got {type(data).__name__}"
        )
    unknown = sorted(str(k) for k in data if k != "rounds")
    if unknown:
        raise ValueError(f"top level: unknown field {unknown[0]!r} (allowed: rounds)")
    rounds = data.get("rounds")
    if not isinstance(rounds, list) or not rounds:
        raise ValueError("rounds: expected a non-empty list of rounds (each a list of replies)")
    script: dict[tuple[int, int], ScriptedReply] = {}
    for r, round_ in enumerate(rounds):
        if not isinstance(round_, list) or not round_:
            raise ValueError(f"rounds[{r}]: expected a non-empty list of replies")
        for s, entry in enumerate(round_):
            where = f"rounds[{r}][{s}]"
            if not isinstance(entry, dict):
                allowed = ", ".join(_REPLY_FIELDS)
                raise ValueError(
                    f"{where}: expected a mapping with fields {allowed}, got {entry!r}"
                )
            for name, value in entry.items():
                if name not in _REPLY_FIELDS:
                    allowed = ", ".join(_REPLY_FIELDS)
                    raise ValueError(f"{where}: unknown field {name!r} (allowed: {allowed})")
                _check_field(where, name, value)
            script[(r, s)] = ScriptedReply(**entry)
    return script


def load_script(path: Path | str) -> dict[tuple[int, int], ScriptedReply]:
    """Read a YAML or JSON script ``{"rounds": [[{"content": ..., "delay_s": ...}, ...], ...]}``.

    Returns ``{(round, sample): ScriptedReply}``. A missing, unreadable or malformed file, or
    an unknown or ill-typed field, raises a one-line ValueError naming the file and the field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the script: {exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        detail = " ".join(str(exc).split())
        raise ValueError(
            f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {detail}"
        ) from exc
    try:
        return _parse_script(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a script file until Ctrl-C, printing the base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m vtwin.reward_design.server",
        description="Offline scripted OpenAI-compatible chat server (for tests and demos).",
    )
    parser.add_argument("--script", required=True, type=Path, help="YAML or JSON script file")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port (default 0: an ephemeral one)"
    )
    parser.add_argument("--model", default="vtwin-offline", help="model name in GET /v1/models")
    args = parser.parse_args(argv)
    try:
        script = load_script(args.script)
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
    with OfflineChatServer(script, host=args.host, port=args.port, model=args.model) as server:
        print(
            f"serving {len(script)} scripted replies at {server.base_url} (Ctrl-C to stop)",
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped", flush=True)


if __name__ == "__main__":
    main()

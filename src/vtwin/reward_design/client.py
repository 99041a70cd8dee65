"""The chat client of the reward-design loop: one OpenAI-compatible server, retries, a cache.

:class:`ChatClient` sends chat completions through the ``openai`` package (an optional
dependency: ``pip install 'vtwin[llm]'``; imported only when a client is built) to any
OpenAI-compatible server — OpenAI itself, vLLM, llama.cpp, Ollama, or the offline
:class:`~vtwin.reward_design.server.OfflineChatServer`.

* Retries are ours, bounded and logged in the reply (``attempts``): connection errors,
  timeouts, HTTP 429 and HTTP 5xx are retried after ``backoff_s * 2**attempt`` seconds, up
  to ``max_retries`` times; any other HTTP error (4xx) fails at once. Failures raise
  :class:`ChatError` with a one-line message naming the server and model.
* With ``cache_dir``, each reply is stored as ``<key>.json``, the key being the SHA-256 of
  the canonical JSON of ``{model, messages, seed, temperature, max_tokens}`` — not the base
  URL, so a rerun against a server on another port (or another host) reuses the replies.
  A hit makes no request and costs nothing; an unreadable cache file is a miss.
* The API key is read from an environment variable (``OPENAI_API_KEY`` by default; local
  servers accept the placeholder used when it is unset) and is never stored or written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ChatClient", "ChatError", "ChatReply", "ChatTotals", "cache_key"]

_PLACEHOLDER_KEY = "not-needed"
_MAX_DETAIL = 300  # characters of a server's error message kept in a ChatError


class ChatError(RuntimeError):
    """A chat request failed; the one-line message names the server, the model and the cause."""


@dataclass(frozen=True)
class ChatReply:
    """One chat completion: its text, token counts, cost in USD, and how it was obtained.

    ``cached`` replies came from the cache (``cost_usd == 0``, ``attempts == 0``); ``key``
    is the cache key; ``attempts`` counts HTTP requests made (1 + retries); ``seconds`` is
    the wall time of :meth:`ChatClient.complete`.
    """

    content: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cached: bool
    key: str
    attempts: int
    seconds: float


@dataclass(frozen=True)
class ChatTotals:
    """Cumulative counts of one client: HTTP requests sent (retries included), cache hits,
    tokens and cost (USD) of the replies the server sent (cache hits are free, not counted)."""

    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


def _canonical_json(obj: Any) -> str:
    """Sorted-key, compact JSON: the same text for the same request, on any machine."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def cache_key(request: dict[str, Any]) -> str:
    """The SHA-256 hex digest of a request's canonical JSON (see :meth:`ChatClient.complete`)."""
    return hashlib.sha256(_canonical_json(request).encode("utf-8")).hexdigest()


def _one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    """Whitespace collapsed to single spaces, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class ChatClient:
    """Chat completions from one OpenAI-compatible server, with bounded retries and a cache.

    ``base_url`` is the server's API root (e.g. ``http://127.0.0.1:8000/v1``); ``model``
    the model name sent with each request; ``api_key_env`` the environment variable holding
    the API key; ``timeout_s`` the per-request timeout in seconds; ``max_retries`` how many
    times a retryable failure is retried, after ``backoff_s * 2**attempt`` seconds;
    ``cache_dir`` a folder of cached replies (None: no cache); ``usd_per_1k_prompt`` and
    ``usd_per_1k_completion`` the prices in USD per 1000 tokens.

    Raises :class:`ChatError` when the ``openai`` package is missing. Thread-safe:
    :meth:`complete` may run on several threads at once.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        cache_dir: Path | str | None = None,
        usd_per_1k_prompt: float = 0.0,
        usd_per_1k_completion: float = 0.0,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"ChatClient: timeout_s must be > 0 seconds, got {timeout_s!r}")
        if max_retries < 0:
            raise ValueError(f"ChatClient: max_retries must be >= 0, got {max_retries!r}")
        if not backoff_s >= 0:
            raise ValueError(f"ChatClient: backoff_s must be >= 0 seconds, got {backoff_s!r}")
        if not (usd_per_1k_prompt >= 0 and usd_per_1k_completion >= 0):
            raise ValueError("ChatClient: prices per 1k tokens must be >= 0 USD")
        self.base_url = base_url
        self.model = model
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.usd_per_1k_prompt = float(usd_per_1k_prompt)
        self.usd_per_1k_completion = float(usd_per_1k_completion)
        try:
            import openai
        except ImportError as exc:
            raise ChatError(
                f"chat client for {base_url} (model {model!r}) needs the 'openai' package: "
                "pip install 'vtwin[llm]'"
            ) from exc
        self._openai = openai
        # the key lives only in the openai client: never in an attribute, a message or a file
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=os.environ.get(api_key_env) or _PLACEHOLDER_KEY,
            timeout=self.timeout_s,
            max_retries=0,
        )
        self._retryable: tuple[type[BaseException], ...] = (
            openai.APIConnectionError,  # includes APITimeoutError
            openai.RateLimitError,
            openai.InternalServerError,
        )
        self._lock = threading.Lock()
        self._totals = ChatTotals()
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return (
            f"ChatClient(base_url={self.base_url!r}, model={self.model!r}, "
            f"cache_dir={self.cache_dir!r})"
        )

    def close(self) -> None:
        """Close the HTTP connections of the underlying openai client."""
        self._client.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def totals(self) -> ChatTotals:
        """Cumulative requests, cache hits, tokens and cost (USD) of this client so far."""
        with self._lock:
            return self._totals

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The price in USD of a reply with these token counts."""
        return (
            prompt_tokens / 1000.0 * self.usd_per_1k_prompt
            + completion_tokens / 1000.0 * self.usd_per_1k_completion
        )

    def request_of(
        self,
        messages: list[dict[str, str]],
        *,
        seed: int,
        temperature: float = 1.0,
        max_tokens: int = 4096,
    ) -> dict[str, Any]:
        """The normalised request whose canonical JSON is the cache key's input."""
        return {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "seed": int(seed),
            "temperature": float(temperature),
            "max_tokens": int(max_tokens),
        }

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        seed: int,
        temperature: float = 1.0,
        max_tokens: int = 4096,
    ) -> ChatReply:
        """One chat completion of ``messages`` (``{"role", "content"}`` dicts), from the cache
        when it holds the same request, else from the server (retrying as documented above).

        ``seed`` is sent to the server (the offline server picks its scripted reply from it);
        ``temperature`` and ``max_tokens`` (the completion's limit in tokens) too. Raises
        :class:`ChatError` when the server fails for good or the cache file cannot be written.
        """
        start = time.perf_counter()
        request = self.request_of(
            messages, seed=seed, temperature=temperature, max_tokens=max_tokens
        )
        key = cache_key(request)
        stored = self._cache_load(key, request)
        if stored is not None:
            with self._lock:
                self._totals = _add(self._totals, cache_hits=1)
            return ChatReply(
                content=stored["content"],
                prompt_tokens=stored["prompt_tokens"],
                completion_tokens=stored["completion_tokens"],
                cost_usd=0.0,
                cached=True,
                key=key,
                attempts=0,
                seconds=time.perf_counter() - start,
            )
        content, prompt_tokens, completion_tokens, model, attempts = self._request(request)
        cost = self.cost_usd(prompt_tokens, completion_tokens)
        with self._lock:
            self._totals = _add(
                self._totals,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost_usd=cost,
            )
        self._cache_store(
            key,
            {
                "request": request,
                "content": content,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "model": model,
            },
        )
        return ChatReply(
            content=content,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            cached=False,
            key=key,
            attempts=attempts,
            seconds=time.perf_counter() - start,
        )

    # --- the server --------------------------------------------------------------------------

    def _fail(self, what: str) -> ChatError:
        """A ChatError naming the server and model, with the API key scrubbed out."""
        message = f"chat request to {self.base_url} (model {self.model!r}) failed: {what}"
        secret = self._client.api_key
        if secret and secret != _PLACEHOLDER_KEY:
            message = message.replace(secret, "***")
        return ChatError(message)

    def _request(self, request: dict[str, Any]) -> tuple[str, int, int, str, int]:
        """Send ``request``, retrying; (content, prompt tokens, completion tokens, model, tries)."""
        openai = self._openai
        tries = self.max_retries + 1
        for attempt in range(tries):
            with self._lock:
                self._totals = _add(self._totals, requests=1)
            try:
                response = self._client.chat.completions.create(
                    model=request["model"],
                    messages=request["messages"],
                    seed=request["seed"],
                    temperature=request["temperature"],
                    max_tokens=request["max_tokens"],
                )
            except self._retryable as exc:
                if attempt + 1 < tries:
                    time.sleep(self.backoff_s * 2**attempt)
                    continue
                raise self._fail(
                    f"{_describe(openai, exc, self.timeout_s)} (gave up after {tries} tries)"
                ) from exc
            except openai.APIStatusError as exc:
                raise self._fail(f"{_describe(openai, exc, self.timeout_s)} (not retried)") from exc
            except openai.OpenAIError as exc:
                raise self._fail(f"{type(exc).__name__}: {_one_line(str(exc))}") from exc
            if not response.choices:
                raise self._fail("the reply has no choices")
            content = response.choices[0].message.content or ""
            usage = response.usage
            prompt_tokens = int(usage.prompt_tokens) if usage is not None else 0
            completion_tokens = int(usage.completion_tokens) if usage is not None else 0
            model = response.model if isinstance(response.model, str) else request["model"]
            return content, prompt_tokens, completion_tokens, model, attempt + 1
        raise AssertionError("unreachable")  # pragma: no cover

    # --- the cache ---------------------------------------------------------------------------

    def _cache_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{key}.json"

    def _cache_load(self, key: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The stored reply for ``key``; None when absent, unreadable or not this request's."""
        path = self._cache_path(key)
        if path is None:
            return None
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(stored, dict):
            return None
        # compare canonical forms: a file for another request (or a hand-edited one) is a miss
        if _canonical_json(stored.get("request")) != _canonical_json(request):
            return None
        if not isinstance(stored.get("content"), str):
            return None
        if not (
            _is_count(stored.get("prompt_tokens")) and _is_count(stored.get("completion_tokens"))
        ):
            return None
        return stored

    def _cache_store(self, key: str, entry: dict[str, Any]) -> None:
        """Write ``entry`` as ``<key>.json`` atomically (a temporary file, then a rename)."""
        path = self._cache_path(key)
        if path is None:
            return
        tmp_name: str | None = None
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle, sort_keys=True, indent=1)
                handle.write("\n")
            os.replace(tmp_name, path)
            tmp_name = None
        except OSError as exc:
            raise self._fail(f"cannot write the cache file {path}: {exc}") from exc
        finally:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)


def _add(totals: ChatTotals, **delta: float) -> ChatTotals:
    """``totals`` with each named field increased by its delta."""
    return ChatTotals(
        requests=totals.requests + int(delta.get("requests", 0)),
        cache_hits=totals.cache_hits + int(delta.get("cache_hits", 0)),
        prompt_tokens=totals.prompt_tokens + int(delta.get("prompt_tokens", 0)),
        completion_tokens=totals.completion_tokens + int(delta.get("completion_tokens", 0)),
        cost_usd=totals.cost_usd + float(delta.get("cost_usd", 0.0)),
    )


def _describe(openai: Any, exc: BaseException, timeout_s: float) -> str:
    """One line on an openai exception: a timeout, a connection error, or an HTTP status."""
    if isinstance(exc, openai.APITimeoutError):
        return f"timed out (timeout {timeout_s:g} s per try)"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f": {_one_line(str(cause))}" if cause is not None else ""
        return f"connection error{detail}"
    if isinstance(exc, openai.APIStatusError):
        # the server's own message when its body is OpenAI-shaped (``body`` is the "error"
        # object), else the exception text less openai's "Error code: N - " prefix
        body = exc.body
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str) or not message:
            message = re.sub(r"^Error code: \d+( - )?", "", str(exc.message)) or "(no message)"
        return f"HTTP {exc.status_code}: {_one_line(message)}"
    return f"{type(exc).__name__}: {_one_line(str(exc))}"

"""From a model's reply to candidate reward code: JSON first, a fenced code block as fallback.

The loop asks for one JSON object ``{"name": …, "rationale": …, "code": "def reward(terms): …"}``
per reply. Models wrap it in prose or a ```json fence, escape it badly, or answer with a
```python block instead; :func:`extract_candidate` accepts all of these and otherwise says
why the reply cannot be used, so that the reason is recorded and fed back, never dropped.
The code is then checked by the sandbox's static allow-list (parse, constructs, signature).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from vtwin.rewards.sandbox import SandboxError, check_source

__all__ = ["Extracted", "extract_candidate"]

_FENCE = re.compile(r"```([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)
_MAX_NAME = 40


@dataclass(frozen=True)
class Extracted:
    """One reply's candidate: ``code`` (None when unusable), how it was found (``json``,
    ``fenced`` or ``none``), its name and rationale, and ``reason`` when unusable."""

    code: str | None
    how: str
    name: str = ""
    rationale: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether the reply gave code that passed the static check."""
        return self.code is not None and not self.reason


def _json_objects(text: str) -> list[Any]:
    """JSON values found in ``text``: the whole text, ```json fences, then each ``{…}`` span
    decoded from its first brace (raw control characters inside strings are accepted)."""
    found: list[Any] = []
    decoder = json.JSONDecoder(strict=False)  # models often leave raw newlines in strings
    candidates = [text.strip()]
    candidates += [body for lang, body in _FENCE.findall(text) if lang.lower() in ("json", "")]
    for blob in candidates:
        try:
            found.append(decoder.decode(blob))
        except ValueError:
            continue
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        found.append(value)
    return found


def _from_json(value: Any) -> tuple[str, str, str] | None:
    """(code, name, rationale) of a JSON reply, or None when it has no code string."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict) and isinstance(value.get("rewards"), list) and value["rewards"]:
        value = value["rewards"][0]
    if not isinstance(value, dict):
        return None
    code = value.get("code")
    if not isinstance(code, str) or not code.strip():
        return None
    name = value.get("name")
    rationale = value.get("rationale")
    return (
        code,
        name if isinstance(name, str) else "",
        rationale if isinstance(rationale, str) else "",
    )


def _clean_name(name: str, fallback: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip())[:_MAX_NAME].strip("_")
    return cleaned or fallback


def extract_candidate(reply: str, *, fallback_name: str, entry: str = "reward") -> Extracted:
    """The candidate in ``reply`` (JSON first, else the last fenced Python block that defines
    ``entry``), checked by :func:`~vtwin.rewards.sandbox.check_source`."""
    if not isinstance(reply, str) or not reply.strip():
        return Extracted(None, "none", fallback_name, reason="the reply is empty")
    code = name = rationale = None
    how = "none"
    for value in _json_objects(reply):
        parsed = _from_json(value)
        if parsed is not None:
            code, name, rationale = parsed
            how = "json"
            break
    if code is None:
        blocks = [
            body for lang, body in _FENCE.findall(reply) if lang.lower() in ("python", "py", "")
        ]
        blocks = [b for b in blocks if f"def {entry}" in b]
        if blocks:
            code, how = blocks[-1], "fenced"
    if code is None:
        return Extracted(
            None,
            "none",
            fallback_name,
            reason=(
                "no usable code: expected a JSON object with a 'code' string (or a fenced "
                f"python block defining {entry}(terms))"
            ),
        )
    label = _clean_name(name or "", fallback_name)
    try:
        check_source(code, entry)
    except SandboxError as exc:
        return Extracted(code, how, label, rationale or "", reason=f"static check: {exc}")
    return Extracted(code, how, label, rationale or "")

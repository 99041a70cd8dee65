"""The offline chat server and the reward-design chat client, against each other.

Server tests talk plain HTTP (urllib) and run without ``openai``; client tests skip when
``openai`` is not installed.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vtwin.reward_design.server import OfflineChatServer, ScriptedReply, load_script, main

MESSAGES = [
    {"role": "system", "content": "You design rewards."},
    {"role": "user", "content": "Write a reward for the servers observation."},
]


def _post(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    """POST raw bytes; (HTTP status, JSON body) — error statuses included."""
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _chat(server: OfflineChatServer, seed: int | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"model": "m", "messages": MESSAGES}
    if seed is not None:
        body["seed"] = seed
    return _post(f"{server.base_url}/chat/completions", json.dumps(body).encode())


def _content(payload: dict[str, Any]) -> str:
    content = payload["choices"][0]["message"]["content"]
    assert isinstance(content, str)
    return content


@pytest.fixture
def grid() -> Iterator[OfflineChatServer]:
    """A 2-round × 2-sample sequence script, served."""
    script = [
        [ScriptedReply("r0s0"), ScriptedReply("r0s1")],
        [ScriptedReply("r1s0"), ScriptedReply("r1s1")],
    ]
    with OfflineChatServer(script) as server:
        yield server


# --- the server ---------------------------------------------------------------------------


def test_seed_picks_round_and_sample_in_the_sequence_form(grid: OfflineChatServer) -> None:
    for seed, expected in [(0, "r0s0"), (1, "r0s1"), (1000, "r1s0"), (1001, "r1s1")]:
        status, payload = _chat(grid, seed)
        assert status == 200
        assert payload["object"] == "chat.completion"
        assert payload["choices"][0]["finish_reason"] == "stop"
        assert _content(payload) == expected
    # out of range wraps: round 2 -> 0, sample 3 -> 1; and no seed is round 0, sample 0
    assert _content(_chat(grid, 2003)[1]) == "r0s1"
    assert _content(_chat(grid)[1]) == "r0s0"
    assert grid.count(2, 3) == 1
    assert grid.count(0, 0) == 2
    assert [body.get("seed") for body in grid.requests] == [0, 1, 1000, 1001, 2003, None]


def test_the_mapping_form_and_404_naming_round_and_sample() -> None:
    script = {(0, 0): ScriptedReply("first"), (3, 7): ScriptedReply("late")}
    with OfflineChatServer(script) as server:
        assert _content(_chat(server, 3007)[1]) == "late"
        assert _content(_chat(server, 0)[1]) == "first"
        status, payload = _chat(server, 3008)
    assert status == 404
    assert "round 3, sample 8" in payload["error"]["message"]
    assert server.count(3, 8) == 1


def test_usage_is_a_deterministic_estimate(grid: OfflineChatServer) -> None:
    _, payload = _chat(grid, 1)
    prompt = sum(len(m["content"]) // 4 + 1 for m in MESSAGES)
    assert payload["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": len("r0s1") // 4 + 1,
        "total_tokens": prompt + len("r0s1") // 4 + 1,
    }


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"model": "m"}', "messages"),
        (b'{"messages": [], "seed": "seven"}', "seed"),
    ],
)
def test_bad_requests_get_400_with_a_json_error(
    grid: OfflineChatServer, data: bytes, needle: str
) -> None:
    status, payload = _post(f"{grid.base_url}/chat/completions", data)
    assert status == 400
    assert payload["error"]["type"] == "invalid_request_error"
    assert needle in payload["error"]["message"]


def test_both_chat_paths_and_the_model_list(grid: OfflineChatServer) -> None:
    root = grid.base_url.removesuffix("/v1")
    body = json.dumps({"messages": MESSAGES, "seed": 1000}).encode()
    assert _content(_post(f"{root}/chat/completions", body)[1]) == "r1s0"
    with urllib.request.urlopen(f"{grid.base_url}/models", timeout=5) as response:
        listing = json.loads(response.read())
    assert [m["id"] for m in listing["data"]] == ["vtwin-offline"]
    assert grid.port > 0
    assert grid.base_url == f"http://127.0.0.1:{grid.port}/v1"


def test_the_server_rejects_an_empty_round() -> None:
    with pytest.raises(ValueError, match="each with >= 1 reply"):
        OfflineChatServer([[ScriptedReply("a")], []])
    with pytest.raises(ValueError, match="status"):
        ScriptedReply(status=42)


def test_load_script_reads_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "script.yaml"
    yaml_file.write_text(
        "rounds:\n  - [{content: a}, {content: b, delay_s: 0.5}]\n  - [{status: 429}]\n"
    )
    json_file = tmp_path / "script.json"
    json_file.write_text(json.dumps({"rounds": [[{"content": "j", "fail_first": 2}]]}))
    assert load_script(yaml_file) == {
        (0, 0): ScriptedReply("a"),
        (0, 1): ScriptedReply("b", delay_s=0.5),
        (1, 0): ScriptedReply(status=429),
    }
    assert load_script(json_file) == {(0, 0): ScriptedReply("j", fail_first=2)}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("rounds:\n  - [{content: a, dealy_s: 1}]\n", ["rounds[0][0]", "'dealy_s'", "delay_s"]),
        ("rounds:\n  - [{content: 3}]\n", ["rounds[0][0].content", "a string"]),
        ("rounds:\n  - [{status: 9000}]\n", ["rounds[0][0].status", "100-599"]),
        ("rounds:\n  - [{fail_first: -1}]\n", ["fail_first", ">= 0"]),
        ("turns: []\n", ["unknown field 'turns'", "allowed: rounds"]),
        ("rounds: [[]]\n", ["rounds[0]", "non-empty"]),
        ("rounds: [[{content: a}\n", ["not valid YAML"]),
    ],
)
def test_load_script_errors_name_the_file_and_the_field(
    tmp_path: Path, text: str, needles: list[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_script(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for needle in needles:
        assert needle in message


def test_load_script_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing\.yaml"):
        load_script(tmp_path / "missing.yaml")


def test_main_exits_2_on_a_bad_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"rounds": [[{"text": "a"}]]}')
    with pytest.raises(SystemExit) as info:
        main(["--script", str(path)])
    assert info.value.code == 2
    assert "unknown field 'text'" in capsys.readouterr().err


# --- the client ---------------------------------------------------------------------------


@pytest.fixture
def chat_client() -> Any:
    """The client module, or a skip when openai is not installed."""
    pytest.importorskip("openai")
    from vtwin.reward_design import client

    return client


def test_a_round_trip_returns_the_scripted_reply(grid: OfflineChatServer, chat_client: Any) -> None:
    with chat_client.ChatClient(grid.base_url, "m", backoff_s=0.01) as client:
        reply = client.complete(MESSAGES, seed=1001, temperature=0.7, max_tokens=64)
    assert reply.content == "r1s1"
    assert (reply.cached, reply.attempts) == (False, 1)
    assert reply.prompt_tokens == sum(len(m["content"]) // 4 + 1 for m in MESSAGES)
    body = grid.requests[-1]
    assert (body["seed"], body["temperature"], body["max_tokens"]) == (1001, 0.7, 64)
    assert body["messages"] == MESSAGES


def test_server_errors_are_retried_until_success(chat_client: Any) -> None:
    with OfflineChatServer([[ScriptedReply("third time", fail_first=2)]]) as server:
        client = chat_client.ChatClient(server.base_url, "m", backoff_s=0.01, max_retries=3)
        reply = client.complete(MESSAGES, seed=0)
        assert (reply.content, reply.attempts) == ("third time", 3)
        assert server.count(0, 0) == 3
        assert client.totals.requests == 3


def test_retries_are_bounded(chat_client: Any) -> None:
    with OfflineChatServer([[ScriptedReply("never", fail_first=5)]]) as server:
        client = chat_client.ChatClient(server.base_url, "m", backoff_s=0.01, max_retries=2)
        with pytest.raises(chat_client.ChatError) as info:
            client.complete(MESSAGES, seed=0)
        assert server.count(0, 0) == 3
    message = str(info.value)
    assert server.base_url in message
    assert "HTTP 500" in message
    assert "3 tries" in message


@pytest.mark.parametrize("status", [400, 401])
def test_client_errors_are_not_retried(chat_client: Any, status: int) -> None:
    with OfflineChatServer([[ScriptedReply(status=status)]]) as server:
        client = chat_client.ChatClient(server.base_url, "m", backoff_s=0.01, max_retries=3)
        with pytest.raises(chat_client.ChatError, match=f"HTTP {status}") as info:
            client.complete(MESSAGES, seed=0)
        assert server.count(0, 0) == 1
    assert "'m'" in str(info.value)


def test_a_slow_server_times_out_quickly(chat_client: Any) -> None:
    with OfflineChatServer([[ScriptedReply("late", delay_s=2.0)]]) as server:
        client = chat_client.ChatClient(
            server.base_url, "m", timeout_s=0.3, max_retries=1, backoff_s=0.01
        )
        start = time.perf_counter()
        with pytest.raises(chat_client.ChatError, match="timed out") as info:
            client.complete(MESSAGES, seed=0)
        assert time.perf_counter() - start < 5.0
        assert server.count(0, 0) == 2
    assert "2 tries" in str(info.value)


def test_a_closed_port_is_a_connection_error(chat_client: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    client = chat_client.ChatClient(base_url, "m", max_retries=1, backoff_s=0.01)
    with pytest.raises(chat_client.ChatError, match="connection error") as info:
        client.complete(MESSAGES, seed=0)
    assert base_url in str(info.value)


def test_the_cache_makes_a_repeat_free_across_servers(chat_client: Any, tmp_path: Path) -> None:
    script = [[ScriptedReply("cached text")]]
    with OfflineChatServer(script) as first:
        client = chat_client.ChatClient(
            first.base_url, "m", cache_dir=tmp_path, usd_per_1k_completion=1.0
        )
        miss = client.complete(MESSAGES, seed=0)
        hit = client.complete(MESSAGES, seed=0)
        assert len(first.requests) == 1
    assert (miss.cached, hit.cached) == (False, True)
    assert miss.cost_usd > 0
    assert (hit.cost_usd, hit.attempts) == (0.0, 0)
    assert hit.content == miss.content == "cached text"
    assert hit.key == miss.key
    assert (client.totals.requests, client.totals.cache_hits) == (1, 1)
    stored = json.loads((tmp_path / f"{miss.key}.json").read_text())
    assert stored["request"]["seed"] == 0
    assert stored["content"] == "cached text"
    # a rerun: a new server on another port, a new client, the same cache folder
    with OfflineChatServer(script) as second:
        assert second.port != first.port
        rerun = chat_client.ChatClient(second.base_url, "m", cache_dir=tmp_path)
        again = rerun.complete(MESSAGES, seed=0)
        assert second.requests == []
    assert (again.cached, again.content, again.key) == (True, "cached text", miss.key)


def test_the_key_covers_seed_model_and_sampling(chat_client: Any, tmp_path: Path) -> None:
    with OfflineChatServer([[ScriptedReply("a"), ScriptedReply("b")]]) as server:
        client = chat_client.ChatClient(server.base_url, "m", cache_dir=tmp_path)
        keys = {
            client.complete(MESSAGES, seed=0).key,
            client.complete(MESSAGES, seed=1).key,
            client.complete(MESSAGES, seed=0, temperature=0.5).key,
            client.complete(MESSAGES, seed=0, max_tokens=10).key,
            chat_client.ChatClient(server.base_url, "other").complete(MESSAGES, seed=0).key,
        }
        assert len(server.requests) == 5
    assert len(keys) == 5
    assert len(list(tmp_path.glob("*.json"))) == 4
    assert list(tmp_path.glob("*.tmp")) == []
    # an int temperature is the same request as its float
    assert client.request_of(MESSAGES, seed=0, temperature=1) == client.request_of(
        MESSAGES, seed=0, temperature=1.0
    )


@pytest.mark.parametrize(
    "corrupt",
    ["{truncated", "[]", '{"content": "x"}', '{"request": {}, "content": "x", "prompt_tokens": 1}'],
)
def test_a_corrupt_cache_file_is_a_miss_and_is_rewritten(
    chat_client: Any, tmp_path: Path, corrupt: str
) -> None:
    with OfflineChatServer([[ScriptedReply("fresh")]]) as server:
        client = chat_client.ChatClient(server.base_url, "m", cache_dir=tmp_path)
        key = chat_client.cache_key(client.request_of(MESSAGES, seed=0))
        path = tmp_path / f"{key}.json"
        path.write_text(corrupt)
        reply = client.complete(MESSAGES, seed=0)
        assert (reply.cached, reply.content, reply.key) == (False, "fresh", key)
        assert len(server.requests) == 1
        assert json.loads(path.read_text())["content"] == "fresh"
        assert client.complete(MESSAGES, seed=0).cached


def test_cost_accounting(chat_client: Any) -> None:
    messages = [{"role": "user", "content": "x" * 40}]  # 11 prompt tokens
    with OfflineChatServer([[ScriptedReply("y" * 400)]]) as server:  # 101 completion tokens
        client = chat_client.ChatClient(
            server.base_url, "m", usd_per_1k_prompt=0.5, usd_per_1k_completion=2.0
        )
        first = client.complete(messages, seed=0)
        client.complete(messages, seed=1)
    assert (first.prompt_tokens, first.completion_tokens) == (11, 101)
    assert first.cost_usd == pytest.approx(11 * 0.5 / 1000 + 101 * 2.0 / 1000)
    totals = client.totals
    assert (totals.requests, totals.cache_hits) == (2, 0)
    assert (totals.prompt_tokens, totals.completion_tokens) == (22, 202)
    assert totals.cost_usd == pytest.approx(2 * first.cost_usd)


def test_the_api_key_comes_from_the_named_variable_and_is_never_stored(
    chat_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-vtwin-test-0123456789"
    monkeypatch.setenv("VTWIN_TEST_LLM_KEY", secret)
    monkeypatch.delenv("VTWIN_TEST_UNSET_KEY", raising=False)
    with OfflineChatServer([[ScriptedReply("ok"), ScriptedReply("ok too")]]) as server:
        client = chat_client.ChatClient(
            server.base_url, "m", api_key_env="VTWIN_TEST_LLM_KEY", cache_dir=tmp_path
        )
        client.complete(MESSAGES, seed=0)
        anonymous = chat_client.ChatClient(server.base_url, "m", api_key_env="VTWIN_TEST_UNSET_KEY")
        anonymous.complete(MESSAGES, seed=1)
        headers = server.request_headers
    assert headers[0]["authorization"] == f"Bearer {secret}"
    assert headers[1]["authorization"] == "Bearer not-needed"
    assert secret not in repr(client)
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert secret not in files[0].read_text()


def test_a_missing_openai_package_is_a_chat_error(
    chat_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` fail
    with pytest.raises(chat_client.ChatError, match=r"pip install 'vtwin\[llm\]'"):
        chat_client.ChatClient("http://127.0.0.1:9/v1", "m")

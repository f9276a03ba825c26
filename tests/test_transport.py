"""The transport: what the openai SDK's client put on the wire, sent without the SDK.

Requests are counted at a server (the fake, or one here that counts connections); nothing
is proven by timing.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import sys

import pytest
from fake_answers import completion

from pytest_toolcall.send import http
from pytest_toolcall.send.transport import NO_KEY_PLACEHOLDER, Sender, SendSettings

CHAT = {"model": "m", "messages": [{"role": "user", "content": "héllo ✈"}], "n": 1}
LAND = {"tool": "land_drone", "args": {"location": "home_base"}}
EXPECT = "{tool: land_drone, args: {location: home_base}}"


def send(settings: SendSettings, body=CHAT):
    """One request through a fresh Sender, closed afterwards."""

    async def go():
        sender = Sender(settings)
        try:
            return await sender.send(body)
        finally:
            await sender.aclose()

    return asyncio.run(go())


def seen(server, index: int = -1) -> dict[str, str]:
    """The headers the server received in its `index`-th request, names lower-cased."""
    return {name.lower(): value for name, value in server.requests[index]["headers"].items()}


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# -- a live run --------------------------------------------------------------------------


def test_a_live_run_never_imports_openai(pytester, fake_openai, drone_tools):
    cases = "".join(f"  - {{id: c{i}, prompt: 'land {i}', expect: {EXPECT}}}\n" for i in range(3))
    pytester.makefile(".yaml", suite=f"tools: tools.json\ncases:\n{cases}")
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            roots = {m.split('.')[0] for m in sys.modules}
            open('loaded.txt', 'w').write(repr(sorted(roots & {'openai', 'httpx', 'httpx2'})))
        """
    )
    server = fake_openai({f"land {i}": LAND for i in range(3)})
    result = pytester.runpytest_subprocess(
        "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    result.assert_outcomes(passed=4)  # 3 cases and the suite's gate
    assert len(server.requests) == 3  # live: each one went out
    loaded = ast.literal_eval((pytester.path / "loaded.txt").read_text())
    assert "openai" not in loaded
    assert http.library().__name__ in loaded  # what they went out through


# -- headers -----------------------------------------------------------------------------


def test_the_key_organization_and_project_are_sent_as_the_sdk_sent_them(fake_openai, clean_env):
    clean_env.setenv("OPENAI_ORG_ID", "org-123")
    clean_env.setenv("OPENAI_PROJECT_ID", "proj-456")
    server = fake_openai({"héllo ✈": {"text": "hi"}})
    answer, exchange = send(SendSettings(base_url=server.base_url, api_key="sk-test"))
    assert answer.text == "hi"
    sent = seen(server)
    assert sent["authorization"] == "Bearer sk-test"
    assert sent["openai-organization"] == "org-123"
    assert sent["openai-project"] == "proj-456"
    assert sent["content-type"] == "application/json"
    assert sent["accept"] == "application/json"
    assert sent["user-agent"] == http.USER_AGENT and "pytest-toolcall" in http.USER_AGENT
    assert sent["connection"] == "keep-alive"
    assert exchange.request_headers["authorization"] == "Bearer sk-test"  # what is recorded


def test_without_a_key_the_placeholder_is_sent_and_no_organization(fake_openai, clean_env):
    server = fake_openai()
    send(SendSettings(base_url=server.base_url, api_key=None))
    sent = seen(server)
    assert sent["authorization"] == f"Bearer {NO_KEY_PLACEHOLDER}"
    assert "openai-organization" not in sent and "openai-project" not in sent


def test_extra_headers_are_sent_as_given_and_win_in_any_case(fake_openai, clean_env):
    server = fake_openai()
    extra = {"api-key": "azure-key", "user-agent": "mine/1", "AUTHORIZATION": "Token t"}
    _, exchange = send(SendSettings(base_url=server.base_url, api_key="sk-test", headers=extra))
    sent = seen(server)
    assert sent["api-key"] == "azure-key"
    assert sent["user-agent"] == "mine/1"
    assert sent["authorization"] == "Token t"
    # One value each: ours replaced the defaults rather than joining them.
    assert exchange.request_headers["user-agent"] == "mine/1"
    assert exchange.request_headers["authorization"] == "Token t"


def test_openai_custom_headers_are_sent_under_the_explicit_ones(fake_openai, clean_env):
    clean_env.setenv("OPENAI_CUSTOM_HEADERS", "X-Gateway: g1\nX-Team:  drones \nno colon here")
    server = fake_openai()
    send(SendSettings(base_url=server.base_url, api_key=None, headers={"x-team": "ours"}))
    sent = seen(server)
    assert sent["x-gateway"] == "g1"
    assert sent["x-team"] == "ours"
    assert not any("no colon" in name for name in sent)


def test_an_explicit_authorization_drops_the_environments(fake_openai, clean_env):
    clean_env.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer from-env")
    server = fake_openai()
    send(SendSettings(base_url=server.base_url, api_key="sk-test"))
    assert seen(server)["authorization"] == "Bearer from-env"  # the SDK let it win...
    send(SendSettings(base_url=server.base_url, api_key=None, headers={"Authorization": "mine"}))
    assert seen(server)["authorization"] == "mine"  # ...unless one was given explicitly


# -- URL and body ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/"])
def test_the_api_path_is_joined_under_the_base_url(fake_openai, clean_env, suffix):
    server = fake_openai()
    _, exchange = send(SendSettings(base_url=server.base_url + suffix, api_key=None))
    assert server.requests[-1]["path"] == "/v1/chat/completions"
    assert exchange.url == f"{server.base_url}/chat/completions"
    responses = {"model": "m", "input": [{"role": "user", "content": "hi"}]}
    send(SendSettings(base_url=server.base_url + suffix, api_key=None), responses)
    assert server.requests[-1]["path"] == "/v1/responses"


def test_without_a_base_url_openai_base_url_is_used(fake_openai, clean_env):
    server = fake_openai()
    clean_env.setenv("OPENAI_BASE_URL", server.base_url.replace("/v1", "/proxy/v1"))
    send(SendSettings(base_url=None, api_key=None))
    assert server.requests[-1]["path"] == "/proxy/v1/chat/completions"


def test_without_any_base_url_it_is_openais():
    base = http.with_trailing_slash(http.library(), http.DEFAULT_BASE_URL)
    url = http.join(base, "/chat/completions")
    assert str(url) == "https://api.openai.com/v1/chat/completions"


def test_the_body_goes_out_as_compact_utf8_json(fake_openai, clean_env):
    server = fake_openai()
    _, exchange = send(SendSettings(base_url=server.base_url, api_key=None))
    expected = json.dumps(CHAT, ensure_ascii=False, separators=(",", ":")).encode()
    assert exchange.request_body == expected
    assert "héllo ✈".encode() in exchange.request_body
    assert server.requests[-1]["body"] == CHAT
    assert exchange.method == "POST" and exchange.status == 200 and exchange.reason == "OK"
    assert json.loads(exchange.response_body)["object"] == "chat.completion"


# -- errors ------------------------------------------------------------------------------


def test_an_api_error_is_the_servers_message(fake_openai, clean_env):
    server = fake_openai({"héllo ✈": {"status": 400, "error": "tools[0] is invalid"}})
    answer, exchange = send(SendSettings(base_url=server.base_url, api_key="sk-test"))
    url = f"{server.base_url}/chat/completions"
    assert answer.error == f"HTTP 400 from {url}: tools[0] is invalid"
    assert exchange is None
    assert len(server.requests) == 1  # a 400 is not retried


def test_a_401_without_a_key_says_so(fake_openai, clean_env):
    server = fake_openai({"héllo ✈": {"status": 401, "error": "bad key"}})
    answer, _ = send(SendSettings(base_url=server.base_url, api_key=None))
    assert answer.error.endswith(": bad key (OPENAI_API_KEY is not set)")
    answer, _ = send(SendSettings(base_url=server.base_url, api_key="sk-test"))
    assert answer.error.endswith(": bad key")


def mocked(monkeypatch, settings: SendSettings, handler, body=CHAT):
    """The answer and exchange of a Sender whose client, made as ever, answers through
    `handler` (the library's MockTransport) instead of the network."""
    library = http.library()
    real = library.AsyncClient
    transport = library.MockTransport(handler)
    monkeypatch.setattr(library, "AsyncClient", lambda **kw: real(transport=transport, **kw))
    sender = Sender(settings)

    async def go():
        try:
            return await sender.send(body)
        finally:
            await sender.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("status", "content", "said"),
    [
        (502, b"<html>Bad Gateway</html>", "Error code: 502"),
        (400, b'{"error": {"code": "x"}}', "Error code: 400"),
        (400, b'["not", "a", "mapping"]', "Error code: 400"),
        (422, b'{"message": "top-level message"}', "top-level message"),
        (400, b'{"error": {"message": ""}}', "Error code: 400"),
    ],
)
def test_an_error_body_without_a_message_says_what_the_sdk_said(monkeypatch, status, content, said):
    calls = []

    def handler(request):
        calls.append(request)
        return http.library().Response(status, content=content)

    settings = SendSettings(base_url="http://api.test/v1", api_key="k", retries=1)
    answer, exchange = mocked(monkeypatch, settings, handler)
    message = f"HTTP {status} from http://api.test/v1/chat/completions: {said}"
    if status >= 500:
        assert len(calls) == 2  # retried
        assert answer.error == f"no answer after 2 attempts: {message}"
    else:
        assert len(calls) == 1
        assert answer.error == message
    assert exchange is None


def test_a_redirect_is_followed_and_the_final_url_recorded(monkeypatch):
    def handler(request):
        if request.url.path == "/v1/chat/completions":
            return http.library().Response(307, headers={"location": "/v2/chat/completions"})
        return http.library().Response(200, json=completion(CHAT, {"text": "moved"}, "m"))

    settings = SendSettings(base_url="http://api.test/v1", api_key="k")
    answer, exchange = mocked(monkeypatch, settings, handler)
    assert answer.text == "moved"
    assert exchange.url == "http://api.test/v2/chat/completions"


def test_the_http_library_is_the_one_openai_requires(monkeypatch):
    import importlib.metadata

    both = ["httpx2", "httpx"]
    monkeypatch.setattr(importlib.metadata, "requires", lambda _: ["anyio", "httpx<1,>=0.23"])
    assert http._sdk_requirement(both) == "httpx"
    requirements = ["httpx>=0.23; extra == 'legacy'", "httpx2<3,>=2.12.0"]
    monkeypatch.setattr(importlib.metadata, "requires", lambda _: requirements)
    assert http._sdk_requirement(both) == "httpx2"


# -- connections -------------------------------------------------------------------------


class CountingServer:
    """HTTP/1.1 on 127.0.0.1, in the test's own loop: counts connections, keeps each one
    alive, and answers a round's requests only once all `together` of them arrived, so
    they must all be in flight at once (else, after `patience_s`, a 503)."""

    def __init__(self, together: int, patience_s: float = 10.0) -> None:
        self.together, self.patience_s = together, patience_s
        self.connections = 0
        self.request_lines: list[bytes] = []
        self.handlers: set[asyncio.Task] = set()
        self.next_round()

    def next_round(self) -> None:
        self.arrived = 0
        self.everyone = asyncio.Event()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        """Once the client closed its connections: every handler has seen it end."""
        self.server.close()
        await asyncio.gather(*self.handlers)
        await self.server.wait_closed()

    async def _serve(self, reader, writer) -> None:
        self.connections += 1
        self.handlers.add(asyncio.current_task())
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.request_lines.append(head.split(b"\r\n")[0])
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                await reader.readexactly(int(length[1]) if length else 0)
                self.arrived += 1
                if self.arrived == self.together:
                    self.everyone.set()
                try:
                    await asyncio.wait_for(self.everyone.wait(), self.patience_s)
                    status, data = b"200 OK", json.dumps(completion(CHAT, {"text": "ok"}, "m"))
                except asyncio.TimeoutError:
                    status, data = b"503 Busy", json.dumps({"error": {"message": "alone"}})
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(data), data.encode())
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def test_concurrency_connections_are_open_at_once_and_kept_alive(clean_env):
    concurrency = 120  # more than the library's defaults: 100 connections, 20 kept alive

    async def go() -> list[list[str | None]]:
        server = CountingServer(together=concurrency)
        base = await server.start()
        settings = SendSettings(f"{base}/v1", None, concurrency=concurrency, retries=0)
        sender = Sender(settings)
        sender.open()
        rounds = []
        try:
            for _ in range(2):
                server.next_round()
                answers = await asyncio.gather(*(sender.send(CHAT) for _ in range(concurrency)))
                rounds.append([answer.error for answer, _ in answers])
        finally:
            await sender.aclose()
            await server.close()
        assert server.connections == concurrency  # the second round reused every one
        return rounds

    assert asyncio.run(go()) == [[None] * concurrency] * 2


def test_proxies_come_from_the_environment(clean_env):
    async def go() -> list[bytes]:
        proxy = CountingServer(together=1)
        proxy_url = await proxy.start()
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
            clean_env.delenv(name, raising=False)
        clean_env.setenv("HTTP_PROXY", proxy_url)
        sender = Sender(SendSettings("http://api.example.invalid/v1", None, retries=0))
        try:
            answer, _ = await sender.send(CHAT)
        finally:
            await sender.aclose()
            await proxy.close()
        assert answer.text == "ok"
        return proxy.request_lines

    lines = asyncio.run(go())
    assert lines == [b"POST http://api.example.invalid/v1/chat/completions HTTP/1.1"]


def test_making_the_client_does_not_import_openai():
    import subprocess

    check = (
        "import sys, asyncio; from pytest_toolcall.send.transport import Sender, SendSettings;"
        "s = Sender(SendSettings('http://127.0.0.1:9/v1', None)); s.open();"
        "asyncio.run(s.aclose()); print('openai' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr

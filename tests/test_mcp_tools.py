"""`tools: {mcp: ...}`: real MCP servers (written with the `mcp` SDK, run over stdio) list the
tools; expectations are checked against them; the snapshot makes replay need no server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import runpytest
from test_cassettes import NO_SOCKETS, toolcall_section

pytest.importorskip("mcp")

from pytest_toolcall.collect.casefile import CaseFileError, load_suite  # noqa: E402
from pytest_toolcall.collect.mcp_snapshot import changes_between, snapshot_path  # noqa: E402
from pytest_toolcall.collect.mcp_tools import API_NAME, api_name  # noqa: E402

WEATHER_SERVER = '''
from pathlib import Path
from typing import Literal

from mcp.server.mcpserver import MCPServer

Path("server-started").write_text("yes")
server = MCPServer("weather")


@server.tool()
def get_weather(city: str, unit: Literal[{units}] = "c") -> str:
    """Weather for a city."""
    return "sunny"

{more}

server.run()
'''
READ_TOOL = """
@server.tool(name="files.read", title="Read a file")
def read(path: str) -> str:
    return ""
"""
FORECAST_TOOL = '''
@server.tool()
def get_forecast(city: str, days: int) -> str:
    """Forecast for a city."""
    return "sunny"
'''
# A low-level server: its tools come from tools.json, `PAGE` at a time (cursor = offset).
PAGED_SERVER = """
import json
from pathlib import Path

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

PAGE = 3
TOOLS = json.loads(Path("tools.json").read_text())


async def list_tools(ctx, params):
    start = int(params.cursor) if params is not None and params.cursor else 0
    Path("pages.log").open("a").write(f"{start}\\n")
    page = [types.Tool.model_validate(tool) for tool in TOOLS[start : start + PAGE]]
    after = start + PAGE
    return types.ListToolsResult(tools=page, next_cursor=str(after) if after < len(TOOLS) else None)


server = Server("paged", on_list_tools=list_tools)


async def main():
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


anyio.run(main)
"""


def weather_server(pytester: pytest.Pytester, units: str = '"c", "f"', more: str = READ_TOOL):
    server = WEATHER_SERVER.replace("{units}", units).replace("{more}", more)
    (pytester.path / "server.py").write_text(server)


def weather_suite(pytester: pytest.Pytester, unit: str = "c") -> Path:
    return pytester.makefile(
        ".yaml",
        suite=f"""
        suite: s
        tools:
          mcp: {{command: [python, server.py]}}
        cases:
          - id: paris
            prompt: weather in Paris
            expect: {{tool: get_weather, args: {{city: Paris, unit: {unit}}}}}
          - id: read
            prompt: read notes.txt
            expect: {{tool: files_read, args: {{path: notes.txt}}}}
        """,
    )


def error_lines(result: pytest.RunResult) -> list[str]:
    """The collection error's lines (not the warnings summary's `suite.yaml:3` headers)."""
    return [line for line in result.stdout.lines if line.startswith("suite.yaml:") and " " in line]


def test_listed_tools_are_the_suites_and_an_argument_outside_their_enum_is_an_error(pytester):
    weather_server(pytester)
    weather_suite(pytester, unit="kelvin")
    result = runpytest(pytester, "--model=m", "--record-mode=once", "--collect-only")
    assert result.ret != 0
    assert error_lines(result) == [
        "suite.yaml:7: case 'paris': expect.args.unit: 'kelvin' is not one of c, f"
    ]
    listed = json.loads(snapshot_path(pytester.path / "suite.yaml").read_text())
    assert listed["servers"][0]["command"] == ["python", "server.py"]
    assert [tool["name"] for tool in listed["servers"][0]["tools"]] == ["get_weather", "files.read"]
    # replayed from the snapshot: the API names, descriptions (else titles) and schemas
    (pytester.path / "server.py").unlink()
    weather_suite(pytester, unit="f")
    suite = load_suite(pytester.path / "suite.yaml", pytester.path)
    weather, read = (tool["function"] for tool in suite.cases[0].tools)
    assert (weather["name"], weather["description"]) == ("get_weather", "Weather for a city.")
    assert weather["parameters"]["properties"]["unit"]["enum"] == ["c", "f"]
    assert weather["parameters"]["required"] == ["city"]
    assert (read["name"], read["description"]) == ("files_read", "Read a file")


def test_recorded_then_replayed_with_the_server_gone_and_no_network(pytester, fake_openai):
    weather_server(pytester)
    weather_suite(pytester)
    script = {
        "weather in Paris": {"tool": "get_weather", "args": {"city": "Paris", "unit": "c"}},
        "read notes.txt": {"tool": "files_read", "args": {"path": "other.txt"}},
    }
    api = fake_openai(script)
    recorded = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={api.base_url}", "--record-mode=once"
    )
    assert recorded.parseoutcomes() == {"passed": 1, "missed": 1, "failed": 1}, (
        recorded.stdout.str()
    )
    sent = api.requests[0]["body"]["tools"]
    assert [tool["function"]["name"] for tool in sent] == ["get_weather", "files_read"]
    assert "$schema" not in json.dumps(sent)
    api.stop()
    (pytester.path / "server.py").unlink()
    (pytester.path / "server-started").unlink()
    pytester.makeconftest(NO_SOCKETS)
    replayed = runpytest(pytester, "--model=m")
    assert replayed.parseoutcomes() == {"passed": 1, "missed": 1, "failed": 1}, (
        replayed.stdout.str()
    )
    assert toolcall_section(replayed.stdout.str()) == toolcall_section(recorded.stdout.str())
    assert not (pytester.path / "server-started").exists()


def test_recording_lists_again_and_says_what_changed(pytester):
    weather_server(pytester)
    weather_suite(pytester, unit="k")
    first = runpytest(pytester, "--model=m", "--record-mode=once", "--collect-only")
    assert "'k' is not one of c, f" in first.stdout.str()
    weather_server(pytester, units='"c", "f", "k"', more=FORECAST_TOOL)
    second = runpytest(pytester, "--model=m", "--record-mode=new_episodes", "--collect-only")
    assert error_lines(second) == [  # 'k' is valid now; files.read is gone, and it says why
        "suite.yaml:10: case 'read': expect.tool 'files_read' is not one of the suite's tools: "
        "get_forecast, get_weather"
    ]
    second.stdout.fnmatch_lines(
        [
            "*suite.yaml:3: McpToolsChanged: MCP tools changed since suite.tools.json: "
            "`python server.py`: added get_forecast; removed files.read; "
            "schema changed: get_weather (properties.unit.enum)"
        ]
    )
    # the rewritten snapshot is what replay now uses: no server, and 'k' is valid
    (pytester.path / "server.py").unlink()
    text = (pytester.path / "suite.yaml").read_text()
    (pytester.path / "suite.yaml").write_text(
        text.replace(
            "files_read, args: {path: notes.txt}", "get_forecast, args: {city: Oslo, days: 2}"
        )
    )
    suite = load_suite(pytester.path / "suite.yaml", pytester.path)
    assert [tool["function"]["name"] for tool in suite.cases[0].tools] == [
        "get_weather",
        "get_forecast",
    ]
    assert (
        "MCP tools changed" not in runpytest(pytester, "--model=m", "--collect-only").stdout.str()
    )


def test_replay_without_a_snapshot_says_how_to_list(pytester):
    weather_server(pytester)
    weather_suite(pytester)
    result = runpytest(pytester, "--model=m", "--collect-only")
    assert error_lines(result) == [
        "suite.yaml:2: no snapshot of the tools of MCP server `python server.py` in "
        f"{snapshot_path(pytester.path / 'suite.yaml')}: list them once with "
        "--record-mode=once (this starts the server)"
    ]
    assert not (pytester.path / "server-started").exists()


def paged_suite(pytester: pytest.Pytester, tools: list[dict], prefix: str = "") -> Path:
    (pytester.path / "server.py").write_text(PAGED_SERVER)
    (pytester.path / "tools.json").write_text(json.dumps(tools))
    prefix_line = f", prefix: {prefix}" if prefix else ""
    return pytester.makefile(
        ".yaml",
        suite=f"""
        tools:
          mcp: {{command: [python, server.py]{prefix_line}}}
        cases:
          - prompt: first
            expect: {{tool: {api_name(prefix, tools[0]["name"])}, args: {{n: 1}}}}
        """,
    )


def test_every_page_is_listed_and_names_are_made_valid_for_the_api(pytester):
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"n": {"type": "integer"}},
    }
    tools = [
        {"name": f"ns.tool {i}", "title": f"Tool {i}", "inputSchema": schema} for i in range(7)
    ]
    path = paged_suite(pytester, tools, prefix="srv-")
    suite = load_suite(path, pytester.path, relist_mcp=True)
    functions = [tool["function"] for tool in suite.cases[0].tools]
    assert [f["name"] for f in functions] == [f"srv-ns_tool_{i}" for i in range(7)]
    assert [f["description"] for f in functions] == [f"Tool {i}" for i in range(7)]
    assert functions[0]["parameters"] == {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
    }
    assert (pytester.path / "pages.log").read_text().split() == ["0", "3", "6"]


def test_two_tools_that_map_to_one_api_name_are_an_error(pytester):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    tools = [{"name": "a.b", "inputSchema": schema}, {"name": "a_b", "inputSchema": schema}]
    path = paged_suite(pytester, tools)
    with pytest.raises(CaseFileError) as error:
        load_suite(path, pytester.path, relist_mcp=True)
    assert error.value.problem == (
        "MCP tools 'a.b' and 'a_b' of `python server.py` both become the API tool name 'a_b' "
        "(names must match ^[a-zA-Z0-9_-]{1,64}$): give a server a 'prefix:' or rename a tool"
    )


CRASHING = """
import sys
print("loading acme config", file=sys.stderr)
raise SystemExit("acme: config file /etc/acme.toml not found")
"""


def test_a_server_that_crashes_at_start_is_a_one_line_error_with_its_stderr(pytester):
    (pytester.path / "server.py").write_text(CRASHING)
    weather_suite(pytester)
    result = runpytest(pytester, "--model=m", "--record-mode=once", "--collect-only")
    assert error_lines(result) == [
        "suite.yaml:2: MCP server `python server.py` exited before it listed its tools; "
        "its stderr: loading acme config | acme: config file /etc/acme.toml not found"
    ]
    assert not snapshot_path(pytester.path / "suite.yaml").exists()


def test_a_command_that_does_not_exist_is_an_error_naming_it(pytester):
    pytester.makefile(
        ".yaml",
        suite="""
        tools: {mcp: {command: [no-such-mcp-server, --stdio]}}
        cases:
          - {prompt: hi, expect: {no_call: true}}
        """,
    )
    result = runpytest(pytester, "--model=m", "--toolcall-live", "--collect-only")
    (line,) = error_lines(result)
    assert line.startswith(
        "suite.yaml:1: MCP server `no-such-mcp-server --stdio` could not be started: "
    )


SILENT = """
import os, time
from pathlib import Path
Path("server.pid").write_text(str(os.getpid()))
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_until(condition, limit_s: float = 20.0) -> bool:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_server_that_never_answers_times_out_and_is_stopped(pytester):
    (pytester.path / "server.py").write_text(SILENT)
    pytester.makefile(
        ".yaml",
        suite="""
        tools: {mcp: {command: [python, server.py], timeout: 1}}
        cases:
          - {prompt: hi, expect: {no_call: true}}
        """,
    )
    result = runpytest(pytester, "--model=m", "--record-mode=once", "--collect-only")
    pid = int((pytester.path / "server.pid").read_text())
    try:
        assert error_lines(result) == [
            "suite.yaml:1: MCP server `python server.py` did not answer within 1 s "
            "(a slow server can have more: 'timeout:' in its mcp mapping)"
        ]
        assert not alive(pid)
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(sys.platform == "win32" or not Path("/proc").exists(), reason="POSIX signals")
def test_ctrl_c_while_listing_stops_the_server(pytester):
    (pytester.path / "server.py").write_text(SILENT)
    pytester.makefile(
        ".yaml",
        suite="""
        tools: {mcp: {command: [python, server.py]}}
        cases:
          - {prompt: hi, expect: {no_call: true}}
        """,
    )
    pid_file = pytester.path / "server.pid"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--record-mode=once"]
    process = subprocess.Popen(
        [*command, "--model=m", "suite.yaml"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A run started in the background (or an xdist worker) ignores SIGINT, and a child
        # inherits that: give Ctrl-C back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    pid = None
    try:
        assert wait_until(pid_file.exists, limit_s=90), (
            process.communicate(timeout=5)[0]
            if process.poll() is not None
            else "the server never started"
        )
        pid = int(pid_file.read_text())
        assert alive(pid)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert "KeyboardInterrupt" in output, output
        assert wait_until(lambda: not alive(pid), limit_s=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)


HTTP_SERVER = """
import sys
from mcp.server.mcpserver import MCPServer

server = MCPServer("hosts")


@server.tool()
def ping(host: str, count: int = 1) -> str:
    \"\"\"Ping a host.\"\"\"
    return "pong"


server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_streamable_http_server_is_listed_then_replayed_when_it_is_down(pytester):
    port = free_port()
    (pytester.path / "http_server.py").write_text(HTTP_SERVER)
    url = f"http://127.0.0.1:{port}/mcp"
    path = pytester.makefile(
        ".yaml",
        suite=f"""
        tools: {{mcp: {{url: "{url}", prefix: hosts_}}}}
        cases:
          - {{prompt: ping a, expect: {{tool: hosts_ping, args: {{host: a, count: 2}}}}}}
        """,
    )
    server = subprocess.Popen([sys.executable, "http_server.py", str(port)], cwd=pytester.path)
    try:
        assert wait_until(lambda: accepts(port)), "the HTTP server never listened"
        listed = load_suite(path, pytester.path, relist_mcp=True).cases[0].tools
    finally:
        server.terminate()
        server.wait(timeout=30)
    (function,) = (tool["function"] for tool in listed)
    assert (function["name"], function["description"]) == ("hosts_ping", "Ping a host.")
    assert not accepts(port)
    assert load_suite(path, pytester.path).cases[0].tools == listed
    with pytest.raises(CaseFileError) as error:
        load_suite(path, pytester.path, relist_mcp=True)
    assert error.value.problem.startswith(f"MCP server `{url}` could not be reached: ")


def test_without_the_mcp_package_the_error_names_the_extra(pytester, monkeypatch):
    monkeypatch.setitem(sys.modules, "mcp", None)  # `import mcp` now raises ImportError
    weather_suite(pytester)
    result = runpytest(pytester, "--model=m", "--record-mode=once", "--collect-only")
    assert error_lines(result) == [
        "suite.yaml:2: tools from an MCP server need the 'mcp' package: "
        "pip install 'pytest-toolcall[mcp]'"
    ]


def test_suites_without_mcp_servers_never_import_the_sdk(pytester):
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from pytest_toolcall.collect.casefile import load_suite
        tools = "tools: [{type: function, function: {name: f}}]\\n"
        Path("s.yaml").write_text(tools + "cases:\\n  - {prompt: hi, expect: {no_call: true}}\\n")
        load_suite(Path("s.yaml"), Path("."))
        print(sorted(name for name in sys.modules if name.split(".")[0] == "mcp"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=pytester.path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("tools", "problem"),
    [
        (
            "{mcp: {url: 'http://127.0.0.1:1/mcp', env: {A: b}}}",
            "tools.mcp: 'env' is not one of url",
        ),
        ("{mcp: {}}", "tools.mcp: 'command' is a required property"),
        ("{mcp: {command: []}}", "tools.mcp.command: [] should be non-empty"),
        ("{mcp: [{command: [x]}, {cmd: [y]}]}", "tools.mcp[1]: Additional properties are not"),
        ("{mcp: {command: [x], prefix: 'a b'}}", "tools.mcp.prefix: 'a b' does not match"),
        ("{mcp: {command: [x], timeout: 0}}", "tools.mcp.timeout: 0 is less than or equal"),
    ],
)
def test_malformed_mcp_mappings_are_schema_errors(pytester, tools, problem):
    path = pytester.makefile(
        ".yaml", suite=f"tools: {tools}\ncases:\n  - {{prompt: hi, expect: {{no_call: true}}}}\n"
    )
    with pytest.raises(CaseFileError) as error:
        load_suite(path, pytester.path, relist_mcp=True)
    assert error.value.line == 1 and error.value.problem.startswith(problem)


def test_api_names_are_valid_distinct_and_at_most_64_characters():
    long_a, long_b = "x" * 70 + "a", "x" * 70 + "b"
    names = [api_name("", n) for n in ("ok_name-1", "a.b/c d", long_a, long_b)]
    assert names[:2] == ["ok_name-1", "a_b_c_d"]
    assert all(API_NAME.match(name) for name in names)
    assert len(names[2]) == 64 and names[2] != names[3]
    assert api_name("p_", "x" * 62) == "p_" + "x" * 62


def test_changes_name_the_paths_that_differ():
    old = [
        {"name": "a", "inputSchema": {"properties": {"x": {"type": "string"}}}},
        {"name": "b", "description": "old"},
    ]
    new = [
        {"name": "a", "inputSchema": {"properties": {"x": {"type": "integer"}, "y": {}}}},
        {"name": "b", "description": "new"},
    ]
    assert list(changes_between(old, new)) == [
        "schema changed: a (properties.x.type, properties.y)",
        "description changed: b",
    ]
    assert list(changes_between(old, old)) == []

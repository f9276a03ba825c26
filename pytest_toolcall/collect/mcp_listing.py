"""Ask an MCP server for its tools (`tools/list`, every page).

The one module that imports the `mcp` SDK, and only when a case file names a server, so
suites without one never pay for it. The server is started (stdio) or reached (streamable
HTTP) inside the SDK's context managers, which stop its process on every way out: an
answer, an error, the timeout, Ctrl-C.
"""

from __future__ import annotations

import tempfile
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_toolcall.collect.mcp_tools import McpServer

MCP_EXTRA = "pip install 'pytest-toolcall[mcp]'"
STDERR_TAIL_LINES = 5
STDERR_TAIL_CHARS = 800
MAX_PAGES = 1000  # a server whose cursor never ends would otherwise list forever


class ListingError(Exception):
    """The server's tools could not be listed; the message says why, in one line."""


def list_server_tools(server: McpServer) -> list[dict[str, Any]]:
    """The tools the server lists, each as its wire form (`name`, `inputSchema`, ...)."""
    try:
        import anyio
        import mcp  # noqa: F401
    except ImportError:
        raise ListingError(
            f"tools from an MCP server need the 'mcp' package: {MCP_EXTRA}"
        ) from None
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        try:
            return anyio.run(_list_tools, server, errlog)
        except Exception as exc:  # not BaseException: Ctrl-C stays Ctrl-C
            cause = _leaf(exc)
            raise ListingError(_explained(server, cause) + _stderr_tail(errlog)) from None


async def _list_tools(server: McpServer, errlog: IO[str]) -> list[dict[str, Any]]:
    import anyio

    with anyio.fail_after(server.timeout_s):
        if server.url is not None:
            from mcp.client.streamable_http import streamable_http_client

            async with streamable_http_client(server.url) as streams:
                return await _list_over(streams[0], streams[1])
        from mcp.client.stdio import StdioServerParameters, stdio_client

        command = server.spawned
        parameters = StdioServerParameters(
            command=command[0],
            args=list(command[1:]),
            env=dict(server.env) or None,
            cwd=server.cwd,
        )
        async with stdio_client(parameters, errlog=errlog) as (read, write):
            return await _list_over(read, write)


async def _list_over(read: Any, write: Any) -> list[dict[str, Any]]:
    from mcp import ClientSession
    from mcp.types import PaginatedRequestParams

    tools: list[dict[str, Any]] = []
    async with ClientSession(read, write) as session:
        await session.initialize()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = PaginatedRequestParams(cursor=cursor) if cursor is not None else None
            page = await session.list_tools(params=params)
            tools += [
                tool.model_dump(mode="json", by_alias=True, exclude_none=True)
                for tool in page.tools
            ]
            cursor = page.next_cursor
            if not cursor:
                return tools
    raise ListingError(f"tools/list returned a next page {MAX_PAGES} times: its cursor never ends")


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(getattr(exc, "exceptions", None), tuple) and exc.exceptions:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def _explained(server: McpServer, exc: BaseException) -> str:
    what = f"MCP server {server.describe()}"
    if isinstance(exc, ListingError):
        return f"{what}: {exc}"
    if isinstance(exc, TimeoutError):
        return (
            f"{what} did not answer within {server.timeout_s:g} s "
            "(a slow server can have more: 'timeout:' in its mcp mapping)"
        )
    if isinstance(exc, OSError) and server.url is None:
        return f"{what} could not be started: {exc.strerror or exc}"
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if server.url is not None and type(exc).__name__.endswith("ConnectError"):
        return f"{what} could not be reached: {message}"
    if message == "Connection closed":
        return f"{what} exited before it listed its tools"
    if type(exc).__name__ == "MCPError":
        return f"{what} answered with an error: {message}"
    return f"{what} could not be asked for its tools: {type(exc).__name__}: {message}"


def _stderr_tail(errlog: IO[str]) -> str:
    """'; stderr: <its last lines>' on one line, or '' when it wrote nothing."""
    try:
        errlog.flush()
        errlog.seek(0)
        text = errlog.read()
    except (OSError, ValueError):
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    tail = " | ".join(lines[-STDERR_TAIL_LINES:])
    if len(tail) > STDERR_TAIL_CHARS:
        tail = "..." + tail[-STDERR_TAIL_CHARS:]
    return f"; its stderr: {tail}"


__all__ = ["MCP_EXTRA", "ListingError", "list_server_tools"]

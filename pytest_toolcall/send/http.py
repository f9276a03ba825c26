"""The HTTP client live requests go out through: the openai SDK's own HTTP library, directly.

Importing `openai` costs about a second of CPU (its pydantic models), and every request
through it more; a live run needs none of it, only what its client put on the wire, which
is made here the same way: the base URL (`OPENAI_BASE_URL`, else OpenAI's) with a trailing
slash, each API path joined under it; the bearer key, `OpenAI-Organization` and
`OpenAI-Project` from `OPENAI_ORG_ID` / `OPENAI_PROJECT_ID`, the extra headers of
`OPENAI_CUSTOM_HEADERS` and then ours, last and case-insensitively winning; the body as
compact UTF-8 JSON; redirects followed, proxies and certificates from the environment.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from collections.abc import Mapping
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_toolcall import __version__
from pytest_toolcall.send.bodies import DEFAULT_BASE_URL

if TYPE_CHECKING:
    from pytest_toolcall.send.transport import SendSettings

LIBRARIES = ("httpx2", "httpx")  # what openai sends with: httpx2 now, httpx before
USER_AGENT = f"pytest-toolcall/{__version__}"
_OS_NAMES = {
    "darwin": "MacOS",
    "windows": "Windows",
    "linux": "Linux",
    "freebsd": "FreeBSD",
    "openbsd": "OpenBSD",
}


def library() -> ModuleType:
    """The HTTP library the installed openai SDK sends with (httpx2, or httpx for an older
    SDK), imported without importing the SDK: the one installed, or when both are, the one
    the SDK's package metadata requires."""
    from importlib.util import find_spec

    installed = [name for name in LIBRARIES if find_spec(name) is not None]
    if len(installed) > 1:
        installed = [_sdk_requirement(installed)]
    if not installed:
        raise ImportError("neither httpx2 nor httpx is installed (openai brings one of them)")
    return __import__(installed[0])


def _sdk_requirement(installed: list[str]) -> str:
    from importlib.metadata import PackageNotFoundError, requires

    try:
        requirements = requires("openai") or []
    except PackageNotFoundError:
        requirements = []
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        if name and name[0].lower() in installed and "extra ==" not in requirement:
            return name[0].lower()
    return installed[0]


def base_url(settings: SendSettings) -> str:
    """Where requests go: the settings', else `OPENAI_BASE_URL`, else OpenAI's (as the SDK
    resolved it)."""
    return settings.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL


def with_trailing_slash(lib: ModuleType, url: str) -> Any:
    """`url` as the SDK held it: a slash ends its path (before any query), so that a path
    joined under it keeps the base's last segment."""
    parsed = lib.URL(url)
    path, separator, query = parsed.raw_path.partition(b"?")
    if path.endswith(b"/"):
        return parsed
    return parsed.copy_with(raw_path=path + b"/" + separator + query)


def join(base: Any, path: str) -> Any:
    """`path` under `base`, as the SDK joined them (its copy of httpx's `_merge_url`)."""
    return base.copy_with(raw_path=base.raw_path + path.encode("ascii").lstrip(b"/"))


def headers(settings: SendSettings, key: str) -> dict[str, str]:
    """Every header the SDK's client sent (but its name and version), in its order of
    precedence: a later mapping replaces an earlier one's header of the same name, in any
    case."""
    sdk: dict[str, str] = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **_platform_headers(),
        "X-Stainless-Async": "async:asyncio",
    }
    if organization := os.environ.get("OPENAI_ORG_ID"):
        sdk["OpenAI-Organization"] = organization
    if project := os.environ.get("OPENAI_PROJECT_ID"):
        sdk["OpenAI-Project"] = project
    merged: dict[str, tuple[str, str]] = {}
    for mapping in (sdk, environment_headers(), settings.headers):
        for name, value in mapping.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def environment_headers() -> dict[str, str]:
    """`OPENAI_CUSTOM_HEADERS`, one `name: value` a line, as the SDK read it."""
    parsed: dict[str, str] = {}
    for line in os.environ.get("OPENAI_CUSTOM_HEADERS", "").split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            parsed[name.strip()] = value.strip()
    return parsed


def _platform_headers() -> dict[str, str]:
    """The SDK's description of the client's platform (its `X-Stainless-*` headers)."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"arm64": "arm64", "aarch64": "arm64", "arm": "arm", "x86_64": "x64"}.get(machine)
    if arch is None:
        arch = "x32" if sys.maxsize <= 2**32 else f"other:{machine}" if machine else "unknown"
    return {
        "X-Stainless-Lang": "python",
        "X-Stainless-OS": _OS_NAMES.get(system, f"Other:{system}" if system else "Unknown"),
        "X-Stainless-Arch": arch,
        "X-Stainless-Runtime": platform.python_implementation(),
        "X-Stainless-Runtime-Version": platform.python_version(),
    }


def encode(body: Mapping[str, Any]) -> bytes:
    """`body` as the SDK encoded it: compact UTF-8 JSON, no NaN, datetimes in ISO form."""
    return json.dumps(
        body, default=_iso, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def client(lib: ModuleType, settings: SendSettings, key: str) -> Any:
    """An `AsyncClient` of `lib` for `settings`: room for `concurrency` connections at once,
    each kept alive for the next request; the SDK's redirects and timeout; the environment's
    proxies and certificates (`trust_env`, as the SDK left it)."""
    limits = lib.Limits(
        max_connections=max(settings.concurrency, 1000),  # the SDK's bound, or more
        max_keepalive_connections=settings.concurrency,
    )
    return lib.AsyncClient(
        headers=headers(settings, key),
        timeout=lib.Timeout(settings.timeout_s),
        limits=limits,
        follow_redirects=True,
        trust_env=True,
    )

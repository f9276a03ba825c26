"""A case file against the shipped JSON Schema: every error, in words, with its line.

`expect` is checked form by form (tool / calls / no_call / any_of, chosen by its keys), so
a misspelt key is named with a suggestion instead of "not valid under any of the schemas".
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from pytest_toolcall.collect.errors import Problem
from pytest_toolcall.collect.expectations import dotted
from pytest_toolcall.collect.lines import case_label, line_at
from pytest_toolcall.collect.yaml12 import LineDict
from pytest_toolcall.judge.fastvalid import Check, check_or_none

if TYPE_CHECKING:  # jsonschema is imported only to explain a file that has errors
    import jsonschema

Path = tuple[str | int, ...]
EXPECT_FORMS = {"call": ("tool", "args", "exact"), "calls": ("calls",), "no_call": ("no_call",)}


@cache
def casefile_schema() -> dict[str, Any]:
    """The case-file JSON Schema shipped in the package (also what editors use)."""
    schema_text = resources.files("pytest_toolcall").joinpath("schema/casefile.schema.json")
    return json.loads(schema_text.read_text(encoding="utf-8"))


def inline_refs(node: Any, definitions: Mapping[str, Any]) -> Any:
    """`node` with every `{"$ref": "#/$defs/x"}` replaced by (a copy of) definition x."""
    if isinstance(node, list):
        return [inline_refs(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return {**inline_refs(definitions[ref.removeprefix("#/$defs/")], definitions), **rest}
    return {key: inline_refs(value, definitions) for key, value in node.items() if key != "$defs"}


@cache
def inlined_schema(definition: str | None = None) -> dict[str, Any]:
    """The case-file schema, or one of its `$defs`, with its local `$ref`s inlined."""
    # (resolving thousands of $refs per file was a third of collection)
    schema = casefile_schema()
    target = schema if definition is None else schema["$defs"][definition]
    return inline_refs(target, schema["$defs"])


@cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(inlined_schema())


@cache
def _fast_check() -> Check | None:
    """A yes/no check of the whole file, exact for this schema (None: it cannot be made)."""
    return check_or_none(inlined_schema())


def _form_validator(form: str) -> jsonschema.protocols.Validator:
    """The validator of one expect form: 'call', 'calls', 'no_call' or 'any_of'."""
    branches = {"call": 0, "calls": 1, "no_call": 2}
    if form == "any_of":
        return _sub_validator(("expect", "anyOf", 1))
    if form == "steps":
        return _sub_validator(("expect", "anyOf", 2))
    if form == "final":  # a last agent step: no_call, and maybe its text
        return _sub_validator(("step", "anyOf", 2))
    return _sub_validator(("single", "anyOf", branches[form]))


@cache
def _sub_validator(where: tuple[Any, ...]) -> jsonschema.protocols.Validator:
    import jsonschema

    node: Any = inlined_schema(where[0])
    for part in where[1:]:
        node = node[part]
    return jsonschema.Draft202012Validator(node)


def structure_problems(document: LineDict) -> list[tuple[Path, Problem]]:
    """Every way the file breaks the schema, each with where (a key path); [] when none."""
    problems = []
    fine = _fast_check()
    # jsonschema looks for errors only in a file that has some (most files have none)
    errors = [] if fine is not None and fine(document) else list(_validator().iter_errors(document))
    guessed = _guessed_keys(errors)
    broken_expects = set()
    for error in errors:
        location = tuple(error.absolute_path)
        if location[:1] == ("cases",) and len(location) >= 3 and location[2] == "expect":
            broken_expects.add(location[1])  # checked form by form below
        elif not _missing_keys(error) & guessed.get(location, set()):
            # (else a misspelt key already says it: `promt` for `prompt`)
            problems += [(location, problem) for problem in _problems(error, document, location)]
    for index in sorted(broken_expects):
        raw = document["cases"][index]
        found = list(expect_shape_problems(raw["expect"], ("expect",), top=True))
        if not found:  # the schema sees a problem the form checks do not: say it as is
            found = [
                (
                    ("expect",),
                    "expect: must be {tool, args, exact}, {calls: [...]}, "
                    "{no_call: true} or {any_of: [...]}",
                )
            ]
        for path, text in found:
            problem = Problem(text, case_label(document, index), line_at(raw, path))
            problems.append((("cases", index, *path), problem))
    return problems


def _close_key(key: Any, known: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    return close[0] if close else None


def _guessed_keys(errors: Sequence[jsonschema.ValidationError]) -> dict[Path, set[str]]:
    """Location -> the keys that unknown keys there look like misspellings of."""
    guessed: dict[Path, set[str]] = {}
    for error in errors:
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            known = sorted(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in known and (close := _close_key(key, known)):
                    guessed.setdefault(tuple(error.absolute_path), set()).add(close)
    return guessed


def _missing_keys(error: jsonschema.ValidationError) -> set[str]:
    """The keys a `required` (or prompt/messages `oneOf`) error says are missing."""
    if error.validator == "required" and isinstance(error.instance, Mapping):
        return {key for key in error.validator_value if key not in error.instance}
    if error.validator == "oneOf" and isinstance(error.instance, Mapping):
        required = [branch.get("required", []) for branch in error.validator_value]
        return {key for keys in required for key in keys if key not in error.instance}
    return set()


def _problems(
    error: jsonschema.ValidationError, document: LineDict, location: Path
) -> list[Problem]:
    case = case_label(document, location[1]) if _in_a_case(location, document) else None
    if error.validator == "additionalProperties":
        node = error.instance
        known = sorted(error.schema.get("properties", {}))
        return [
            Problem(
                _unknown_key(node, key, known, location), case, line_at(document, (*location, key))
            )
            for key in node
            if key not in known
        ]
    return [Problem(_described(error, location), case, line_at(document, location))]


def _in_a_case(location: Path, document: LineDict) -> bool:
    cases = document.get("cases")
    return (
        location[:1] == ("cases",)
        and len(location) >= 2
        and isinstance(location[1], int)
        and isinstance(cases, list)
        and location[1] < len(cases)
    )


def _relative(location: Path) -> Path:
    """A path inside a case starts after `cases[i]`."""
    return location[2:] if location[:1] == ("cases",) and len(location) >= 2 else location


def _unknown_key(node: Mapping[str, Any], key: Any, known: Sequence[str], location: Path) -> str:
    where = dotted(_relative(location))
    prefix = f"{where}: " if where else ""
    if node[key] is None and getattr(node, "flow", False) and isinstance(key, str):
        return prefix + _unquoted_comma_hint(node, key)
    close = _close_key(key, known)
    hint = f"did you mean {close!r}?" if close else f"known: {', '.join(known)}"
    return f"{prefix}unknown key {key!r} ({hint})"


def _unquoted_comma_hint(node: Mapping[str, Any], key: str) -> str:
    """`{content: That is bad, I want a human}` read as a key 'I want a human' without value."""
    keys = list(node)
    at = keys.index(key)
    before = next((k for k in reversed(keys[:at]) if isinstance(node[k], str)), None)
    text = (
        f"unknown key {key!r} with no value: an unquoted comma inside {{...}} ends the text there"
    )
    if before is None:
        return text + "; quote the text"
    tail = [key]
    for later in keys[at + 1 :]:
        if node[later] is not None:
            break
        tail.append(str(later))
    whole = ", ".join([node[before], *tail]).replace('"', '\\"')
    return f'{text}; quote it: {before}: "{whole}"'


def _described(error: jsonschema.ValidationError, location: Path) -> str:
    """One sentence a case-file author understands."""
    inside = _relative(location)
    where = dotted(inside) or ("top level" if inside == location else "")
    where = where + ": " if where else ""
    instance, parts = error.instance, location[-2:]
    if error.validator == "oneOf" and error.schema.get("oneOf", [{}])[0].get("required") == [
        "prompt"
    ]:
        both = "prompt" in instance and "messages" in instance
        return (
            where
            + ": "
            + (
                "give either 'prompt' or 'messages', not both"
                if both
                else "no 'prompt' or 'messages'"
            )
        )
    if error.validator == "not" and instance == "gate":
        return f"{where}'gate' is reserved for the suite's gate item"
    if error.validator == "pattern" and location[-1:] == ("id",):
        return f"{where}{instance!r} must be letters, digits, '-', '_' or '.'"
    if parts == ("function", "arguments") and isinstance(instance, Mapping):
        text = json.dumps(instance, ensure_ascii=False)
        return (
            f"{where}must be a JSON string, as the API sends it, not a mapping; "
            f"write it arguments: '{text}'"
        )
    if location[-1:] == ("content",) and error.validator == "type":
        kind = "a mapping" if isinstance(instance, Mapping) else type(instance).__name__
        return f"{where}must be text (or a list of content parts), got {kind}"
    if error.validator == "enum":
        return f"{where}{instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator in ("anyOf", "oneOf"):
        from jsonschema.exceptions import best_match

        best = best_match([error])
        if best is not error:
            return _described(best, tuple(best.absolute_path))
    return f"{where}{error.message}"


def expect_shape_problems(
    expect: Any, path: Path, *, top: bool, step: bool = False
) -> Iterator[tuple[Path, str]]:
    """What is wrong with the shape of an `expect` (an any_of alternative, an agent step)."""
    if not isinstance(expect, Mapping):
        yield path, f"{dotted(path)}: must be a mapping: {{tool: ...}}, {{calls: [...]}}, "
        "{no_call: true} or {any_of: [...]}"
        return
    forms = {**EXPECT_FORMS, **({"any_of": ("any_of",)} if top else {})}
    if top and not step:
        forms["steps"] = ("steps",)
    if step:
        forms["no_call"] = ("no_call", "text")
    known = [key for keys in forms.values() for key in keys]
    unknown = [key for key in expect if key not in known]
    for key in unknown:
        close = _close_key(key, known)
        hint = f"did you mean {close!r}?" if close else f"known: {', '.join(known)}"
        yield (*path, key), f"{dotted(path)}: unknown key {key!r} ({hint})"
    if unknown:
        return
    used = [form for form, keys in forms.items() if any(key in expect for key in keys)]
    if len(used) > 1:
        names = [
            "tool",
            "calls",
            "no_call",
            *(form for form in ("any_of", "steps") if form in forms),
        ]
        listed = f"{', '.join(names[:-1])} or {names[-1]}"
        given = " and ".join("tool" if form == "call" else form for form in used)
        yield path, f"{dotted(path)}: give one of {listed}, not {given}"
        return
    form = used[0] if used else "call"
    if form == "no_call" and step:
        form = "final"
    for error in _form_validator(form).iter_errors(expect):
        location = (*path, *error.absolute_path)
        if form in ("any_of", "steps") and len(error.absolute_path) == 2:
            continue  # each alternative (or step) on its own, below
        if error.validator == "additionalProperties":
            keys = sorted(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in keys:
                    yield (*location, key), _unknown_key(error.instance, key, keys, location)
        elif error.validator == "const" and location[-1:] == ("no_call",):
            yield location, f"{dotted(location)}: must be true"
        else:
            yield location, f"{dotted(location)}: {error.message}"
    if form == "any_of" and isinstance(expect.get("any_of"), list):
        for index, alternative in enumerate(expect["any_of"]):
            yield from expect_shape_problems(alternative, (*path, "any_of", index), top=False)
    if form == "steps" and isinstance(expect.get("steps"), list):
        for index, turn in enumerate(expect["steps"]):
            at = (*path, "steps", index)
            yield from expect_shape_problems(turn, at, top=True, step=True)

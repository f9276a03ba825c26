"""Whether a generated prompt states the values its case expects, and how free text is expected.

A generated case can only pass if its prompt says what its expectation fixes. Every leaf of
the expected arguments is checked against the prompt, in the forms people write:

- enum (and const) strings as words, in any case, `_`/`-` as a space or nothing
  (`home_base` ~ "home base", "homebase"), with plain inflections ("backwards",
  "blinking"); `on`/`off` also as enable/activate, disable/deactivate;
- numbers as a number in the text ("30", "30.0", "1,000"; a negative one by its magnitude,
  since people say "30 degrees left" or "down 5"), or as words up to a hundred ("thirty");
- free text (strings without an enum) by at least one of its key words (not a stop word);
- booleans are not words ("disable" or "don't" say `false`): never checked.

Free text is then expected by those key words (any one of the words the value and the
prompt share), not word for word: a model under test
paraphrases "Call your friend for dinner tonight" into its own words, and no matcher short
of a key word accepts a paraphrase. The generator's own value stays the first option of a
`$one_of`, so `export` still writes it as the concrete answer. A free-form object (no
`properties`) has key names the generator made up, which a prompt cannot state: it is
expected as any value, again with the generator's value first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

_STOPWORD_TEXT = (
    "a an the and or but of to for in on at by with from into onto about as is are was be "
    "been it its this that these those my your our their his her me you we they i us them "
    "please can could would will shall should do does not no yes all any some"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "on": ("enable", "activate"),
    "off": ("disable", "deactivate"),
}
_NUMBER_TEXT = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen|twenty thirty forty fifty sixty seventy "
    "eighty ninety"
)
_UNITS, _TENS = (part.split() for part in _NUMBER_TEXT.split("|"))
_NUMBER = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)|(?<![\w.])\.\d+")
_TOKEN = re.compile(r"[^\W_]+")


def _inflected(word: str) -> str:
    """A regex of `word` and its plain inflections (s, es, d, ed, ing; e dropped, doubled)."""
    forms = {word, word + "s", word + "es", word + "d", word + "ed", word + "ing"}
    if word.endswith("e") and len(word) > 2:
        forms.add(word[:-1] + "ing")
    if word[-1:].isalpha():
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    return "(?:" + "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)) + ")"


def mentions_word(prompt: str, value: str) -> bool:
    """`value` (an enum string) as words in `prompt`, in the forms people write it."""
    parts = [part for part in re.split(r"[\s_-]+", value.casefold()) if part]
    if not parts:
        return True
    body = r"[\s_-]*".join([*map(re.escape, parts[:-1]), _inflected(parts[-1])])
    alternatives = [body, *(_inflected(word) for word in SYNONYMS.get(value.casefold(), ()))]
    pattern = r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)"
    return re.search(pattern, prompt.casefold()) is not None


def _number_words(number: int) -> str | None:
    if number < 20:
        return _UNITS[number]
    if number < 100:
        tens, unit = divmod(number, 10)
        return _TENS[tens - 2] + (rf"[\s-]{_UNITS[unit]}" if unit else "")
    return r"(?:a|one)\s+hundred" if number == 100 else None


def mentions_number(prompt: str, value: float) -> bool:
    """`value` as a number in `prompt` (its magnitude: the sign may be said in words)."""
    magnitude = abs(value)
    for token in _NUMBER.findall(prompt):
        if math.isclose(float(token.replace(",", "")), magnitude, rel_tol=0, abs_tol=1e-9):
            return True
    if float(magnitude).is_integer() and (words := _number_words(int(magnitude))):
        return re.search(rf"(?<!\w){words}(?!\w)", prompt.casefold()) is not None
    return False


def _key_words(text: str) -> list[str]:
    return [
        token
        for token in _TOKEN.findall(text)
        if token.casefold() not in STOPWORDS and (len(token) >= 3 or token.isdigit())
    ]


def shared_words(prompt: str, text: str) -> list[str]:
    """The key words of `text` that `prompt` also uses (at a word's start), in `text`'s
    order, each once."""
    shared: dict[str, str] = {}
    for word in _key_words(text):
        if re.search(rf"(?<!\w){re.escape(word.casefold())}", prompt.casefold()):
            shared.setdefault(word.casefold(), word)
    return list(shared.values())


def key_word_regex(words: list[str]) -> str:
    """A `$regex` (full match) of any text holding one of `words` at a word's start."""
    alternatives = "|".join(re.escape(word) for word in words)
    return rf"(?is).*\b{alternatives if len(words) == 1 else f'(?:{alternatives})'}.*"


def _fixed(schema: Mapping[str, Any]) -> bool:
    return "enum" in schema or "const" in schema


def _free_form(value: Any, schema: Mapping[str, Any]) -> bool:
    properties = schema.get("properties")
    return isinstance(value, Mapping) and not (isinstance(properties, Mapping) and properties)


def _sub_schema(schema: Mapping[str, Any], key: str | None) -> Mapping[str, Any]:
    if key is None:
        items = schema.get("items")
        return items if isinstance(items, Mapping) else {}
    properties = schema.get("properties")
    sub = properties.get(key) if isinstance(properties, Mapping) else None
    return sub if isinstance(sub, Mapping) else {}


def _leaves(value: Any, schema: Mapping[str, Any], path: str) -> Iterator[tuple[str, Any, bool]]:
    """(path, value, fixed by an enum) of every scalar under `value`."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, _sub_schema(schema, str(key)), f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, _sub_schema(schema, None), f"{path}[{index}]")
    else:
        yield path, value, _fixed(schema)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unstated_values(
    prompt: str, args: Mapping[str, Any], parameters: Mapping[str, Any]
) -> list[str]:
    """The expected values `prompt` does not state, as `name=value`; [] when it states all."""
    missing = []
    for name, value in args.items():
        for path, leaf, fixed in _leaves(value, _sub_schema(parameters, name), name):
            if isinstance(leaf, bool) or leaf is None:
                continue
            if isinstance(leaf, int | float):
                stated = mentions_number(prompt, leaf)
            elif isinstance(leaf, str) and fixed:
                stated = mentions_word(prompt, leaf)
            elif isinstance(leaf, str):
                stated = not _key_words(leaf) or bool(shared_words(prompt, leaf))
            else:
                continue
            if not stated:
                shown = _short(leaf) if isinstance(leaf, str) else leaf
                missing.append(f"{path}={shown!r}" if isinstance(shown, str) else f"{path}={shown}")
    return missing


def _loose(value: Any, loose: Mapping[str, Any]) -> dict[str, Any]:
    return {"$one_of": [value, dict(loose)]}


def _expectation(value: Any, schema: Mapping[str, Any], prompt: str) -> Any:
    if isinstance(value, str) and not _fixed(schema):
        words = shared_words(prompt, value)
        return _loose(value, {"$regex": key_word_regex(words)} if words else {"$any": True})
    if _free_form(value, schema):
        return _loose(value, {"$any": True})
    if isinstance(value, Mapping):
        return {
            key: _expectation(item, _sub_schema(schema, str(key)), prompt)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_expectation(item, _sub_schema(schema, None), prompt) for item in value]
    return value


def expected_args(
    args: Mapping[str, Any], parameters: Mapping[str, Any], prompt: str
) -> dict[str, Any]:
    """The case's `expect.args` for `prompt`: literals, free text by a key word `prompt` uses."""
    return {
        name: _expectation(value, _sub_schema(parameters, name), prompt)
        for name, value in args.items()
    }


def is_loosened(value: Any) -> bool:
    """Whether an expectation holds a free-text (or free-form) `$one_of` made here."""
    if isinstance(value, Mapping):
        return "$one_of" in value or any(is_loosened(item) for item in value.values())
    if isinstance(value, list):
        return any(is_loosened(item) for item in value)
    return False

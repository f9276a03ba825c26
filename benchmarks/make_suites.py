"""Generate benchmark inputs: N drone cases in K YAML files, their request bodies, trivial tests.

``python benchmarks/make_suites.py DIR --cases 1000 --files 10`` writes ``DIR/suite_00.yaml``
... with the drone tools (``tests/data/drone_tools.json``) next to them. Every case asks
for a different move ("Move the drone left 17 meters"), so every request body, and so
every cassette key, is distinct; the benchmark server answers each one correctly.

``--per-case-tools`` gives every case its own inline tools instead (BFCL's shape): 1 to 6
tools of nested object, array and enum parameters, every list different, one of them the
`control_drone_movement` the case expects (about BFCL's size: ~1.5 KB of JSON a case).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DRONE_TOOLS = ROOT / "tests" / "data" / "drone_tools.json"
DIRECTIONS = ("forward", "backward", "left", "right", "up", "down")
SYSTEM_PROMPT = (
    "You are an intelligent AI that controls a drone. Given a command or request from the "
    "user, call one of your functions to complete the request. If the request cannot be "
    "completed by your available functions, call the reject_request function."
)


def make_suites(
    directory: Path, cases: int, files: int, *, per_case_tools: bool = False
) -> list[Path]:
    """Write `cases` cases split as evenly as possible over `files` case files."""
    directory.mkdir(parents=True, exist_ok=True)
    if not per_case_tools:
        shutil.copyfile(DRONE_TOOLS, directory / "tools.json")
    paths = []
    start = 0
    for index in range(files):
        count = cases // files + (1 if index < cases % files else 0)
        path = directory / f"suite_{index:03d}.yaml"
        text = _suite_yaml(index, range(start, start + count), per_case_tools)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
        start += count
    return paths


def _suite_yaml(index: int, numbers: range, per_case_tools: bool) -> str:
    lines = [
        f"suite: bench/{index:03d}",
        f"system: {json.dumps(SYSTEM_PROMPT)}",
        *([] if per_case_tools else ["tools: tools.json"]),
        "tool_choice: required",
        "params: {temperature: 0, seed: 42}",
        "threshold: 1.0",
        "cases:",
    ]
    for number in numbers:
        direction, distance = DIRECTIONS[number % len(DIRECTIONS)], number + 1
        lines += [
            f"  - id: c{number:05d}",
            f"    prompt: Move the drone {direction} {distance} meters",
            "    expect: {tool: control_drone_movement, "
            f"args: {{direction: {direction}, distance: {distance}}}}}",
        ]
        if per_case_tools:
            lines.append("    tools:")
            block = yaml.safe_dump(case_tools(number), sort_keys=False, width=100)
            lines += [f"      {line}" for line in block.splitlines()]
    return "\n".join(lines) + "\n"


WORDS = [
    "route",
    "zone",
    "sensor",
    "payload",
    "battery",
    "camera",
    "beacon",
    "grid",
    "mission",
    "waypoint",
    "signal",
    "depot",
    "parcel",
    "window",
    "channel",
    "filter",
    "report",
    "schedule",
    "profile",
    "vector",
]


def case_tools(number: int) -> list[dict[str, Any]]:
    """1 to 6 tools, different for every case; one is the `control_drone_movement` asked for."""
    rng = random.Random(number)
    move = {
        "type": "function",
        "function": {
            "name": "control_drone_movement",
            "description": f"Direct the drone's movement in a specific direction (unit {number}).",
            "parameters": {
                "type": "object",
                "properties": {
                    "direction": {
                        "type": "string",
                        "enum": list(DIRECTIONS),
                        "description": "Direction in which the drone should move.",
                    },
                    "distance": {"type": "integer", "description": "Distance in meters."},
                },
                "required": ["direction", "distance"],
            },
        },
    }
    others = [_random_tool(rng, number, k) for k in range(rng.randint(0, 5))]
    tools = [move, *others]
    rng.shuffle(tools)
    return tools


def _random_tool(rng: random.Random, number: int, k: int) -> dict[str, Any]:
    noun, verb = rng.choice(WORDS), rng.choice(("get", "set", "list", "plan", "check"))
    properties: dict[str, Any] = {
        "mode": {
            "type": "string",
            "enum": rng.sample(WORDS, 4),
            "description": f"How to {verb} the {noun}.",
        },
        "limit": {"type": "integer", "minimum": 1, "maximum": 100 + number},
        "target": {
            "type": "object",
            "description": f"The {noun} to {verb}.",
            "properties": {
                "name": {"type": "string"},
                "position": {
                    "type": "object",
                    "properties": {
                        "lat": {"type": "number"},
                        "lon": {"type": "number"},
                        "alt": {"type": "number", "default": 0},
                    },
                    "required": ["lat", "lon"],
                },
            },
            "required": ["name"],
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "enum": rng.sample(WORDS, 3)},
            "description": "Labels to filter by.",
        },
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["start", "pause", "stop"]},
                    "seconds": {"type": "number"},
                },
                "required": ["action"],
            },
        },
    }
    chosen = rng.sample(list(properties), rng.randint(1, 3))
    return {
        "type": "function",
        "function": {
            "name": f"{verb}_{noun}_{k}",
            "description": f"{verb.capitalize()} a {noun} for the fleet (case {number}).",
            "parameters": {
                "type": "object",
                "properties": {name: properties[name] for name in chosen},
                "required": chosen[:1],
            },
        },
    }


def write_bodies(case_files: list[Path], model: str, out: Path) -> int:
    """Write the exact request bodies the plugin sends for these files (JSONL); return count."""
    from pytest_toolcall.collect.casefile import load_suite
    from pytest_toolcall.send.bodies import build_request

    count = 0
    with out.open("w", encoding="utf-8") as stream:
        for path in case_files:
            for case in load_suite(path, path.parent).cases:
                stream.write(json.dumps(build_request(case, model)) + "\n")
                count += 1
    return count


def make_trivial_tests(directory: Path, count: int) -> Path:
    """A test module with `count` functions that each `assert True` (the bare pytest floor)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "test_trivial.py"
    path.write_text(
        "".join(f"def test_{i}():\n    assert True\n\n\n" for i in range(count)),
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--bodies", type=Path, help="also write the request bodies (JSONL) here")
    parser.add_argument("--model", default="m", help="model id in the request bodies")
    parser.add_argument("--per-case-tools", action="store_true", help="own tools per case")
    args = parser.parse_args()
    paths = make_suites(args.directory, args.cases, args.files, per_case_tools=args.per_case_tools)
    print(f"wrote {args.cases} cases in {len(paths)} files under {args.directory}")
    if args.bodies:
        print(f"wrote {write_bodies(paths, args.model, args.bodies)} bodies to {args.bodies}")


if __name__ == "__main__":
    main()

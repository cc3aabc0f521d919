"""The example bank: labelled requests the embedding heads are trained on.

The packaged bank is every ``*.yaml``/``*.jsonl`` file of ``classifier/examples/``; a user
adds their own with ``classifier.examples_file`` (or ``laneway classify train FILE``).
Two file formats, the same as the packaged files:

* YAML: ``lane: <lane>`` + ``examples: [...]``, or a mapping ``<lane>: [...]``; an example
  is a string, or a mapping with ``text`` (plus request fields such as ``max_tokens``) or
  ``request`` (a whole chat request), and optionally ``group``.
* JSONL: one object a line with ``text`` or ``request``, ``lane`` (or ``label``) and
  optionally ``group``.

A malformed file raises :class:`BankError` naming the file and line. ``group`` names the
template or topic an example was written from; held-out evaluation leaves whole groups
out (``classifier.calibration``). It defaults to the file's name, and it is not part of
the request, so it does not change what the heads learn.

This module needs no numpy: the CLI validates and exports files without the embeddings
extra.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from classifier.features import last_user_text
from laneway.lanes import LANES, Lane, parse_lane

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
BANK_SUFFIXES = (".yaml", ".yml", ".jsonl")
USER_WEIGHT = 10.0
"""A user's example counts this many times a packaged one: the bank has thousands of
general examples, and a handful of the user's own must still move the decisions they
cover (``tests/classifier/test_clf_teach.py`` checks that they do)."""
METADATA_KEYS = frozenset({"text", "lane", "label", "group", "id", "source", "note"})
"""Keys of a ``text`` example that describe it rather than the request."""


class BankError(ValueError):
    """A bank file that cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Example:
    lane: Lane
    request: dict[str, Any]
    text: str
    group: str = ""
    weight: float = 1.0
    """How much the example counts in training: the user's own count USER_WEIGHT times."""


def _example(lane: object, raw: Any, where: str, group: str) -> Example:
    if lane is None:
        raise BankError(f"{where}: an example needs a 'lane' (or 'label')")
    try:
        checked = parse_lane(str(lane))
    except ValueError as exc:
        raise BankError(f"{where}: {exc}") from None
    if isinstance(raw, str):
        request: dict[str, Any] = {"messages": [{"role": "user", "content": raw}]}
    elif isinstance(raw, dict) and "request" in raw:
        if not isinstance(raw["request"], dict):
            raise BankError(f"{where}: 'request' must be a chat request object")
        request = dict(raw["request"])
    elif isinstance(raw, dict) and "text" in raw:
        request = {k: v for k, v in raw.items() if k not in METADATA_KEYS}
        request["messages"] = [{"role": "user", "content": str(raw["text"])}]
    else:
        raise BankError(f"{where}: an example must be a string or have 'text' or 'request'")
    text = last_user_text(request)
    if not text.strip():
        raise BankError(f"{where}: the example has no user text")
    if isinstance(raw, dict) and raw.get("group") is not None:
        group = str(raw["group"])
    return Example(checked, request, text, group)


def _load_jsonl(path: Path) -> list[Example]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BankError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(raw, dict):
            raise BankError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        out.append(_example(raw.get("lane", raw.get("label")), raw, where, path.stem))
    return out


def _load_yaml(path: Path) -> list[Example]:
    loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise BankError(f"{path}:{line}: not valid YAML ({exc.problem})") from None
    except yaml.YAMLError as exc:
        raise BankError(f"{path}: not valid YAML ({exc})") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise BankError(f"{path}:1: expected a mapping (lane: + examples:, or lane -> list)")
    nodes = {str(key.value): value for key, value in root.value}
    if "examples" in data:
        groups = [(data.get("lane"), data["examples"], nodes["examples"])]
    else:
        groups = [(lane, items, nodes[str(lane)]) for lane, items in data.items()]
    out = []
    for lane, items, node in groups:
        if not isinstance(items, list) or not isinstance(node, yaml.SequenceNode):
            raise BankError(f"{path}:{node.start_mark.line + 1}: examples must be a list")
        for raw, item in zip(items, node.value, strict=True):
            where = f"{path}:{item.start_mark.line + 1}"
            out.append(_example(lane, raw, where, path.stem))
    return out


def load_examples(path: Path) -> list[Example]:
    """Examples of one bank file (YAML or JSONL, see the module docstring)."""
    path = Path(path)
    try:
        if path.suffix == ".jsonl":
            return _load_jsonl(path)
        return _load_yaml(path)
    except OSError as exc:
        raise BankError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise BankError(f"{path}: not UTF-8 text ({exc.reason})") from None


def load_user_examples(path: Path) -> list[Example]:
    """The user's examples (``classifier.examples_file``), weighted ``USER_WEIGHT``."""
    return [replace(e, weight=USER_WEIGHT) for e in load_examples(path)]


def packaged_files() -> list[Path]:
    return sorted(p for p in EXAMPLES_DIR.iterdir() if p.suffix in BANK_SUFFIXES)


def load_bank(extra: Path | None = None, group_by_file: bool = False) -> list[Example]:
    """The packaged bank, plus the user's file ``extra``. ``group_by_file``: each
    example's group is its file's name (held-out evaluation then leaves whole files out:
    requests written by another hand, not only another template)."""
    bank = [example for path in packaged_files() for example in _file_examples(path, group_by_file)]
    if extra is not None:
        user = load_user_examples(Path(extra))
        bank.extend(_regroup(user, Path(extra).name) if group_by_file else user)
    check_bank(bank)
    return bank


def _file_examples(path: Path, group_by_file: bool) -> list[Example]:
    examples = load_examples(path)
    return _regroup(examples, path.name) if group_by_file else examples


def _regroup(examples: Sequence[Example], group: str) -> list[Example]:
    return [replace(e, group=group) for e in examples]


def check_bank(bank: Sequence[Example]) -> None:
    missing = set(LANES) - {e.lane for e in bank}
    if missing:
        raise BankError(f"example bank has no example for {', '.join(sorted(missing))}")


def bank_digest(bank: Sequence[Example]) -> str:
    """Content hash of the bank's labelled requests and their weights: what trained heads
    are cached under."""
    digest = hashlib.sha256()
    for example in bank:
        digest.update(example.lane.encode() + b"\0")
        if example.weight != 1.0:
            digest.update(f"weight={example.weight!r}".encode() + b"\0")
        digest.update(json.dumps(example.request, sort_keys=True, default=str).encode() + b"\0")
    return digest.hexdigest()[:24]

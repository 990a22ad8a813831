"""The one bounded parser for every YAML and JSON document the project reads.

Hostile input must fail fast in bounded memory, with the line it went wrong on:

- YAML aliases are counted before anything is built: a document whose aliases would expand to more
  than `MAX_NODES` nodes (a "billion laughs" bomb) is refused, as is a recursive alias;
- nesting deeper than `MAX_DEPTH` levels is refused (PyYAML's composer and `json` both recurse);
- a document over its size limit is refused before it is parsed;
- a key given twice in one mapping is an error naming the key and both lines, never "last one wins".

Callers turn `ParseError` into their own error class, prefixed with the file name
(`exc.located("params.yaml")` gives `params.yaml:7: duplicate key 'seed' ...`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from model_server.errors import DataError

# Far above anything a params file, policy, lock file or report needs, far below what hurts.
MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_CONFIG_BYTES = 1 << 20
MERGE_TAG = "tag:yaml.org,2002:merge"


class ParseError(ValueError):
    """A document that is not valid, or not safe to build: `problem` says which, `line` where (1-based)."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem if line is None else f"line {line}: {problem}")
        self.problem = problem
        self.line = line

    def located(self, source: str) -> str:
        return f"{source}:{self.line}: {self.problem}" if self.line is not None else f"{source}: {self.problem}"


def _expanded_size(root: Node, limit: int) -> int:
    """How many nodes the document has once every alias is expanded, without expanding it.

    Aliases are the same Node object in PyYAML's graph, so each distinct node's size is computed once.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ParseError("an alias refers to the mapping or list that contains it (a recursive alias); "
                             "write the value out", node.start_mark.line + 1)
        open_nodes.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        if total > limit:
            raise ParseError(f"expands to more than {limit} values once its aliases are resolved "
                             "(an alias bomb?); write the values out instead of nesting aliases",
                             node.start_mark.line + 1)
        sizes[key] = total
        return total

    return size(root)


def _duplicate_keys(node: MappingNode) -> None:
    seen: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
            continue
        line = key_node.start_mark.line + 1
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise ParseError(f"duplicate key {key_node.value!r} (first at line {seen[key]}); keep one of them", line)
        seen[key] = line


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader with the bounds above; subclass it to change resolvers (as the scan policy does)."""

    max_nodes = MAX_NODES
    max_depth = MAX_DEPTH

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise ParseError(f"nested more than {self.max_depth} levels deep; flatten the document",
                                 mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node | None:
        node = super().compose_document()
        if node is not None:
            _expanded_size(node, self.max_nodes)
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        _duplicate_keys(node)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, loader: type[BoundedLoader] = BoundedLoader, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """Parse one YAML document within the bounds; `ParseError` for anything invalid or unsafe."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ParseError(f"is {size} bytes, over the {max_bytes}-byte limit for a configuration file; "
                         "is it the right file?")
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - loader is a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:  # e.g. "found duplicate anchor 'a'; first occurrence"
            problem = f"{context} (line {context_mark.line + 1}), {problem}"
        raise ParseError(f"not valid YAML ({problem})", mark.line + 1 if mark is not None else None) from None
    except RecursionError:
        raise ParseError("nested too deeply to parse; flatten the document") from None


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ParseError(f"duplicate key {key!r} in one object (a reader would keep only the last); "
                             "each key must appear once")
        obj[key] = value
    return obj


def load_json(data: bytes | str, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """Parse JSON within a size bound, refusing duplicate keys and nesting that would exhaust the stack."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ParseError(f"is {size} bytes, over the {max_bytes}-byte limit")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ParseError(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_object)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) - 1
        hint = ": it ends early (truncated?)" if truncated else ""
        raise ParseError(f"not valid JSON ({exc.msg}){hint}", exc.lineno) from None
    except RecursionError:
        raise ParseError("nested too deeply to parse (thousands of levels); it is not a real report") from None


# The project's JSON files (metrics, model metadata, records) read through the bounded parser.
def read_or_none(path: Path, parse: Callable[[str], Any] = load_json) -> Any:
    """The one lenient reader, for optional inputs a caller reports as absent rather than failing on
    (provenance, a report's extras): None when the file is missing, unreadable, not UTF-8 or refused by
    the bounded parser."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ParseError and UnicodeDecodeError are ValueErrors
        return None


def read_json_object_or_none(path: Path) -> dict[str, Any] | None:
    """read_or_none for a JSON object: anything else is None too."""
    value = read_or_none(path, load_json)
    return value if isinstance(value, dict) else None


def read_json(path: Path, what: str) -> Any:
    try:
        return load_json(path.read_bytes())
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found; run `dvc repro` first") from None
    except ParseError as exc:
        raise DataError(f"{exc.located(str(path))}: {what} is not readable; run `dvc repro` to rewrite it") from None


def read_json_object_if_present(path: Path) -> dict[str, Any] | None:
    """The strict counterpart of read_json_object_or_none, for inputs that may be absent but must
    not be corrupt (release notes: no metrics is a note, broken metrics is an error): None when the
    file does not exist or holds something other than an object, DataError when it does not parse."""
    if not path.is_file():
        return None
    data = read_json(path, path.name)
    return data if isinstance(data, dict) else None

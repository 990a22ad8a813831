"""The bounded YAML/JSON loader: bombs, duplicates, depth and size refused fast, real files read as before."""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_server.errors import DataError
from model_server.safe_load import (
    MAX_NODES,
    ParseError,
    load_json,
    load_yaml,
    read_json_object_if_present,
    read_json_object_or_none,
    read_or_none,
)
from pipeline import dvc_guard
from pipeline.errors import ConfigError
from pipeline.params import Params, load_params

REPO = Path(__file__).resolve().parents[2]


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", ["params.yaml", "scan-policy.yaml", "dvc.yaml", "dvc.lock"])
def test_the_repositorys_own_yaml_reads_exactly_as_pyyaml_reads_it(name: str) -> None:
    text = (REPO / name).read_text(encoding="utf-8")
    assert load_yaml(text) == yaml.safe_load(text)


@pytest.mark.timeout(10)
def test_billion_laughs_is_refused_before_expansion_in_milliseconds() -> None:
    start = time.perf_counter()
    with pytest.raises(ParseError, match=f"expands to more than {MAX_NODES} values") as err:
        load_yaml(billion_laughs())
    assert err.value.line == 6  # 9**6 strings is the first level past the bound
    assert time.perf_counter() - start < 1.0


def test_shared_aliases_within_the_bound_still_work() -> None:
    text = "base: &b {x: 1, y: [1, 2]}\nc:\n  <<: *b\n  x: 2\nd: *b\n"
    assert load_yaml(text) == {"base": {"x": 1, "y": [1, 2]}, "c": {"x": 2, "y": [1, 2]}, "d": {"x": 1, "y": [1, 2]}}


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a: 1\nb:\n  c: 2\n  c: 3\n", 4, "duplicate key 'c' (first at line 3)"),
        ("threshold: HIGH\nthreshold: LOW\n", 2, "duplicate key 'threshold' (first at line 1)"),
        ("a: &x [*x]\n", 1, "recursive alias"),
        ("a: " + "[" * 100 + "]" * 100 + "\n", 1, "nested more than 64 levels deep"),
        ("a: &x 1\nb: &x 2\n", 2, "found duplicate anchor 'x'; first occurrence (line 1)"),
        ("a: [1\n", 2, "not valid YAML"),
    ],
)
def test_unsafe_or_invalid_yaml_names_line_and_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(ParseError) as err:
        load_yaml(text)
    assert err.value.line == line and problem in err.value.problem
    assert err.value.located("f.yaml").startswith(f"f.yaml:{line}: ")


def test_oversized_documents_are_refused_before_parsing() -> None:
    with pytest.raises(ParseError, match="over the 100-byte limit"):
        load_yaml("a: " + "x" * 200, max_bytes=100)
    with pytest.raises(ParseError, match="over the 100-byte limit"):
        load_json(b'"' + b"x" * 200 + b'"', max_bytes=100)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ('{"Severity": "HIGH", "Severity": "LOW"}', "duplicate key 'Severity' in one object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a": ', "it ends early (truncated?)"),
        (b'{"a": "\xff"}', "not UTF-8"),
    ],
)
def test_unsafe_or_invalid_json_is_a_parse_error(data: str | bytes, problem: str) -> None:
    with pytest.raises(ParseError, match=re.escape(problem)):
        load_json(data, max_bytes=1 << 20)


# ---- property-based: whatever the bytes, the loaders answer with a value or a ParseError -------------------

# Files are UTF-8: a lone surrogate cannot be written to one (bytes that are not UTF-8 are another test's case).
YAML_ALPHABET = st.sampled_from(list("ab:-[]{},&*!|>'\"#\n \t0123456789.<")) | st.characters(codec="utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(YAML_ALPHABET, max_size=300))
@pytest.mark.timeout(300)
def test_fuzzed_yaml_gives_a_value_or_a_parse_error(text: str) -> None:
    try:
        load_yaml(text)
    except ParseError as exc:
        assert "\n" not in exc.located("f.yaml")


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list('{}[]:,"0123456789.eE-+ \ntruefalsnul\\u')), max_size=300))
@pytest.mark.timeout(300)
def test_fuzzed_json_gives_a_value_or_a_parse_error(text: str) -> None:
    try:
        value = load_json(text)
    except ParseError:
        return
    assert value == json.loads(text)


PARAMS_TEXT = (REPO / "params.yaml").read_text(encoding="utf-8")
CASE_BYTES = 64 << 20


@st.composite
def mutated_params(draw: st.DrawFn) -> str:
    """The real params.yaml with a few lines deleted, duplicated, swapped for bombs or edited."""
    lines = PARAMS_TEXT.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "bomb", "edit", "value"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "bomb":
            lines[i:i] = billion_laughs(draw(st.integers(2, 9))).splitlines()
        elif op == "edit":
            j = draw(st.integers(0, max(len(lines[i]) - 1, 0)))
            lines[i] = lines[i][:j] + draw(st.text(YAML_ALPHABET, max_size=5)) + lines[i][j + 1:]
        else:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: " + draw(st.sampled_from(["-1", "1e20", "''", "[]", "{}", "null", "*a0", "nan",
                                                          "4294967296", "~", "[[[[1]]]]", "!!binary AA=="]))
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_params())
@pytest.mark.timeout(300)
def test_fuzzed_params_yaml_loads_or_fails_with_one_config_error_line(tmp_path_factory: pytest.TempPathFactory,
                                                                      text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "params.yaml"
    path.write_text(text, encoding="utf-8")
    # What DVC would be handed by the venv's guard (pipeline/dvc_guard.py) is bounded too: refused in one line, or
    # small enough to build. Both within a memory bound per case (the real params.yaml needs well under 1 MiB).
    tracemalloc.start()
    try:
        refused = dvc_guard.refusal(text)
        assert refused is None or "\n" not in refused
        try:
            params = load_params(path)
        except ConfigError as exc:
            message = str(exc)
            assert message.startswith("params.yaml") and "\n" not in message
            return
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < CASE_BYTES, f"{peak / 2**20:.0f} MiB for one params.yaml"
    finally:
        tracemalloc.stop()
    assert isinstance(params, Params)
    assert 0 <= params.train.seed < 2**32 and 0 <= params.prepare.seed < 2**32


def test_load_params_reports_a_bomb_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(billion_laughs() + PARAMS_TEXT, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^params\.yaml:6: expands to more than"):
        load_params(path)


# --- the readers built on the parsers ------------------------------------------------------------

@pytest.mark.parametrize(("content", "parse", "expected"), [
    (b'{"a": 1}', load_json, {"a": 1}),
    (b"[1, 2]", load_json, [1, 2]),
    (b"a: 1\n", load_yaml, {"a": 1}),
    (b'{"a": 1, "a": 2}', load_json, None),  # a duplicate key is refused, not resolved
    (b"\xff\xfe{}", load_json, None),  # not UTF-8
    (b'{"a": ', load_json, None),
    (b"a: " + b"[" * 100 + b"]" * 100 + b"\n", load_yaml, None),  # nested past the bound
])
def test_read_or_none_is_lenient_about_everything_but_returns_only_what_parsed(
    tmp_path: Path, content: bytes, parse: Any, expected: Any
) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    assert read_or_none(path, parse) == expected
    assert read_or_none(tmp_path / "absent", parse) is None
    assert read_or_none(tmp_path, parse) is None  # a directory


def test_object_readers_lenient_and_strict(tmp_path: Path) -> None:
    good, listed, broken = tmp_path / "good.json", tmp_path / "list.json", tmp_path / "metrics.json"
    good.write_text('{"accuracy": 0.9}', encoding="utf-8")
    listed.write_text("[1]", encoding="utf-8")
    broken.write_text('{"accuracy": ', encoding="utf-8")
    assert read_json_object_or_none(good) == read_json_object_if_present(good) == {"accuracy": 0.9}
    assert read_json_object_or_none(listed) is None and read_json_object_if_present(listed) is None
    assert read_json_object_or_none(tmp_path / "absent") is None
    assert read_json_object_if_present(tmp_path / "absent") is None
    assert read_json_object_or_none(broken) is None
    with pytest.raises(DataError, match=r"metrics\.json:1: not valid JSON .*: metrics\.json is not readable"):
        read_json_object_if_present(broken)

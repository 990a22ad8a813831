"""Property-based fuzz of the raw-data surface: mutations of the good penguins CSV are either prepared
into a usable two-class split or refused with one DataError/ConfigError line naming the file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from model_server.contract import load_contract
from pipeline.errors import ConfigError, DataError
from pipeline.params import Params, parse_params
from pipeline.stages import prepare

REPO = Path(__file__).resolve().parents[2]
GOOD = (resources.files("palmerpenguins") / "data" / "penguins.csv").read_bytes()
CONTRACT = load_contract(REPO / "gx" / "expectations" / "data.json")
# Bytes that change how a CSV parses: quotes, delimiters, line endings, BOMs, NUL, invalid UTF-8, big numbers.
NASTY = [b'"', b",", b";", b"\r", b"\n", b"\r\n", b"\xef\xbb\xbf", b"\x00", b"\xff", b"1e20", b"-1", b"NA", b" ",
         b"\t", b"x" * 200_000, b"Adelie", b"nan", b"inf"]


@st.composite
def mutated_csv(draw: st.DrawFn) -> bytes:
    data = bytearray(GOOD)
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "one_class", "crlf"]))
        if op == "insert":
            data[at:at] = draw(st.sampled_from(NASTY) | st.binary(max_size=8))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 200))]
        elif op == "replace":
            data[at:at + 1] = draw(st.sampled_from(NASTY))
        elif op == "truncate":
            del data[at:]
        elif op == "one_class":
            data = bytearray(bytes(data).replace(b"Gentoo,", b"Adelie,").replace(b"Chinstrap,", b"Adelie,"))
        else:
            data = bytearray(bytes(data).replace(b"\n", draw(st.sampled_from([b"\r", b"\r\n"]))))
    return bytes(data)


@pytest.fixture(scope="module")
def params(base_params_dict: dict) -> Params:
    return parse_params(base_params_dict)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(mutated_csv())
@pytest.mark.timeout(600)
def test_mutated_raw_csv_is_prepared_or_refused_with_one_line(
    tmp_path_factory: pytest.TempPathFactory, params: Params, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("raw") / "penguins.csv"
    path.write_bytes(data)
    where = "data/raw/penguins.csv"
    try:
        frame = prepare.read_raw(path, params, CONTRACT, where)
        frame = prepare.handle_missing(frame, params, list(params.data.features), where)
        train, test = prepare.split(frame, params, where)
    except (DataError, ConfigError) as exc:
        message = str(exc)
        assert message.startswith(where) and "\n" not in message and len(message) < 1000, message
        event(f"refused: {type(exc).__name__}")
        return
    event("prepared")
    # What passes is fit to train on: two or more classes, each in both splits.
    assert train[params.data.target].nunique() >= 2
    assert set(test[params.data.target]) <= set(train[params.data.target])


def test_a_huge_bad_value_is_quoted_shortened(tmp_path: Path, params: Params) -> None:
    # Found by the fuzz above: a long field in a numeric column was quoted whole, a 100 KB "one line".
    header, first, *rest = GOOD.decode().splitlines()
    fields = first.split(",")
    fields[header.split(",").index("year")] = "x" * 100_000  # under the csv field limit (128 KiB)
    path = tmp_path / "penguins.csv"
    path.write_text("\n".join([header, ",".join(fields), *rest]) + "\n")
    with pytest.raises(DataError) as raised:
        prepare.read_raw(path, params, CONTRACT, "data/raw/penguins.csv")
    message = str(raised.value)
    assert message.startswith("data/raw/penguins.csv:2: column 'year' expects int64, got 'xxx") and "..." in message
    assert len(message) < 300

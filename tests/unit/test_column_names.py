"""Column names as users have them (spaces, '/', '.', unicode, leading digits, names equal once sanitised)
are carried to the ONNX graph's inputs and to the serving schema, property-tested over arbitrary names."""

from __future__ import annotations

import re
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from model_server.contract import Column, DataContract
from model_server.schema import record_model, renamed_attributes, request_body
from model_server.served_model import graph_inputs, input_names

# Printable names of any script, plus the troublesome ASCII ones that arbitrary text rarely draws.
names = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20),
    st.sampled_from(["mean radius", "od280/od315", "a.b", "1st", "_id", "json", "copy", "label", "class",
                     "c0_a_b", "a_b", "a b", "a/b", "field_0", "model_year", "probabilities", "Größe", "x"]),
)
column_lists = st.lists(names, min_size=1, max_size=8, unique=True)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@given(column_lists)
def test_graph_input_names_are_distinct_identifiers_and_plain_names_stay(columns: list[str]) -> None:
    mapping = input_names(columns)
    assert list(mapping) == columns
    assert len(set(mapping.values())) == len(columns)
    assert all(IDENTIFIER.fullmatch(v) for v in mapping.values())
    for name in columns:
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) and name not in {"label", "probabilities"}:
            assert mapping[name] == name
    assert input_names(columns) == mapping  # the export and the server compute it apart: it must be stable


@given(column_lists)
def test_graph_inputs_cover_every_column_under_its_input_name(columns: list[str]) -> None:
    cols = [Column(n, "float64" if i % 2 else "str") for i, n in enumerate(columns)]
    feed = graph_inputs(cols, {c.name: [None, 1 if c.is_numeric else "v"] for c in cols})
    mapping = input_names(columns)
    assert set(feed) == set(mapping.values())
    for c in cols:
        assert feed[mapping[c.name]].shape == (2, 1)


@settings(max_examples=60, deadline=None)
@given(column_lists)
def test_requests_use_the_columns_own_names_and_rows_come_back_under_them(columns: list[str]) -> None:
    contract = DataContract("suite.json", tuple(Column(n, "float64") for n in columns))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a name shadowing a BaseModel attribute would only warn
        record = record_model(contract, columns)
    schema = record.model_json_schema()
    assert list(schema["properties"]) == columns
    payload = {n: float(i) for i, n in enumerate(columns)}
    parsed = TypeAdapter(request_body(record, 5)).validate_python(payload)
    renamed = renamed_attributes(record)
    row = {renamed.get(k, k): v for k, v in parsed.__dict__.items()}
    assert row == payload


def test_a_column_named_twice_in_the_header_is_refused_in_one_line() -> None:
    import pytest

    from pipeline.errors import DataError
    from pipeline.stages.prepare import _check_structure

    contract = DataContract("suite.json", (Column("a b", "float64"), Column("y", "str")))
    with pytest.raises(DataError, match=r"^raw.csv:1: column 'a b' appears 2 times in the header; give each"):
        _check_structure("a b,y,a b\n1,x,2\n", "raw.csv", contract, ",")

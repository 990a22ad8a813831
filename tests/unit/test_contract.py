from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_server.contract import contract_from_suite, load_contract, read_suite
from pipeline.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_repo_suite_defines_every_column_with_type_and_bounds() -> None:
    contract = load_contract(REPO / "gx/expectations/data.json")
    assert contract.names[0] == "species"
    island = contract.column("island")
    assert island.allowed == ("Biscoe", "Dream", "Torgersen") and not island.nullable
    flipper = contract.column("flipper_length_mm")
    assert flipper.is_numeric and flipper.nullable and (flipper.minimum, flipper.maximum) == (160, 240)
    assert contract.column("year").is_integer


def test_suite_without_column_list_is_rejected() -> None:
    with pytest.raises(ConfigError, match="must declare its columns"):
        contract_from_suite({"name": "x", "expectations": []}, "x.json")


def test_untyped_column_is_rejected() -> None:
    doc = {"name": "x", "expectations": [
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": ["a"]}}]}
    with pytest.raises(ConfigError, match=r"columns \['a'\] have no expect_column_values_to_be_of_type"):
        contract_from_suite(doc, "x.json")


def test_malformed_suite_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"name": "x",\n "expectations": [}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data\.json:2: not valid JSON"):
        read_suite(path)


def test_entry_without_type_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"name": "x", "expectations": [{"kwargs": {}}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"expectations\[0\] has no 'type'"):
        read_suite(path)

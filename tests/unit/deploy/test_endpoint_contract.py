"""The endpoint file heroku-local announces and `pipeline deploy --target local` reads: one format, owned
by heroku_local/endpoint.py. The two packages import nothing of each other, so this test (which may
import both) is what holds the writer and the reader to the same description."""

from __future__ import annotations

from pathlib import Path

import pytest

from heroku_local import endpoint
from pipeline.deploy.settings import ENDPOINT_FILE, LOCAL_HOME_VAR, local_home, resolve_target
from pipeline.errors import ConfigError

KEY = "hk-unit-0123456789abcdef"


def test_both_sides_agree_on_where_the_file_lives(tmp_path: Path):
    assert (endpoint.FILE_NAME, endpoint.HOME_VAR) == (ENDPOINT_FILE, LOCAL_HOME_VAR)
    for env in ({endpoint.HOME_VAR: str(tmp_path)}, {"XDG_CACHE_HOME": str(tmp_path)}, {}):
        assert endpoint.default_home(env) == local_home(env)


def test_what_heroku_local_announces_the_deployer_reads(tmp_path: Path):
    endpoint.announce(tmp_path, "http://127.0.0.1:5005", "127.0.0.1:5006")
    target = resolve_target("local", {"HEROKU_API_KEY": KEY, "HEROKU_LOCAL_HOME": str(tmp_path)})
    assert (target.api_url, target.registry) == ("http://127.0.0.1:5005", "127.0.0.1:5006")

    endpoint.withdraw(tmp_path, "http://127.0.0.1:9999")  # another instance's: left alone
    assert (tmp_path / endpoint.FILE_NAME).exists()
    endpoint.withdraw(tmp_path, "http://127.0.0.1:5005")
    assert not (tmp_path / endpoint.FILE_NAME).exists()


@pytest.mark.parametrize(
    "text",
    ['{"api_url": "http://127.0.0.1:1", "api_url": "x", "registry": "r"}', '{"api_url": 1, "registry": "r"}',
     "[" * 100_000, '{"api_url": "http://127.0.0.1:1"}', " " * (70 * 1024)],
    ids=["duplicate-key", "not-a-string", "deep-nesting", "missing-registry", "oversized"],
)
def test_a_bad_endpoint_file_is_one_config_error(tmp_path: Path, text: str):
    (tmp_path / endpoint.FILE_NAME).write_text(text)
    with pytest.raises(ConfigError, match="is not a heroku-local endpoint file; restart `heroku-local`"):
        resolve_target("local", {"HEROKU_API_KEY": KEY, "HEROKU_LOCAL_HOME": str(tmp_path)})

"""data.engine and data.spark in params.yaml, and the Spark settings built from them and the environment.

No JVM here: what reaches Spark, and what must never reach a log or a repr, is decided before a session starts.
"""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.params import SparkParams, parse_params
from pipeline.spark_engine import SparkSettings

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"


def test_pandas_is_the_default_engine(make_params, make_params_dict, delete) -> None:
    assert make_params().data.engine == "pandas"
    tree = make_params_dict(**{"data.engine": delete, "data.spark": delete})
    params = parse_params(tree)
    assert params.data.engine == "pandas" and params.data.spark.master == "local[2]"


def test_an_unknown_engine_names_key_choices_and_file(make_params_dict) -> None:
    with pytest.raises(ConfigError) as err:
        parse_params(make_params_dict(**{"data.engine": "dask"}))
    assert str(err.value) == "params.yaml: data.engine must be one of 'pandas' or 'spark', got 'dask'"


@pytest.mark.parametrize("key", ["spark.hadoop.fs.s3a.secret.key", "spark.hadoop.fs.s3a.access.key",
                                 "spark.hadoop.fs.s3a.session.token", "spark.ssl.keyPassword"])
def test_a_credential_in_spark_conf_is_refused_with_the_fix(make_params_dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_params(make_params_dict(**{"data.spark.conf": {key: SECRET}}))
    message = str(err.value)
    assert message.startswith(f"params.yaml: data.spark.conf.{key} looks like a credential")
    assert "AWS_SECRET_ACCESS_KEY" in message and SECRET not in message


def test_credentials_in_the_source_uri_are_refused(make_params_dict) -> None:
    with pytest.raises(ConfigError, match=r"params.yaml: data.spark.source must not carry credentials") as err:
        parse_params(make_params_dict(**{"data.spark.source": f"s3a://AKIA:{SECRET}@lake/penguins/"}))
    assert SECRET not in str(err.value)


def test_credentials_come_from_the_environment_and_stay_out_of_repr() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN,
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}
    settings = SparkSettings.from_params(SparkParams(master="spark://head:7077",
                                                     conf={"spark.executor.memory": "4g", "spark.ui.enabled": True}),
                                         env)
    hadoop = dict(settings.hadoop)
    assert hadoop["fs.s3a.secret.key"] == SECRET and hadoop["fs.s3a.session.token"] == TOKEN
    assert hadoop["fs.s3a.endpoint"] == "http://127.0.0.1:9000" and hadoop["fs.s3a.path.style.access"] == "true"
    assert hadoop["fs.s3a.aws.credentials.provider"].endswith("TemporaryAWSCredentialsProvider")
    # params.yaml's conf wins over the CI defaults; booleans reach Spark as Spark spells them.
    conf = dict(settings.conf)
    assert conf["spark.executor.memory"] == "4g" and conf["spark.ui.enabled"] == "true"
    # Nothing secret is in the Spark conf (spark-submit's command line) or in any rendering of the settings.
    assert not any(SECRET in v or TOKEN in v for _, v in settings.conf)
    for text in (repr(settings), str(settings), f"{settings}"):
        assert SECRET not in text and TOKEN not in text and "AKIAEXAMPLE" not in text
    assert "spark://head:7077" in repr(settings)


def test_no_environment_means_no_s3a_settings() -> None:
    settings = SparkSettings.from_params(SparkParams(), env={})
    assert settings.hadoop == ()
    assert dict(settings.conf)["spark.sql.shuffle.partitions"] == "8"

"""The Spark side of the data gate: the session, credentials, reading the data and picking example rows.

GX validates the Spark DataFrame itself (pipeline.expectations); this module owns everything that talks to the
JVM. Nothing here is imported unless `data.engine` is spark, so pyspark stays an optional extra.

Credentials never pass through params.yaml (pipeline.params refuses them), the spark-submit command line (any
local user could read it in `ps`) or a log: they are read from the environment and set on the live Hadoop
configuration, which Spark ships to the executors with each file scan.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError, DataError, ExternalError
from pipeline.params import SparkParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Environment variable -> Hadoop S3A key. S3A's own default chain also reads the first two, but only on the
# driver; set on the Hadoop configuration they reach executors on a cluster too.
_S3A_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "fs.s3a.access.key",
    "AWS_SECRET_ACCESS_KEY": "fs.s3a.secret.key",
    "AWS_SESSION_TOKEN": "fs.s3a.session.token",
}
# An S3-compatible endpoint (MinIO, Ceph, moto): path-style addressing, as those expect.
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
# Driver defaults that suit a CI runner; params.yaml's data.spark.conf overrides any of them.
_DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    # 200 shuffle partitions (Spark's default) is for clusters; the duplicate-row check shuffles once.
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "1g",
}


@dataclass(frozen=True)
class SparkSettings:
    """What the session is built from: params.yaml's data.spark plus credentials from the environment."""

    master: str
    app_name: str
    conf: tuple[tuple[str, str], ...]
    hadoop: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold credentials

    def __repr__(self) -> str:
        keys = [k for k, _ in self.hadoop]
        return f"SparkSettings(master={self.master!r}, conf={dict(self.conf)!r}, hadoop keys={keys!r})"

    @classmethod
    def from_params(cls, params: SparkParams, env: Mapping[str, str] | None = None) -> SparkSettings:
        env = os.environ if env is None else env
        conf = {**_DEFAULT_CONF, **{k: str(v).lower() if isinstance(v, bool) else str(v)
                                    for k, v in params.conf.items()}}
        hadoop = [(key, env[var]) for var, key in _S3A_CREDENTIALS.items() if env.get(var)]
        endpoint = next((env[v] for v in _ENDPOINT_VARIABLES if env.get(v)), None)
        if endpoint:
            hadoop += [("fs.s3a.endpoint", endpoint), ("fs.s3a.path.style.access", "true")]
            if endpoint.startswith("http://"):
                hadoop.append(("fs.s3a.connection.ssl.enabled", "false"))
        if hadoop and "fs.s3a.access.key" in dict(hadoop):
            # Explicit keys: S3A's simple provider (plus the temporary one when a session token is given).
            provider = ("org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider" if env.get("AWS_SESSION_TOKEN")
                        else "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
            hadoop.append(("fs.s3a.aws.credentials.provider", provider))
        return cls(master=params.master, app_name=params.app_name, conf=tuple(sorted(conf.items())),
                   hadoop=tuple(hadoop))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def session(settings: SparkSettings) -> SparkSession:
    """The process's SparkSession: created once (its JVM's output goes to a log file, not the CLI's stderr,
    which must stay one line on failure), then reused."""
    # pyspark warns about the pandas version at import; the gate reads parquet in Spark and never converts.
    warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
    # pyspark logs every analysis error GX catches as a JSON record on stderr; the gate reports them itself.
    # Visible with `pipeline -v`, like GX's own logs.
    verbose = logging.getLogger("pipeline").isEnabledFor(logging.DEBUG)
    logging.getLogger("DataFrameQueryContextLogger").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    try:
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("params.yaml: data.engine is spark but pyspark is not installed; "
                          "run `pip install 'mlops-ci-pipeline[spark]'` (make install does)") from None
    active = SparkSession.getActiveSession()
    if active is None and SparkContext._active_spark_context is None:
        conf = SparkConf().setMaster(settings.master).setAppName(settings.app_name).setAll(list(settings.conf))
        log = tempfile.NamedTemporaryFile(prefix="pipeline-spark-", suffix=".log", delete=False)  # noqa: SIM115
        try:
            gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
            context = SparkContext(conf=conf, gateway=gateway)
        except Exception as exc:  # Java missing, bad master URL, cluster unreachable: all surface here
            raise ExternalError(f"data.spark.master {settings.master!r}: Spark did not start ({_first_line(exc)}); "
                                f"check Java 17+ and the master URL (JVM log: {log.name})") from None
        finally:
            log.close()
        active = SparkSession(context)
        active.sparkContext.setLogLevel("ERROR")
    spark = active or SparkSession.builder.getOrCreate()
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in settings.hadoop:
        hadoop_conf.set(key, value)
    return spark


_MISSING_FS = re.compile(r'No FileSystem for scheme "?(\w+)"?|ClassNotFoundException.*?(S3AFileSystem)')


_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


def read_parquet(spark: SparkSession, uris: list[str]) -> DataFrame:
    """A lazy DataFrame over parquet files, directories or globs. Spark reads only the footers here; the data
    is read, in partitions, by the aggregations GX runs."""
    try:
        frame = spark.read.parquet(*uris)
    except Exception as exc:
        text = str(exc)
        where = ", ".join(uris)
        missing = _MISSING_FS.search(text)
        if missing:
            scheme = missing.group(1) or "s3a"
            raise ConfigError(
                f"{where}: Spark has no filesystem for {scheme}://; add its connector jars (for s3a: hadoop-aws "
                "of Spark's Hadoop version and its AWS SDK bundle) with data.spark.conf spark.jars or "
                "spark.jars.packages") from None
        if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
            raise DataError(f"{where}: not found; fix data.spark.source or run `dvc repro prepare`") from None
        raise DataError(f"{where}: Spark cannot read it as parquet ({_first_line(exc)})") from None
    # pandas stores a non-default index as `__index_level_N__` columns and turns them back into the index on
    # reading; the pandas engine never sees them, so neither may the Spark engine.
    index = [c for c in frame.columns if _PANDAS_INDEX.fullmatch(c)]
    return frame.drop(*index) if index else frame


# GX's Spark engine refers to columns by bare name (F.col), where '.' means a struct field and '`' quotes: such a
# column cannot be checked, and GX reports it as a failure without saying why, or not at all.
UNADDRESSABLE = re.compile(r"[.`]")


def check_addressable(columns: list[str], where: str) -> None:
    bad = [c for c in columns if UNADDRESSABLE.search(c)]
    if bad:
        raise DataError(f"{where}: column {bad[0]!r} cannot be checked by GX's Spark engine ('.' and '`' in a "
                        "name are Spark syntax); rename it in the source, or use data.engine: pandas")


def quoted(column: str) -> str:
    """A column reference that survives dots, spaces and backticks in the name."""
    return "`" + column.replace("`", "``") + "`"


def example_rows(frame: DataFrame, column: str | None, values: list[Any], limit: int) -> list[dict[str, Any]]:
    """Up to `limit` rows whose `column` holds one of the reported unexpected values (or null when none are
    reported), like the pandas engine's examples; Spark stops reading once it has them."""
    from pyspark.sql import functions as F

    if not column or column not in frame.columns or limit == 0:
        return []
    ref = F.col(quoted(column))
    picked = frame.filter(ref.isin(values) if values else ref.isNull()).limit(limit).collect()
    # NaN as None, as the pandas engine's examples have it (and as strict JSON needs).
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.asDict().items()}
            for row in picked]

"""The watch window's pure judgement (pipeline/gates/watch.py), with generated inputs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError
from pipeline.gates.watch import INF, Scrape, Window, judge, quantile, reason, window
from pipeline.params import WatchParams, parse_params

LES = (0.001, 0.01, 0.1, 0.5, 1.0, INF)
T = WatchParams(max_error_rate=0.05, max_p99_latency_seconds=0.5, min_requests=20, max_drift_psi=0.25,
                max_prediction_shift_psi=0.25, min_drift_records=100)


def histogram(latencies: list[float]) -> tuple[tuple[float, float], ...]:
    return tuple((le, float(sum(1 for x in latencies if x <= le))) for le in LES)


@settings(max_examples=200, deadline=None)
@given(requests=st.integers(0, 10_000), errors_share=st.floats(0, 1))
def test_error_rate_breaches_exactly_when_over_the_threshold_with_enough_requests(requests, errors_share):
    errors = math.floor(requests * errors_share)
    verdict = judge(Window(requests=requests, errors=errors), T)
    expected = requests >= T.min_requests and errors / requests > T.max_error_rate
    assert (not verdict.passed) == expected
    if expected:
        finding = verdict.findings[0]
        assert finding.rule == "error_rate"
        assert finding.detail["value"] == pytest.approx(errors / requests)
        assert finding.detail["threshold"] == 0.05
        assert "> max 0.05" in reason(verdict)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0005, 0.005, 0.05, 0.3, 0.7, 5.0]), min_size=1, max_size=300))
def test_p99_from_histogram_deltas_lies_in_the_bucket_of_the_true_p99(latencies):
    # Cumulative counters at the start of the window (old traffic) must not change the answer.
    old = [5.0] * 50
    first = Scrape(requests=len(old), errors=0, buckets=histogram(old))
    latest = Scrape(requests=len(old) + len(latencies), errors=0, buckets=histogram(old + latencies))
    got = window(first, latest)
    assert got.requests == len(latencies)
    true_p99 = sorted(latencies)[math.ceil(0.99 * len(latencies)) - 1]
    finite = [le for le in LES if le != INF]
    upper = next((le for le in LES if true_p99 <= le), INF)
    lower = max((le for le in finite if le < upper), default=0.0)
    assert got.p99_seconds is not None
    if upper == INF:
        assert got.p99_seconds == finite[-1]  # as histogram_quantile answers in the +Inf bucket
    else:
        assert lower <= got.p99_seconds <= upper


def test_quantile_matches_prometheus_interpolation():
    # 100 observations: 90 in (0, 0.1], 10 in (0.1, 0.5]: rank 99 is 9/10 of the way through the second.
    buckets = ((0.1, 90.0), (0.5, 100.0), (INF, 100.0))
    assert quantile(0.99, buckets) == pytest.approx(0.1 + 0.4 * 9 / 10)
    assert quantile(0.99, ((0.1, 0.0), (INF, 0.0))) is None


def test_a_counter_reset_counts_from_the_restart():
    first = Scrape(requests=500, errors=0)
    latest = Scrape(requests=30, errors=30)  # the dyno restarted and answers only 5xx now
    got = window(first, latest)
    assert (got.requests, got.errors) == (30, 30)
    assert not judge(got, T).passed


@settings(max_examples=200, deadline=None)
@given(
    psi=st.dictionaries(st.sampled_from(["island", "sex", "bill_length_mm", "body_mass_g"]),
                        st.floats(0, 5, allow_nan=False), min_size=1),
    records=st.integers(0, 1000),
    shift=st.floats(0, 5, allow_nan=False),
)
def test_drift_counts_only_from_min_records_and_the_worst_feature_decides(psi, records, shift):
    verdict = judge(Window(requests=0, errors=0, drift_psi=psi, prediction_shift=shift, drift_records=records), T)
    rules = {f.rule: f for f in verdict.findings}
    worst_name, worst = max(psi.items(), key=lambda kv: (kv[1], kv[0]))
    if records < T.min_drift_records:
        assert verdict.passed
        return
    assert ("drift_psi" in rules) == (worst > T.max_drift_psi)
    assert ("prediction_shift_psi" in rules) == (shift > T.max_prediction_shift_psi)
    if "drift_psi" in rules:
        assert rules["drift_psi"].where == worst_name
        assert rules["drift_psi"].detail["value"] == worst


def test_nan_drift_is_ignored_in_a_short_window_and_a_breach_in_a_full_one():
    short = Window(requests=0, errors=0, drift_psi={"island": math.nan}, drift_records=5)
    assert judge(short, T).passed
    full = Window(requests=0, errors=0, drift_psi={"island": math.nan}, drift_records=500)
    verdict = judge(full, T)
    assert not verdict.passed and "island is NaN over 500 records" in reason(verdict)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"requests": math.nan, "errors": 0}, "request count is nan"),
        ({"requests": 1, "errors": 2}, "2 errors out of 1 requests"),
        ({"requests": 1, "errors": 0, "buckets": ((0.1, 1.0),)}, "no +Inf bucket"),
        ({"requests": 1, "errors": 0, "buckets": ((0.1, -1.0), (INF, 1.0))}, "le=0.1 is -1.0"),
        ({"requests": 1, "errors": 0, "drift_records": math.inf}, "model_drift_window_records is inf"),
    ],
)
def test_impossible_scrapes_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words.replace("+", r"\+")):
        Scrape(**kwargs)


def test_figures_are_json_numbers_and_name_the_worst_feature():
    w = Window(requests=40, errors=2, p99_seconds=0.0123456, drift_psi={"island": 0.4, "sex": math.nan},
               prediction_shift=0.1, drift_records=120)
    assert w.figures() == {"requests": 40, "errors": 2, "error_rate": 0.05, "p99_seconds": 0.0123,
                           "drift_psi_max": 0.4, "drift_feature": "island", "prediction_shift_psi": 0.1,
                           "drift_records": 120, "model_ready": None}


def test_watch_thresholds_are_validated_naming_key_and_file(make_params_dict):
    with pytest.raises(ConfigError) as err:
        parse_params({**make_params_dict(), "watch": {"max_error_rate": 1.5, "scrape_interval_seconds": 0,
                                                      "route": "predict"}})
    message = str(err.value)
    assert message.startswith("params.yaml: ")
    assert "watch.max_error_rate must be <= 1.0, got 1.5" in message
    assert "watch.scrape_interval_seconds must be > 0.0, got 0" in message
    assert "watch.route" in message


@pytest.mark.parametrize("text, seconds", [("10m", 600.0), ("90s", 90.0), ("1h", 3600.0), ("15", 15.0),
                                           ("0.5m", 30.0), ("", 0.0), ("  ", 0.0)])
def test_watch_durations(text, seconds):
    from pipeline.commands.deploy import _duration

    assert _duration(text) == seconds


@pytest.mark.parametrize("text", ["m", "ten minutes", "0", "-5m", "nan", "inf", "25h"])
def test_bad_watch_durations_say_what_a_duration_looks_like(text):
    import argparse

    from pipeline.commands.deploy import _duration

    with pytest.raises(argparse.ArgumentTypeError, match="such as 10m, 90s or 1h"):
        _duration(text)


@pytest.mark.parametrize("ready, passes", [(1.0, True), (None, True), (0.0, False), (math.nan, False)])
def test_a_model_that_is_not_ready_is_a_breach_without_any_traffic(ready, passes):
    verdict = judge(Window(requests=0, errors=0, ready=ready), T)
    assert verdict.passed == passes
    if not passes:
        assert verdict.findings[0].rule == "model_ready" and "not serving" in reason(verdict)

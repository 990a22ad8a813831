from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ConfigError
from pipeline.stages.evaluate import compute_metrics


def test_binary_metrics_are_of_the_positive_class() -> None:
    y = pd.Series(["no", "no", "yes", "yes", "yes"])
    proba_yes = np.array([0.1, 0.6, 0.4, 0.8, 0.9])
    proba = np.column_stack([1 - proba_yes, proba_yes])
    pred = np.where(proba_yes > 0.5, "yes", "no")
    m = compute_metrics(y, pred, proba, ["no", "yes"])
    assert m["task"] == "binary" and m["positive_class"] == "yes" and m["threshold"] == 0.5
    # yes scores 0.4, 0.8, 0.9 against no's 0.1, 0.6: 5 of 6 pairs ordered right.
    assert m["roc_auc"] == pytest.approx(5 / 6)
    assert m["f1"] == pytest.approx(2 / 3)  # 2 of 3 yes found, 2 of 3 predicted yes right
    swapped = compute_metrics(y, pred, proba, ["no", "yes"], positive="no")
    assert swapped["positive_class"] == "no" and swapped["roc_auc"] == pytest.approx(5 / 6)
    assert swapped["f1"] == pytest.approx(0.5)  # 1 of 2 no found, 1 of 2 predicted no right


def test_binary_auc_is_none_when_the_test_split_has_one_class() -> None:
    y = pd.Series(["yes", "yes"])
    m = compute_metrics(y, np.array(["yes", "no"]), np.array([[0.2, 0.8], [0.7, 0.3]]), ["no", "yes"])
    assert m["roc_auc"] is None and m["pr_auc"] is None


def test_unknown_positive_class_names_the_param() -> None:
    with pytest.raises(ConfigError, match=r"evaluate.positive_class 'Yes' is not one of .*\['no', 'yes'\]"):
        compute_metrics(pd.Series(["no", "yes"]), np.array(["no", "yes"]), np.eye(2), ["no", "yes"], "Yes")


def test_multiclass_keeps_one_vs_rest_auc() -> None:
    y = pd.Series(["a", "b", "c"])
    m = compute_metrics(y, np.array(["a", "b", "c"]), np.eye(3), ["a", "b", "c"])
    assert m["task"] == "multiclass" and m["roc_auc_ovr"] == 1.0 and "roc_auc" not in m

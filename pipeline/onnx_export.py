"""Convert the trained scikit-learn pipeline to ONNX and prove the graph answers like the model.

Only the `export` stage imports this (skl2onnx and scikit-learn); the serving side reads the result
through model_server/served_model.py.

Exactness, not "close enough". A naive float32 conversion of this project's random forest changed
probabilities by up to 0.085 on 17 of 69 test rows: scikit-learn scales in float64 and then casts
to float32 for the trees, some split thresholds sit exactly on a training value, and a one-ulp
difference sends a row down the other branch. So the graph does what scikit-learn does: numeric
inputs are float64, imputation and scaling run in float64 (ONNX's Imputer operator is float32-only,
so missing numbers are filled with IsNaN/Where), and for tree models the features are cast to
float32 just before the trees, whose thresholds skl2onnx adjusts for exactly that comparison.
What is left is the float32 rounding of the output probabilities (~1e-7).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from model_server.contract import Column
from model_server.served_model import MISSING_STRING, graph_inputs, input_names

# Labels must be equal; probabilities may differ by the float32 rounding of the graph's output.
PROBABILITY_TOLERANCE = 1e-5
TARGET_OPSET = {"": 21, "ai.onnx.ml": 3}
MISSING_VARIANT_ROWS = 20


@dataclass(frozen=True)
class Parity:
    rows: int
    label_mismatches: int
    max_probability_difference: float
    worst_row: int
    tied_rows: int = 0  # rows whose top classes tie, where the graph chose the other of them

    @property
    def ok(self) -> bool:
        return self.label_mismatches == 0 and self.max_probability_difference <= PROBABILITY_TOLERANCE


def input_specs(columns: Sequence[Column]) -> list[dict[str, str]]:
    """The graph's inputs, one [n, 1] tensor per feature: numbers as double, the rest as strings; `column` is
    the feature's own name, `name` the graph input's (they differ for names that are not plain identifiers)."""
    names = input_names([c.name for c in columns])
    return [{"column": c.name, "name": names[c.name], "type": "double" if c.is_numeric else "string"}
            for c in columns]


def feed(frame: pd.DataFrame, columns: Sequence[Column]) -> dict[str, np.ndarray]:
    """The graph's inputs for a frame shaped like the training data, encoded as the server does:
    each column's missing values (NaN, NA, None) become None first."""
    return graph_inputs(
        columns, {c.name: frame[c.name].astype(object).where(frame[c.name].notna(), None).tolist() for c in columns}
    )


def _register_double_imputer() -> None:
    """skl2onnx's SimpleImputer converter emits ONNX's float32-only Imputer; for float64 inputs
    emit Where(IsNaN(x), statistics, x), which is what SimpleImputer computes."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters.common import concatenate_variables
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
    from skl2onnx.proto import onnx_proto
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
    from sklearn.impute import SimpleImputer

    def convert(scope: Any, operator: Any, container: Any) -> None:
        if not isinstance(operator.inputs[0].type, DoubleTensorType):
            return convert_sklearn_imputer(scope, operator, container)
        imputer = operator.raw_operator
        x = concatenate_variables(scope, operator.inputs, container)
        stats = scope.get_unique_variable_name("statistics")
        container.add_initializer(stats, onnx_proto.TensorProto.DOUBLE, [1, imputer.statistics_.size],
                                  imputer.statistics_.astype(np.float64).tolist())
        isnan = scope.get_unique_variable_name("isnan")
        container.add_node("IsNaN", [x], [isnan])
        container.add_node("Where", [isnan, stats, x], [operator.outputs[0].full_name])
        return None

    update_registered_converter(SimpleImputer, "SklearnImputer", calculate_sklearn_imputer_output_shapes, convert)


def _for_graph(estimator: Any, names: dict[str, str]) -> Any:
    """A copy for conversion: its categorical imputers replace MISSING_STRING (not NaN, which a string
    tensor cannot hold), and its column transformers select the graph's input names (`names`, column ->
    input) instead of the columns' own. Only these change; the fitted statistics are the trained ones."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer

    est = copy.deepcopy(estimator)
    stack = [est]
    while stack:
        node = stack.pop()
        if isinstance(node, SimpleImputer) and getattr(node, "statistics_", None) is not None \
                and node.statistics_.dtype == object:
            node.missing_values = MISSING_STRING
        if isinstance(node, ColumnTransformer):
            node.transformers_ = [
                (name, part, [names.get(c, c) for c in cols] if isinstance(cols, list | tuple) else cols)
                for name, part, cols in node.transformers_
            ]
        for attr in ("steps", "transformers_"):
            stack.extend(part[1] for part in getattr(node, attr, None) or ())
    return est


def _is_tree_model(estimator: Any) -> bool:
    # scikit-learn's trees cast their input to float32 (sklearn.tree._tree.DTYPE) before comparing.
    return hasattr(estimator, "estimators_") or hasattr(estimator, "tree_")


def convert(estimator: Any, columns: Sequence[Column]) -> Any:
    """An onnx.ModelProto of a fitted Pipeline(preprocess, classifier) with one input per column."""
    import onnx
    from onnx import TensorProto, compose, helper
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
    from sklearn.pipeline import Pipeline

    if not (isinstance(estimator, Pipeline) and len(estimator.steps) >= 2):
        raise ValueError(f"expected a Pipeline of preprocessing steps and a classifier, got {type(estimator).__name__}")
    _register_double_imputer()
    names = input_names([c.name for c in columns])
    est = _for_graph(estimator, names)
    preprocess, classifier = Pipeline(est.steps[:-1]), est.steps[-1][1]
    types = [(names[c.name], DoubleTensorType([None, 1]) if c.is_numeric else StringTensorType([None, 1]))
             for c in columns]
    pre = to_onnx(preprocess, initial_types=types, target_opset=TARGET_OPSET)
    tree = _is_tree_model(classifier)
    features = "features32" if tree else "features64"
    [pre_out] = pre.graph.output
    pre.graph.node.append(helper.make_node("Cast", [pre_out.name], [features],
                                           to=TensorProto.FLOAT if tree else TensorProto.DOUBLE))
    del pre.graph.output[:]
    elem = TensorProto.FLOAT if tree else TensorProto.DOUBLE
    pre.graph.output.append(helper.make_tensor_value_info(features, elem, [None, classifier.n_features_in_]))
    tensor = FloatTensorType if tree else DoubleTensorType
    clf = to_onnx(classifier, initial_types=[(features, tensor([None, classifier.n_features_in_]))],
                  options={id(classifier): {"zipmap": False}}, target_opset=TARGET_OPSET)
    # skl2onnx declares the lowest opset each part needs; merging wants them equal.
    opsets: dict[str, int] = {}
    for part in (pre, clf):
        for o in part.opset_import:
            opsets[o.domain] = max(opsets.get(o.domain, 0), o.version)
    for part in (pre, clf):
        del part.opset_import[:]
        part.opset_import.extend(helper.make_opsetid(d, v) for d, v in sorted(opsets.items()))
        part.ir_version = max(pre.ir_version, clf.ir_version)
    # Both parts name their internal edges the same way (shape_tensor, ...): prefix the classifier's.
    clf = compose.add_prefix(clf, "classifier/", rename_inputs=False, rename_outputs=False)
    merged = compose.merge_models(pre, clf, io_map=[(features, features)])
    merged.producer_name, merged.producer_version = "mlops-ci-pipeline export", ""
    onnx.checker.check_model(merged, full_check=True)
    return merged


def parity(session: Any, estimator: Any, frame: pd.DataFrame, columns: Sequence[Column]) -> Parity:
    """Labels and probabilities of the graph against the estimator's, row by row."""
    labels, proba = session.run(["label", "probabilities"], feed(frame, columns))
    x = frame[[c.name for c in columns]]
    expected = estimator.predict_proba(x)
    classes = np.asarray(estimator.classes_).astype(str)
    expected_labels = classes[expected.argmax(axis=1)]
    diff = np.abs(np.asarray(proba, dtype=np.float64) - expected).max(axis=1)
    labels = np.asarray(labels).astype(str)
    differ = labels != expected_labels
    # A row whose two most probable classes tie (within the probability tolerance; 0.5 each is common for a
    # binary forest with an even number of trees) has two right answers: the graph may take the other one.
    index = {c: i for i, c in enumerate(classes)}
    positions = np.array([index.get(label, -1) for label in labels], dtype=int)
    chosen = np.where(positions >= 0, expected[np.arange(len(labels)), positions.clip(0)], -1.0)
    tied = differ & (expected.max(axis=1) - chosen <= PROBABILITY_TOLERANCE)
    mismatches = differ & ~tied
    worst = int(np.argmax(mismatches)) if mismatches.any() else int(diff.argmax()) if len(diff) else 0
    return Parity(rows=len(frame), label_mismatches=int(mismatches.sum()),
                  max_probability_difference=float(diff.max()) if len(diff) else 0.0, worst_row=worst,
                  tied_rows=int(tied.sum()))


def with_missing_values(
    frame: pd.DataFrame, columns: Sequence[Column], rows: int = MISSING_VARIANT_ROWS
) -> pd.DataFrame:
    """The first rows again with one feature missing at a time: the imputers' paths get checked too."""
    head = frame.head(rows)
    variants = []
    for col in columns:
        variant = head.copy()
        # Missing as the prepared data holds it (NaN in the column's own dtype), which is what
        # the trained imputers were fitted to replace.
        # An integer column cannot hold NaN: a missing whole number arrives as float NaN, as at serving time.
        dtype = np.float64 if pd.api.types.is_integer_dtype(head[col.name]) else head[col.name].dtype
        variant[col.name] = pd.Series([None] * len(head), index=head.index, dtype=dtype)
        variants.append(variant)
    return pd.concat(variants, ignore_index=True) if variants else head

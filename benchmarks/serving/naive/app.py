# The baseline: a model API as the common Flask tutorial writes it (Flask dev server, joblib,
# one np.array(...).reshape(1, -1) per record). Kept deliberately naive; do not "fix" it.
import os

import joblib
import numpy as np
import pandas as pd
from flask import Flask, jsonify, request

app = Flask(__name__)
model = joblib.load("model.joblib")
FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]


@app.route("/predict", methods=["POST"])
def predict():
    data = request.get_json()
    records = data if isinstance(data, list) else [data]
    predictions = []
    for record in records:
        features = np.array([record.get(f) for f in FEATURES], dtype=object).reshape(1, -1)
        # The model was trained on a DataFrame, so the tutorial's array gets its column names back.
        proba = model.predict_proba(pd.DataFrame(features, columns=FEATURES))[0]
        classes = [str(c) for c in model.classes_]
        predictions.append({"label": classes[int(np.argmax(proba))],
                            "probabilities": dict(zip(classes, proba.tolist()))})  # noqa: B905
    return jsonify({"predictions": predictions})


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", 5000)))

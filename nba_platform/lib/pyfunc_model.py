"""MLflow "model from code" for the registered models: shipped inside every logged model, so
`mlflow.pyfunc.load_model(...)` needs only MLflow, scikit-learn, numpy and pandas, never
`nba_platform` (this file must not import it).

The fitted scikit-learn estimator is the `estimator` artifact (a pickle of scikit-learn and
numpy objects only). `model_config` says which columns it reads, in order, and what it returns:
  output_column: "p_home_win" (probability of class 1) or "points" (regression prediction);
  method: "predict_proba" or "predict".
`predict` takes a DataFrame holding at least those columns (extra columns are ignored) and
returns a one-column DataFrame of float64 on the same index.

The platform itself never loads models through here: it verifies the artifacts' SHA-256
against the registry first (nba_platform.resources.mlflow.MlflowTracking.load_sklearn_model).
"""

import pickle

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class SklearnOutputModel(PythonModel):
    def load_context(self, context):
        config = context.model_config or {}
        self.columns = list(config["feature_columns"])
        self.output_column = str(config["output_column"])
        self.method = str(config["method"])
        with open(context.artifacts["estimator"], "rb") as handle:
            self.estimator = pickle.load(handle)

    def predict(self, context, model_input, params=None):
        frame = pd.DataFrame(model_input)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks {len(missing)} model column(s), e.g. {missing[:5]}")
        values = frame[self.columns].astype("float64")
        if self.method == "predict_proba":
            column = list(self.estimator.classes_).index(1)
            output = self.estimator.predict_proba(values)[:, column]
        else:
            output = self.estimator.predict(values)
        return pd.DataFrame({self.output_column: np.asarray(output, dtype="float64")}, index=frame.index)


mlflow.models.set_model(SklearnOutputModel())

"""MLflow tracking and registry for the model assets.

Why not dagster-mlflow's `mlflow_tracking` resource: it is function-style and run-scoped (it
opens one MLflow run when the resource initialises and relies on the
`end_mlflow_on_run_finished` hook to close it), which suits one-op jobs. Our assets log several
MLflow runs per Dagster run (one per walk-forward season) and register versions, which
`MlflowClient` and `mlflow.start_run` do directly. This resource is that thin layer; MLflow is
imported lazily so loading the definitions stays cheap.
"""

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import dagster as dg

from nba_platform.lib.secret_scrubbing import exceptions_scrubbed
from nba_platform.lib.tracing import traced
from nba_platform.resources.alerts import AlertNotifier
from nba_platform.resources.secrets import Secrets

logger = logging.getLogger(__name__)

GAME_MODEL_NAME = "nba_game_outcome"
# Walk-forward refits that backfill past seasons: their own name, so the production model's
# versions are only those that served or challenged.
BACKFILL_MODEL_NAME = "nba_game_outcome_backfill"
ESTIMATOR_FILE = "estimator.pkl"
PYFUNC_CODE_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "lib", "pyfunc_model.py")


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str
    model_uri: str  # models:/<name>/<version>
    name: str

    @property
    def label(self) -> str:
        return f"{self.name}/v{self.version}"


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    tags: dict
    aliases: tuple[str, ...] = ()

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name}/v{self.version}"


def _registered(name: str, mv) -> RegisteredVersion:
    return RegisteredVersion(name, str(mv.version), mv.run_id, dict(mv.tags or {}), tuple(mv.aliases or ()))


def _model_requirements() -> list[str]:
    return [f"{pkg}=={version(pkg)}" for pkg in ("mlflow", "scikit-learn", "numpy", "pandas", "scipy")]


def _parse_model_uri(model_uri: str) -> tuple[str, str]:
    """models:/<name>/<version> -> (name, version); aliases are resolved by the caller."""
    prefix = "models:/"
    rest = model_uri[len(prefix) :] if model_uri.startswith(prefix) else ""
    name, _, version = rest.rpartition("/")
    if not name or not version.isdigit():
        raise ValueError(f"expected models:/<name>/<version>, got {model_uri!r}")
    return name, version


def _with_password(uri: str, password: str) -> str:
    """postgresql+psycopg2://user@host/db -> ...://user:<password>@host/db (URL-quoted)."""

    parts = urlsplit(uri)
    if not parts.username:
        raise ValueError("MLflow tracking URI names no user to attach the password to")
    netloc = f"{quote(parts.username, safe='')}:{quote(password, safe='')}@{parts.hostname}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urlunsplit(parts._replace(netloc=netloc))


class MlflowTracking(dg.ConfigurableResource):
    # sqlite:///... locally; postgresql+psycopg2://user@host:port/db in prod (no password: it
    # comes from the secrets resource at use and is never stored in config or logged).
    tracking_uri: str
    artifact_location: str | None = None  # where new experiments store artifacts (dir or s3://)
    experiment_name: str = "nba_platform"
    secrets: Secrets | None = None
    password_key: str | None = None
    s3_endpoint_url: str | None = None  # S3-compatible endpoint for the artifact store (tests: moto_server)
    alert_notifier: AlertNotifier | None = None  # alerted when a model's artifacts fail verification

    @contextlib.contextmanager
    def _mlflow(self):
        os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # runs make no calls home
        if self.s3_endpoint_url:
            os.environ["MLFLOW_S3_ENDPOINT_URL"] = self.s3_endpoint_url
        import mlflow

        uri = self.tracking_uri
        if uri.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(uri[len("sqlite:///") :]) or ".", exist_ok=True)
        password = None
        if self.password_key:
            if self.secrets is None:
                raise ValueError("MlflowTracking.password_key is set but no secrets resource is given")
            password = self.secrets.get(self.password_key)
            uri = _with_password(uri, password)
        previous = mlflow.get_tracking_uri()
        # set_tracking_uri also exports MLFLOW_TRACKING_URI (password included) to the process
        # environment, where subprocesses and env dumps would see it: restore the environment after.
        saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            # MLflow quotes the whole store URI, password included, in some errors (e.g. an
            # unsupported scheme such as postgres://): those leave here scrubbed.
            with exceptions_scrubbed(password):
                yield mlflow
        finally:
            mlflow.set_tracking_uri(previous)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _experiment_id(self, mlflow) -> str:
        client = mlflow.MlflowClient()
        exp = client.get_experiment_by_name(self.experiment_name)
        if exp is not None:
            return exp.experiment_id
        return client.create_experiment(self.experiment_name, artifact_location=self.artifact_location)

    @traced("mlflow log_sklearn_model", **{"rpc.system": "mlflow"})
    def log_sklearn_model(
        self,
        model: Any,
        input_example,
        params: dict,
        metrics: dict,
        tags: dict,
        registered_name: str = GAME_MODEL_NAME,
        artifacts: dict[str, str] | None = None,  # name -> text content
        run_name: str | None = None,
        output_column: str | None = None,
    ) -> LoggedModel:
        """One MLflow run: params, metrics, tags, and the model registered as a new version.

        The model is self-contained (see lib/pyfunc_model.py): a pickle of scikit-learn / numpy
        objects only (`portable_estimator`) behind a models-from-code pyfunc whose `predict`
        returns one column, `output_column` (default: "p_home_win" for a classifier, "points"
        otherwise). Signature and input example keep `input_example`'s dtypes (the feature
        table's), so rows of the table score as they are. The SHA-256 of every artifact file is
        recorded as a model-version tag (tracking DB) and checked before any load."""
        import pickle
        import tempfile

        import pandas as pd

        from nba_platform.lib.model_artifacts import DIGEST_TAG, directory_digests, portable_estimator

        classifier = hasattr(model, "predict_proba")
        output_column = output_column or ("p_home_win" if classifier else "points")
        portable = portable_estimator(model)
        example = pd.DataFrame(input_example).reset_index(drop=True)
        columns = [str(c) for c in example.columns]
        values = example.astype("float64")
        if classifier:
            output = portable.predict_proba(values)[:, list(portable.classes_).index(1)]
        else:
            output = portable.predict(values)
        with self._mlflow() as mlflow, tempfile.TemporaryDirectory(prefix="nba-model-") as scratch:
            import mlflow.artifacts
            import mlflow.pyfunc
            from mlflow.models import infer_signature

            estimator_path = os.path.join(scratch, ESTIMATOR_FILE)
            with open(estimator_path, "wb") as handle:
                pickle.dump(portable, handle, protocol=pickle.HIGHEST_PROTOCOL)
            experiment_id = self._experiment_id(mlflow)
            with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
                mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
                mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
                mlflow.set_tags(tags)
                for name, text in (artifacts or {}).items():
                    mlflow.log_text(text, name)
                signature = infer_signature(example, pd.DataFrame({output_column: output.astype("float64")}))
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=PYFUNC_CODE_PATH,
                    artifacts={"estimator": estimator_path},
                    model_config={
                        "feature_columns": columns,
                        "output_column": output_column,
                        "method": "predict_proba" if classifier else "predict",
                    },
                    signature=signature,
                    input_example=example.head(3),
                    registered_model_name=registered_name,
                    # Given, not inferred: inference spawns a Python subprocess (~4 s a model).
                    pip_requirements=_model_requirements(),
                )
            version = str(info.registered_model_version)
            client = mlflow.MlflowClient()
            # Digests of the files as stored, read back from the artifact store after registration.
            stored = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{registered_name}/{version}", dst_path=os.path.join(scratch, "stored")
            )
            digests = directory_digests(stored)
            for k, v in {**tags, DIGEST_TAG: json.dumps(digests, sort_keys=True)}.items():
                client.set_model_version_tag(registered_name, version, k, str(v))
            return LoggedModel(run.info.run_id, version, f"models:/{registered_name}/{version}", registered_name)

    @traced("mlflow log_metrics", **{"rpc.system": "mlflow"})
    def log_metrics(self, run_id: str, metrics: dict) -> None:
        with self._mlflow() as mlflow:
            client = mlflow.MlflowClient()
            for k, v in metrics.items():
                client.log_metric(run_id, k, float(v))

    @traced("mlflow load_sklearn_model", **{"rpc.system": "mlflow"})
    def load_sklearn_model(self, model_uri: str):
        """The fitted scikit-learn estimator of `models:/<name>/<version>`, loaded only after every
        artifact file matched the SHA-256 recorded in the registry at registration. A mismatch (or
        a version without recorded digests) raises ModelIntegrityError and sends an alert; the
        pickle is never opened then."""
        import pickle
        import tempfile

        from nba_platform.lib.model_artifacts import DIGEST_TAG, ModelIntegrityError, verify_digests

        name, version = _parse_model_uri(model_uri)
        label = f"{name}/v{version}"
        with self._mlflow() as mlflow, tempfile.TemporaryDirectory(prefix="nba-model-") as scratch:
            import mlflow.artifacts

            recorded = dict(mlflow.MlflowClient().get_model_version(name, version).tags or {}).get(DIGEST_TAG)
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=os.path.join(scratch, "model")
            )
            try:
                verify_digests(local, recorded, label)
            except ModelIntegrityError as refused:
                self._alert_refused(label, str(refused))
                raise
            with open(os.path.join(local, "artifacts", ESTIMATOR_FILE), "rb") as handle:
                return pickle.load(handle)  # verified bytes: what was registered

    def _alert_refused(self, label: str, reason: str) -> None:
        from nba_platform.lib.alerts import Alert

        logger.error(f"model load refused: {reason}")
        if self.alert_notifier is None:
            return
        self.alert_notifier.send(
            Alert(
                kind="model_integrity",
                title=f"Model {label} refused: artifacts do not match the registry",
                summary="A registered model's files differ from the SHA-256 digests recorded when it was "
                "registered. It was not loaded; the artifact store may have been tampered with.",
                fields=(("model", label), ("experiment", self.experiment_name)),
                details=reason,
                environment=self.alert_notifier.environment,
            ),
            log=logger,
        )

    def run_metrics(self, run_id: str) -> dict[str, float]:
        with self._mlflow() as mlflow:
            return dict(mlflow.MlflowClient().get_run(run_id).data.metrics)

    def artifact_uri(self, version: str, name: str = GAME_MODEL_NAME) -> str:
        """Where a version's model files are stored (file path or s3:// URI)."""
        with self._mlflow() as mlflow:
            return mlflow.MlflowClient().get_model_version_download_uri(name, str(version))

    def find_version(self, name: str, tags: dict) -> RegisteredVersion | None:
        """The newest version of `name` whose tags include every (key, value) of `tags`, or None."""
        with self._mlflow() as mlflow:
            from mlflow.exceptions import MlflowException

            client = mlflow.MlflowClient()
            try:
                found = client.search_model_versions(f"name = '{name}'")
            except MlflowException:
                return None
            matches = [mv for mv in found if all((mv.tags or {}).get(k) == str(v) for k, v in tags.items())]
            if not matches:
                return None
            newest = max(matches, key=lambda m: int(m.version))
            return _registered(name, client.get_model_version(name, newest.version))  # with its aliases

    @traced("mlflow model_versions", **{"rpc.system": "mlflow"})
    def model_versions(self, name: str = GAME_MODEL_NAME) -> list:
        with self._mlflow() as mlflow:
            client = mlflow.MlflowClient()
            return list(client.search_model_versions(f"name = '{name}'"))

    # -- registry aliases: `champion` serves, `challenger` is scored in shadow ------------------
    @traced("mlflow version_by_alias", **{"rpc.system": "mlflow"})
    def version_by_alias(self, alias: str, name: str = GAME_MODEL_NAME) -> RegisteredVersion | None:
        """The version an alias points at, or None (no such alias / model yet)."""
        with self._mlflow() as mlflow:
            from mlflow.exceptions import MlflowException

            client = mlflow.MlflowClient()
            try:
                mv = client.get_model_version_by_alias(name, alias)
            except MlflowException as exc:
                # No such model or alias: None. A registry that cannot be reached is not "no champion".
                if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                    return None
                raise
            return _registered(name, mv)

    @traced("mlflow version", **{"rpc.system": "mlflow"})
    def version(self, version: str, name: str = GAME_MODEL_NAME) -> RegisteredVersion:
        with self._mlflow() as mlflow:
            mv = mlflow.MlflowClient().get_model_version(name, str(version))
            return _registered(name, mv)

    @traced("mlflow set_alias", **{"rpc.system": "mlflow"})
    def set_alias(self, alias: str, version: str, name: str = GAME_MODEL_NAME) -> None:
        with self._mlflow() as mlflow:
            mlflow.MlflowClient().set_registered_model_alias(name, alias, str(version))

    @traced("mlflow delete_alias", **{"rpc.system": "mlflow"})
    def delete_alias(self, alias: str, name: str = GAME_MODEL_NAME) -> None:
        with self._mlflow() as mlflow:
            from mlflow.exceptions import MlflowException

            try:
                mlflow.MlflowClient().delete_registered_model_alias(name, alias)
            except MlflowException:
                pass  # already absent

    @traced("mlflow set_version_tags", **{"rpc.system": "mlflow"})
    def set_version_tags(self, version: str, tags: dict, name: str = GAME_MODEL_NAME) -> None:
        with self._mlflow() as mlflow:
            client = mlflow.MlflowClient()
            for k, v in tags.items():
                client.set_model_version_tag(name, str(version), k, str(v))

    @traced("mlflow model_tags", **{"rpc.system": "mlflow"})
    def model_tags(self, name: str = GAME_MODEL_NAME) -> dict:
        with self._mlflow() as mlflow:
            return dict(mlflow.MlflowClient().get_registered_model(name).tags or {})

    @traced("mlflow set_model_tag", **{"rpc.system": "mlflow"})
    def set_model_tag(self, key: str, value: str, name: str = GAME_MODEL_NAME) -> None:
        with self._mlflow() as mlflow:
            mlflow.MlflowClient().set_registered_model_tag(name, key, value)

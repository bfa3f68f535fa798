"""MLflow tracking and registry for the model assets.

Why not dagster-mlflow's `mlflow_tracking` resource: it is function-style and run-scoped (it
opens one MLflow run when the resource initialises and relies on the
`end_mlflow_on_run_finished` hook to close it), which suits one-op jobs. Our assets log several
MLflow runs per Dagster run (one per walk-forward season) and register versions, which
`MlflowClient` and `mlflow.start_run` do directly. This resource is that thin layer; MLflow is
imported lazily so loading the definitions stays cheap.
"""

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import dagster as dg

from nba_platform.lib.redaction import exceptions_scrubbed
from nba_platform.lib.tracing import traced
from nba_platform.resources.secrets import Secrets

GAME_MODEL_NAME = "nba_game_outcome"


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

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name}/v{self.version}"


def _model_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("scikit-learn", "numpy", "pandas", "scipy", "cloudpickle")]


def _with_password(uri: str, password: str) -> str:
    """postgresql+psycopg2://user@host/db -> ...://user:<password>@host/db (URL-quoted)."""
    from urllib.parse import quote, urlsplit, urlunsplit

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
    ) -> LoggedModel:
        """One MLflow run: params, metrics, tags, the model with its signature, registered as a new version."""
        with self._mlflow() as mlflow:
            import mlflow.sklearn
            from mlflow.models import infer_signature

            experiment_id = self._experiment_id(mlflow)
            with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
                mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
                mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
                mlflow.set_tags(tags)
                for name, text in (artifacts or {}).items():
                    mlflow.log_text(text, name)
                # Classifiers are logged with their positive-class probability as output, regressors with predict().
                output = (
                    model.predict_proba(input_example)[:, 1]
                    if hasattr(model, "predict_proba")
                    else model.predict(input_example)
                )
                signature = infer_signature(input_example, output)
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    signature=signature,
                    input_example=input_example.head(3),
                    registered_model_name=registered_name,
                    serialization_format="cloudpickle",
                    # Given, not inferred: inference spawns a Python subprocess (~4 s a model).
                    pip_requirements=_model_requirements(),
                )
            version = str(info.registered_model_version)
            client = mlflow.MlflowClient()
            for k, v in tags.items():
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
        with self._mlflow() as mlflow:
            import mlflow.sklearn

            return mlflow.sklearn.load_model(model_uri)

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
            except MlflowException:
                return None
            return RegisteredVersion(name, str(mv.version), mv.run_id, dict(mv.tags or {}))

    @traced("mlflow version", **{"rpc.system": "mlflow"})
    def version(self, version: str, name: str = GAME_MODEL_NAME) -> RegisteredVersion:
        with self._mlflow() as mlflow:
            mv = mlflow.MlflowClient().get_model_version(name, str(version))
            return RegisteredVersion(name, str(mv.version), mv.run_id, dict(mv.tags or {}))

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

"""The home-win model's hyper-parameters: their one set of defaults, importable without
scikit-learn (the asset config `GameModelConfig` takes its defaults from here at definitions load)."""

from dataclasses import dataclass

MODEL_KINDS = ("logistic", "hist_gradient_boosting")
CALIBRATION_METHODS = ("sigmoid", "isotonic", "none")


@dataclass(frozen=True)
class GameModelParams:
    candidates: tuple[str, ...] = ("logistic", "hist_gradient_boosting")
    logistic_c: float = 0.1
    hgb_max_iter: int = 200
    hgb_learning_rate: float = 0.05
    hgb_max_depth: int = 3
    hgb_min_samples_leaf: int = 40
    calibration: str = "sigmoid"
    min_train_seasons: int = 2
    season_types: tuple[str, ...] = ("regular", "playoffs", "play_in")
    random_state: int = 0
    min_feature_coverage: float = 0.2  # drop features observed in fewer training rows than this share

    def __post_init__(self):
        unknown = [c for c in self.candidates if c not in MODEL_KINDS]
        if not self.candidates or unknown:
            raise ValueError(f"candidates must be a non-empty subset of {MODEL_KINDS}, got {self.candidates!r}")
        if self.calibration not in CALIBRATION_METHODS:
            raise ValueError(f"calibration must be one of {CALIBRATION_METHODS}, got {self.calibration!r}")
        if self.min_train_seasons < 2:
            raise ValueError("min_train_seasons must be >= 2: one season to fit on, the latest to validate on")
        if not self.season_types:
            raise ValueError("season_types must not be empty")

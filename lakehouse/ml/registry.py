"""The model registry's one rule: a new version becomes ``@champion`` only when it beats the
current champion on the same backtest.

Every training run registers a version (so its evidence is kept and comparable); the alias
moves only on a strictly lower backtest MASE of the selected-model policy, measured on the
same series in the same job (a score from last month's data is not evidence about today's).
Data scientists promote by running the job with a better configuration, or by hand with
``set_registered_model_alias`` after comparing runs (``ml/notebooks``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

log = logging.getLogger(__name__)

FORECASTER = "ioc_forecaster"
CHAMPION = "champion"
SCORE_TAG = "backtest_mase"


@dataclass(frozen=True)
class Promotion:
    """What the registry decided for one candidate version, and on what evidence."""

    model: str
    version: str
    promoted: bool
    candidate_score: float
    champion_version: str | None
    champion_score: float | None

    @property
    def reason(self) -> str:
        if self.champion_version is None:
            return "first version: no champion to beat"
        verdict = "beats" if self.promoted else "does not beat"
        return (f"v{self.version} MASE {self.candidate_score:.4f} {verdict} champion "
                f"v{self.champion_version} MASE {self.champion_score:.4f} on the same backtest")


def current_champion(name: str = FORECASTER):
    """The ``@champion`` model version, or None when none is set (or the model is new)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def is_better(candidate: float, champion: float | None) -> bool:
    """Lower MASE wins; a tie keeps the champion (no churn), an undefined score never wins."""
    if candidate is None or math.isnan(candidate):
        return False
    return champion is None or math.isnan(champion) or candidate < champion - 1e-12


def promote_if_better(version: str, candidate_score: float, champion_score: float | None,
                      name: str = FORECASTER) -> Promotion:
    """Tag ``version`` with its score and move ``@champion`` to it if it wins.

    ``champion_score`` is the current champion's score on the same backtest (None when there
    is no champion)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    champion = current_champion(name)
    client.set_model_version_tag(name, version, SCORE_TAG, f"{candidate_score:.6f}")
    won = champion is None or (str(champion.version) != str(version)
                               and is_better(candidate_score, champion_score))
    decision = Promotion(name, str(version), won, candidate_score,
                         None if champion is None else str(champion.version), champion_score)
    if won:
        client.set_registered_model_alias(name, CHAMPION, str(version))
    client.set_model_version_tag(name, version, "promotion", decision.reason)
    log.info("registry: %s", decision.reason)
    return decision

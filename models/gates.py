"""What a new model must show before it may become champion, and signs that a feature leaks.

A high ROC AUC alone does not earn trust: a model can rank well and still be worse than a
constant guess in probability (censored labels do that), put more churners in "medium"
than in "high", or do far better on the validation window than on the test window. Each
:func:`promotion_gates` failure is a sentence saying what was measured and what it should
have been; the registry (:func:`models.registry.register_and_promote`) refuses champion
while any gate fails, unless ``--promote`` forces it.

:func:`leakage_warnings` does not refuse anything: a near-perfect test or one feature doing
most of the work is legal, but usually means the label follows mechanically from a feature
recorded after (or because of) the churn.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models import evaluation as ev

# Validation and test ROC AUC further apart than this: the two windows disagree.
MAX_AUC_GAP = 0.10
# Leakage warning: a test ROC AUC above this, or one feature with more than this share of
# the total gain of the boosted trees.
LEAKY_AUC = 0.97
LEAKY_GAIN_SHARE = 0.5
# Risk bands from riskiest to safest: observed churn must not rise along this order.
BAND_ORDER = ("high", "medium", "low")
# A band inversion or an AUC gap counts only beyond this many standard errors: on a test
# window with a few dozen churners, bands and AUCs move by chance more than the limits.
NOISE_SE = 2.0


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Standard error of a ROC AUC (Hanley & McNeil, 1982).

    Examples
    --------
    >>> round(auc_standard_error(0.8, 50, 500), 4)
    0.0384
    """
    if positives < 1 or negatives < 1 or math.isnan(auc):
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc ** 2)
                + (negatives - 1) * (q2 - auc ** 2)) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def log_loss_gate(y, proba, *, base_rate: float) -> str | None:
    """Why the calibrated log loss is not below a constant guess at ``base_rate``, or None.

    Examples
    --------
    >>> y = np.array([0, 0, 0, 1])
    >>> log_loss_gate(y, np.array([0.1, 0.1, 0.2, 0.8]), base_rate=0.25) is None
    True
    >>> log_loss_gate(y, np.array([0.9, 0.9, 0.9, 0.1]), base_rate=0.25)  # doctest: +ELLIPSIS
    'calibrated log loss 2.30 on the test rows is not below the 0.56 of a constant guess at ...'
    """
    y = np.asarray(y, dtype=float)
    model = ev.binary_log_loss(y, proba)
    constant = ev.binary_log_loss(y, np.full(len(y), base_rate))
    if math.isnan(model) or math.isnan(constant):
        return "calibrated log loss is undefined on the test rows (no labelled row)"
    if model < constant:
        return None
    return (f"calibrated log loss {model:.2f} on the test rows is not below the {constant:.2f} "
            f"of a constant guess at the training churn rate ({base_rate:.1%}): its "
            "probabilities are worse than knowing nothing about the accounts")


def band_order_gate(by_band: pd.DataFrame) -> str | None:
    """Why observed churn is not monotone across the risk bands (high ≥ medium ≥ low), or None.

    Bands without an account are skipped. A safer band churning more counts only beyond
    :data:`NOISE_SE` standard errors of the difference of the two rates.

    Examples
    --------
    >>> table = pd.DataFrame({"churn_rate": [0.53, 0.58, 0.10], "accounts": [1000, 2000, 7000]},
    ...                      index=["high", "medium", "low"])
    >>> band_order_gate(table)  # doctest: +ELLIPSIS
    'observed churn is not monotone across risk bands: high 53.0% < medium 58.0% (beyond ...'
    >>> band_order_gate(table.assign(accounts=[10, 20, 30])) is None  # within chance
    True
    >>> band_order_gate(table.assign(churn_rate=[0.6, 0.3, 0.1])) is None
    True
    """
    bands = [(band, float(by_band.loc[band, "churn_rate"]), int(by_band.loc[band, "accounts"]))
             for band in BAND_ORDER
             if band in by_band.index and by_band.loc[band, "accounts"] > 0
             and not math.isnan(float(by_band.loc[band, "churn_rate"]))]
    broken = []
    for (a, ra, na), (b, rb, nb) in zip(bands, bands[1:]):
        se = math.sqrt(ra * (1 - ra) / na + rb * (1 - rb) / nb)
        if rb - ra > NOISE_SE * se:
            broken.append(f"{a} {ra:.1%} < {b} {rb:.1%}")
    if not broken:
        return None
    return ("observed churn is not monotone across risk bands: " + ", ".join(broken)
            + f" (beyond {NOISE_SE:g} standard errors)")


def auc_gap_gate(valid_auc: float, test_auc: float, *, noise: float = 0.0) -> str | None:
    """Why validation and test ROC AUC differ by more than :data:`MAX_AUC_GAP`, or None.

    ``noise`` is the standard error of the gap; a gap within :data:`NOISE_SE` of them is
    chance, not a model that fails to hold.

    Examples
    --------
    >>> auc_gap_gate(0.9996, 0.82)  # doctest: +ELLIPSIS
    'validation ROC AUC 0.9996 and test ROC AUC 0.8200 differ by 0.18 (more than 0.10, ...'
    >>> auc_gap_gate(0.80, 0.78) is None
    True
    >>> auc_gap_gate(0.68, 0.84, noise=0.09) is None  # a few dozen churners: chance
    True
    """
    if math.isnan(valid_auc) or math.isnan(test_auc):
        which = "validation" if math.isnan(valid_auc) else "test"
        return f"{which} ROC AUC is undefined (one class only), so the two windows cannot be compared"
    gap = abs(valid_auc - test_auc)
    if gap <= MAX_AUC_GAP or gap <= NOISE_SE * noise:
        return None
    return (f"validation ROC AUC {valid_auc:.4f} and test ROC AUC {test_auc:.4f} differ by "
            f"{gap:.2f} (more than {MAX_AUC_GAP:.2f}, and beyond {NOISE_SE:g} standard "
            "errors): the model does not hold from one window to the next")


def promotion_gates(y, proba, by_band: pd.DataFrame, *, base_rate: float,
                    valid_auc: float | None = None, test_auc: float | None = None,
                    y_valid=None) -> list[str]:
    """Every gate the model fails, in words; empty when it may become champion.

    Parameters
    ----------
    y, proba
        Labels and calibrated churn probabilities of the test rows (out of time, or out of
        fold for a flat table).
    by_band : DataFrame
        :func:`models.evaluation.churn_rate_by_band` of the risk bands on those rows.
    base_rate : float
        The churn rate of the rows the model was fitted on: the constant guess to beat.
    valid_auc, test_auc : float, optional
        Validation and test ROC AUC; the gap gate is skipped without them (a flat table has
        no second window).
    y_valid : array-like of 0/1, optional
        Validation labels, for the standard error of the gap.
    """
    failures = [log_loss_gate(y, proba, base_rate=base_rate), band_order_gate(by_band)]
    if valid_auc is not None and test_auc is not None:
        noise = 0.0
        if y_valid is not None:
            errors = [auc_standard_error(auc, int(np.sum(labels)), int(len(labels) - np.sum(labels)))
                      for auc, labels in ((valid_auc, np.asarray(y_valid)), (test_auc, np.asarray(y)))]
            noise = math.sqrt(sum(e ** 2 for e in errors)) if not any(map(math.isnan, errors)) else 0.0
        failures.append(auc_gap_gate(valid_auc, test_auc, noise=noise))
    return [failure for failure in failures if failure is not None]


def gain_shares(lightgbm) -> pd.Series:
    """Each feature's share of the total split gain of a fitted LightGBM pipeline, largest first."""
    booster = lightgbm.named_steps["model"].booster_
    gain = pd.Series(booster.feature_importance(importance_type="gain"),
                     index=booster.feature_name(), dtype="float64")
    total = gain.sum()
    return (gain / total if total > 0 else gain * 0).sort_values(ascending=False)


def leakage_warnings(test_auc: float, shares: pd.Series) -> list[str]:
    """Warnings that a feature may leak the label, in words; empty when nothing looks so.

    Examples
    --------
    >>> shares = pd.Series({"days_since_cancel_request": 0.8, "logins_30d": 0.2})
    >>> leakage_warnings(0.99, shares)  # doctest: +ELLIPSIS
    ['test ROC AUC 0.990 is above 0.97, ...', 'feature days_since_cancel_request carries 80% ...']
    >>> leakage_warnings(0.80, pd.Series({"a": 0.4, "b": 0.6}))  # doctest: +ELLIPSIS
    ['feature b carries 60% of the total gain ...']
    """
    warnings = []
    shares = shares.sort_values(ascending=False)
    top = shares.index[0] if len(shares) else None
    if not math.isnan(test_auc) and test_auc > LEAKY_AUC:
        warnings.append(
            f"test ROC AUC {test_auc:.3f} is above {LEAKY_AUC:.2f}, rare for churn: the label "
            f"may follow mechanically from a feature (the top one by gain is {top}); check "
            "that no feature is recorded after, or because of, the churn")
    if top is not None and shares.iloc[0] > LEAKY_GAIN_SHARE:
        warnings.append(
            f"feature {top} carries {shares.iloc[0]:.0%} of the total gain (more than "
            f"{LEAKY_GAIN_SHARE:.0%}): it may leak the label; check that it is known before "
            "churn and is not a consequence of it (a cancellation, a closing status, ...)")
    return warnings

"""Data-driven measure weights for the health scorecard, suggested from churn evidence.

The scorecard's weights are usually set by hand and left there. This module asks the data
which measures actually separate churners from retained accounts and suggests weights in
the scorecard's own terms, so a customer-success lead can review them and copy them into
the scorecard TOML.

Why a logistic regression on the measure scores (and not, say, LightGBM importances): the
health score is a *weighted mean of measure scores*, i.e. linear in the measures. The
logistic model ``logit P(churn) = b0 - sum_i beta_i * measure_i`` is the linear model of
exactly that form, so its per-point coefficients ``beta_i`` are the weights that make the
score rank churners best among scores of the scorecard's shape. Measures whose higher score
goes with *more* churn (a negative ``beta``) get weight 0 and a note: the data gives no
support for them as they are configured, which is worth a look at their thresholds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MEASURE_PREFIX = "measure_"
# Two standard errors: a pure-noise measure passes by chance about 2% of the time with
# independent rows. Snapshots of one account at several dates are not independent, so the
# real rate is higher; the out-of-time proof of a suggestion is the check that counts.
MIN_EVIDENCE_Z = 2.0


def _check_labels(churned: pd.Series, index: pd.Index) -> pd.Series:
    """0/1 churn labels aligned with the measure table; both classes present."""
    if not isinstance(churned, pd.Series):
        churned = pd.Series(np.asarray(churned), index=index)
    if not churned.index.equals(index):
        missing = index.difference(churned.index)
        if len(missing):
            raise ValueError(
                f"churned: no label for {len(missing)} account(s) of measure_scores, e.g. "
                f"{list(missing[:5])}; pass labels indexed like measure_scores"
            )
        churned = churned.reindex(index)
    values = pd.to_numeric(churned, errors="coerce")
    bad = churned[values.isna() | ~values.isin([0, 1])]
    if len(bad):
        raise ValueError(
            f"churned: labels must be 0 or 1, got {bad.head(5).tolist()} at {list(bad.index[:5])}; "
            "map churned accounts to 1 and retained ones to 0"
        )
    if values.nunique() < 2:
        only = "churner" if values.iloc[0] == 1 else "retained account"
        raise ValueError(
            f"churned: every label is the same (only {only}s); weights need both churners "
            "and retained accounts, e.g. a longer label horizon or more accounts"
        )
    return values.astype(int)


def _measure_columns(measure_scores: pd.DataFrame) -> dict[str, str]:
    """Measure name -> column, for ``measure_<name>`` columns (or every numeric column)."""
    prefixed = {c[len(MEASURE_PREFIX):]: c for c in measure_scores.columns if str(c).startswith(MEASURE_PREFIX)}
    columns = prefixed or {
        str(c): c for c in measure_scores.columns if pd.api.types.is_numeric_dtype(measure_scores[c])
    }
    if not columns:
        raise ValueError(
            "measure_scores: no measure column; pass the measure_<name> columns of "
            "features.health_score.score_accounts output"
        )
    return columns


def _fit(frame: pd.DataFrame, y: pd.Series, regularisation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-point coefficients (higher score, less churn = positive) and their z-values."""
    from sklearn.linear_model import LogisticRegression

    # Median imputation keeps accounts without a measure neutral on it, the way the
    # scorecard's renormalisation leaves them unaffected by the missing measure.
    x = frame.fillna(frame.median())
    scale = x.std(ddof=0).replace(0, 1.0)
    standardised = ((x - x.mean()) / scale).to_numpy()
    model = LogisticRegression(C=1.0 / regularisation, max_iter=1000, random_state=seed)
    model.fit(standardised, y.to_numpy())
    # Standard errors from the penalised log-likelihood's curvature at the fit.
    p = model.predict_proba(standardised)[:, 1]
    design = np.column_stack([np.ones(len(standardised)), standardised])
    curvature = design.T @ (design * (p * (1 - p))[:, None])
    curvature[1:, 1:] += regularisation * np.eye(standardised.shape[1])
    errors = np.sqrt(np.clip(np.diag(np.linalg.pinv(curvature))[1:], 1e-300, None))
    # Sign flipped so that "higher score, less churn" is positive, like a weight.
    return -model.coef_[0] / scale.to_numpy(), -model.coef_[0] / errors


def current_weights(scorecard) -> pd.Series:
    """Each measure's effective share of the health score in a scorecard (summing to 1).

    The share of a measure is its group's weight share times its weight share within the
    group, when every measure has data (weights renormalise over what is present).

    Examples
    --------
    >>> from features.scorecard_config import load_scorecard
    >>> weights = current_weights(load_scorecard())
    >>> round(float(weights.sum()), 6)
    1.0
    """
    groups = {g.name: g.weight for g in scorecard.groups}
    total_group = sum(groups.values())
    by_group: dict[str, float] = {}
    for measure in scorecard.measures:
        by_group[measure.group] = by_group.get(measure.group, 0.0) + measure.weight
    shares = {
        m.name: (groups[m.group] / total_group) * (m.weight / by_group[m.group])
        for m in scorecard.measures
        if by_group[m.group] > 0 and total_group > 0
    }
    return pd.Series(shares, name="current_weight", dtype=float)


def suggest_measure_weights(
    measure_scores: pd.DataFrame,
    churned: pd.Series,
    *,
    scorecard=None,
    regularisation: float = 1.0,
    min_evidence: float = MIN_EVIDENCE_Z,
    seed: int = 0,
) -> pd.DataFrame:
    """Suggest each measure's share of the health score from churn evidence.

    Parameters
    ----------
    measure_scores : DataFrame
        One row per labelled account: the ``measure_<name>`` columns (0-100, NaN without
        data) of :func:`features.health_score.score_accounts`.
    churned : Series of 0/1
        Whether the account churned within the label horizon, indexed like
        ``measure_scores``.
    scorecard : Scorecard, optional
        When given, the table also holds each measure's ``group`` and ``current_weight``.
    regularisation : float
        L2 penalty strength of the logistic regression (``1 / C``); larger shrinks the
        coefficients of weakly supported measures towards 0.
    min_evidence : float
        A measure keeps a weight only when its coefficient is at least this many standard
        errors above 0 (a one-sided Wald test); the others get 0 and a note.
    seed : int
        Seed of the solver, for bit-identical results.

    Returns
    -------
    DataFrame
        Indexed by measure, sorted by suggested weight: ``coverage`` (share of accounts with
        data), ``roc_auc`` (how well the measure alone ranks churners first: 0.5 is chance,
        NaN without both classes among accounts with data), ``coefficient`` (drop in churn
        log-odds per point of measure score, from the joint model), ``evidence_z`` (the
        coefficient in standard errors), ``suggested_weight``
        (shares summing to 1; 0 for measures with no supporting evidence), ``note`` (why a
        measure got weight 0, else None), and with a scorecard ``group`` and
        ``current_weight``.

    Raises
    ------
    ValueError
        When labels are not 0/1, miss accounts or hold one class only, or when there is no
        measure column.

    Examples
    --------
    Churn follows measure ``a`` closely; ``b`` is noise:

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.uniform(0, 100, 400), rng.uniform(0, 100, 400)
    >>> churned = pd.Series((rng.uniform(0, 100, 400) > a).astype(int))
    >>> table = suggest_measure_weights(pd.DataFrame({"measure_a": a, "measure_b": b}), churned)
    >>> table.index[0], bool(table.loc["a", "suggested_weight"] > 0.8)
    ('a', True)
    >>> round(float(table["suggested_weight"].sum()), 6)
    1.0
    """
    from models.evaluation import roc_auc

    if regularisation <= 0:
        raise ValueError(f"regularisation must be > 0, got {regularisation}")
    columns = _measure_columns(measure_scores)
    y = _check_labels(churned, measure_scores.index)
    frame = measure_scores[list(columns.values())].apply(pd.to_numeric, errors="coerce").astype(float)
    frame.columns = list(columns)

    coverage = frame.notna().mean()
    usable = [m for m in frame.columns if coverage[m] > 0 and frame[m].nunique(dropna=True) > 1]
    auc = {}
    for measure in frame.columns:
        present = frame[measure].notna()
        labels = y[present]
        values = frame.loc[present, measure]
        spread = values.max() - values.min()
        # A low measure score should mean churn, so rank by the shortfall from the best
        # score seen (scaled to 0-1; ROC AUC only depends on the order).
        auc[measure] = (
            roc_auc(labels.to_numpy(), ((values.max() - values) / spread).to_numpy())
            if labels.nunique() == 2 and spread > 0
            else np.nan
        )

    coefficient = pd.Series(np.nan, index=frame.columns)
    z = pd.Series(np.nan, index=frame.columns)
    if usable:
        coefficient[usable], z[usable] = _fit(frame[usable], y, regularisation, seed)
        # Refit without the measures the data does not support, so that their noise does
        # not bend the weights of the others.
        supported = [m for m in usable if z[m] >= min_evidence]
        if supported and len(supported) < len(usable):
            coefficient[supported], z[supported] = _fit(frame[supported], y, regularisation, seed)

    evidence = coefficient.where(z >= min_evidence, 0.0).clip(lower=0).fillna(0.0)
    total = evidence.sum()
    suggested = evidence / total if total > 0 else pd.Series(np.nan, index=frame.columns)
    notes = {}
    for measure in frame.columns:
        if coverage[measure] == 0:
            notes[measure] = "no account has data for this measure"
        elif measure not in usable:
            notes[measure] = "the same score for every account: nothing to learn from"
        elif coefficient[measure] <= 0:
            notes[measure] = "higher scores do not go with less churn here; review its thresholds"
        elif z[measure] < min_evidence:
            notes[measure] = (
                f"no clear evidence that higher scores go with less churn (z = {z[measure]:.1f}, "
                f"below {min_evidence:g}): it adds noise to the score"
            )
    if total <= 0:
        notes = {m: notes.get(m, "no measure separates churners from the others") for m in frame.columns}

    table = pd.DataFrame(
        {
            "coverage": coverage,
            "roc_auc": pd.Series(auc, dtype=float),
            "coefficient": coefficient,
            "evidence_z": z,
            "suggested_weight": suggested,
            "note": pd.Series({m: notes.get(m) for m in frame.columns}, dtype=object),
        }
    )
    table.index.name = "measure"
    if scorecard is not None:
        groups = {m.name: m.group for m in scorecard.measures}
        table.insert(0, "group", [groups.get(m) for m in table.index])
        table.insert(len(table.columns) - 1, "current_weight", current_weights(scorecard).reindex(table.index))
    return table.sort_values("suggested_weight", ascending=False, kind="mergesort")


def weights_as_scorecard(suggestion: pd.DataFrame, *, scale: float = 100.0) -> dict:
    """Suggested shares as scorecard TOML keys: group weights and within-group weights.

    The effective share of a measure is its group's weight share times its share within
    the group, so group weight = sum of its measures' shares, and a measure's weight within
    its group = its share / its group's total. Groups whose measures all got 0 keep weight 0.

    Parameters
    ----------
    suggestion : DataFrame
        :func:`suggest_measure_weights` output computed with a scorecard (needs ``group``).
    scale : float
        Weights are written as shares times ``scale`` (100 gives percent-like numbers).

    Returns
    -------
    dict
        ``{"groups": {group: {"weight": w}}, "measures": {measure: {"weight": w}}}``,
        ready to merge into a scorecard TOML.

    Examples
    --------
    >>> suggestion = pd.DataFrame({"group": ["g", "g", "h"], "suggested_weight": [0.5, 0.25, 0.25]},
    ...                           index=["a", "b", "c"])
    >>> weights_as_scorecard(suggestion)
    {'groups': {'g': {'weight': 75.0}, 'h': {'weight': 25.0}}, 'measures': {'a': {'weight': 66.7}, 'b': {'weight': 33.3}, 'c': {'weight': 100.0}}}
    """
    if "group" not in suggestion.columns:
        raise ValueError(
            "suggestion has no group column; compute it with suggest_measure_weights(..., scorecard=card)"
        )
    shares = suggestion["suggested_weight"].fillna(0.0)
    group_totals = shares.groupby(suggestion["group"], sort=False).sum()
    groups = {str(g): {"weight": round(float(w) * scale, 1)} for g, w in group_totals.items()}
    measures: dict[str, dict] = {}
    for measure, share in shares.items():
        group_total = group_totals[suggestion.loc[measure, "group"]]
        within = share / group_total if group_total > 0 else 0.0
        measures[str(measure)] = {"weight": round(float(within) * scale, 1)}
    return {"groups": groups, "measures": measures}


def apply_weights(scorecard, suggestion: pd.DataFrame):
    """A copy of ``scorecard`` with the suggested weights (for evaluating them before use).

    Measures with a suggested weight of 0 are left out, and so are groups left without a
    measure: a weight of 0 would otherwise still count towards coverage. Per-segment
    scorecards get the same weights for the measures they share. Bands, thresholds and
    the minimum coverage stay as they are.

    Parameters
    ----------
    scorecard : Scorecard
    suggestion : DataFrame
        :func:`suggest_measure_weights` output computed with ``scorecard``.

    Returns
    -------
    Scorecard

    Raises
    ------
    ValueError
        When no measure got a positive weight.

    Examples
    --------
    >>> from features.scorecard_config import load_scorecard
    >>> card = load_scorecard()
    >>> names = [m.name for m in card.measures]
    >>> suggestion = pd.DataFrame({"group": [m.group for m in card.measures],
    ...                            "suggested_weight": [1.0] + [0.0] * (len(names) - 1)}, index=names)
    >>> reweighted = apply_weights(card, suggestion)
    >>> [m.name for m in reweighted.measures] == names[:1], len(reweighted.groups)
    (True, 1)
    """
    from dataclasses import replace

    keys = weights_as_scorecard(suggestion, scale=1.0)
    if not any(entry["weight"] > 0 for entry in keys["measures"].values()):
        raise ValueError(
            "no measure got a positive suggested weight, so there is no scorecard to build; "
            "check the labels and the measures' thresholds"
        )
    shares = suggestion["suggested_weight"].fillna(0.0)
    group_totals = shares.groupby(suggestion["group"]).sum()

    def reweight(card):
        measures = []
        for measure in card.measures:
            share = float(shares.get(measure.name, 0.0))
            total = float(group_totals.get(measure.group, 0.0))
            if share > 0 and total > 0:
                measures.append(replace(measure, weight=share / total))
        used = {m.group for m in measures}
        groups = tuple(replace(g, weight=float(group_totals[g.name])) for g in card.groups if g.name in used)
        return replace(card, groups=groups, measures=tuple(measures))

    segments = {name: reweight(card) for name, card in scorecard.segments.items()}
    return replace(reweight(scorecard), segments=segments, source=f"{scorecard.source}, reweighted from churn evidence")


def reweighted(card, suggestion: pd.DataFrame):
    """``card`` with the suggested weights as a scorecard file writes them.

    Unlike :func:`apply_weights`, measures with a suggested weight of 0 stay in the card
    with weight 0 (and groups left without weight get 0), so the card lists every measure
    and writing it as TOML shows what was dropped. Weights are the rounded numbers of
    :func:`weights_as_scorecard`, so the card is exactly what its file says. ``card`` is one
    scorecard; per-segment cards are reweighted one by one.

    Raises
    ------
    ValueError
        When no measure got a positive weight.

    Examples
    --------
    >>> from features.scorecard_config import load_scorecard
    >>> card = load_scorecard()
    >>> suggestion = pd.DataFrame({"group": [m.group for m in card.measures],
    ...                            "suggested_weight": [1.0] + [0.0] * (len(card.measures) - 1)},
    ...                           index=[m.name for m in card.measures])
    >>> new = reweighted(card, suggestion)
    >>> [g.weight for g in new.groups], [m.weight for m in new.measures][:3]
    ([100.0, 0.0, 0.0, 0.0], [100.0, 0.0, 0.0])
    """
    from dataclasses import replace

    keys = weights_as_scorecard(suggestion)
    if not any(entry["weight"] > 0 for entry in keys["measures"].values()):
        raise ValueError(
            "no measure got a positive suggested weight, so there is no scorecard to build; "
            "check the labels and the measures' thresholds"
        )
    measures = tuple(
        replace(m, weight=keys["measures"].get(m.name, {"weight": 0.0})["weight"]) for m in card.measures
    )
    groups = tuple(replace(g, weight=keys["groups"].get(g.name, {"weight": 0.0})["weight"]) for g in card.groups)
    return replace(card, groups=groups, measures=measures)

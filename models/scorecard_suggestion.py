"""A scorecard suggested from churn, learnt on the training dates and proven out of time.

:func:`suggest_scorecard` takes a time split of point-in-time snapshots (the one the
trainer uses) and a scorecard, and for the scorecard (and each segment's, see
``segment_by``):

1. moves each measure's ``poor`` and ``good`` to where churn actually changes
   (:mod:`models.thresholds`), on the training dates;
2. weighs the measures, so scored, by how much they separate churners
   (:mod:`models.weights`), on the same dates;
3. writes the result as a complete scorecard TOML with a comment per changed value
   (:mod:`features.scorecard_writer`), reads it back, and proves *that* scorecard against the
   current one on the out-of-time test dates: ROC AUC, churn rate and share of accounts per
   band, and how many accounts change band.

A suggestion *beats* the current scorecard when its out-of-time ROC AUC is higher and its
bands stay in order (each band churns less than the one before it). The trainer calls
:func:`suggested_scorecard_results` at every run so that drift between a hand-made
scorecard and the data shows at each retrain.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features.health_score import score_accounts
from features.scorecard import Scorecard
from features.scorecard_config import scorecard_from_dict
from features.scorecard_writer import scorecard_toml
from models import evaluation as ev
from models.thresholds import suggest_thresholds, with_thresholds
from models.training_set import LABEL, Split
from models.weights import reweighted, suggest_measure_weights

SEGMENT_COLUMN = "segment"
# The suggested scorecard's name among the trainer's models (beside "health_score").
SUGGESTED = "health_score_suggested"
DEFAULT_CARD = "default"
# A segment gets a scorecard of its own only with this many churners on the training dates.
MIN_SEGMENT_CHURNERS = 100
Progress = Callable[[int, int, str], None]


class SuggestionError(ValueError):
    """The data cannot back a suggestion; the message names the option or data to change."""


@dataclass(frozen=True)
class Suggestion:
    """A suggested scorecard and its proof.

    Attributes
    ----------
    current, suggested : Scorecard
        The scorecard given, and the suggestion (read back from :attr:`toml`).
    toml : str
        The suggestion as a complete scorecard file, changed values commented.
    weights, thresholds : dict of str to DataFrame
        Per learnt card (``"default"``, then segment names): the weight table of
        :func:`models.weights.suggest_measure_weights` and the threshold table of
        :func:`models.thresholds.suggest_thresholds`.
    kept : dict of str to str
        Cards left as they were, and why (e.g. a segment with too few churners).
    results : dict of str to dict
        ``"current"`` and ``"suggested"``: :func:`models.evaluation.evaluate` of each
        scorecard as a churn predictor on the test dates.
    by_band : dict of str to DataFrame
        Per scorecard: accounts, churned, churn rate and share of accounts per band.
    band_changes : DataFrame
        Accounts × dates of the test per current band (rows) and suggested band (columns).
    monotone : dict of str to bool or None
        Whether each scorecard's bands churn less from one to the next (None: a band is empty).
    train_dates, test_dates : list of Timestamp
    """

    current: Scorecard
    suggested: Scorecard
    toml: str
    weights: dict
    thresholds: dict
    kept: dict
    results: dict
    by_band: dict
    band_changes: pd.DataFrame
    monotone: dict
    train_dates: list
    test_dates: list

    @property
    def changed_bands(self) -> int:
        """Test rows (accounts × dates) whose band differs between the two scorecards."""
        table = self.band_changes
        same = sum(table.loc[b, b] for b in table.index if b in table.columns)
        return int(table.to_numpy().sum() - same)

    @property
    def beats(self) -> bool:
        """Higher out-of-time ROC AUC than the current scorecard, bands in order."""
        new, old = self.results["suggested"]["roc_auc"], self.results["current"]["roc_auc"]
        return bool(np.isfinite(new) and (not np.isfinite(old) or new > old)
                    and self.monotone["suggested"])

    @property
    def verdict(self) -> str:
        """One sentence: does the suggestion beat the current scorecard out of time, and why."""
        new, old = self.results["suggested"]["roc_auc"], self.results["current"]["roc_auc"]
        auc = f"out-of-time ROC AUC {new:.3f} vs {old:.3f} for the current scorecard"
        if self.beats:
            return f"the suggestion beats the current scorecard: {auc}, bands in order"
        if not self.monotone["suggested"]:
            return (f"the suggestion does not beat the current scorecard: its bands are not in "
                    f"order on the test dates ({auc})")
        return f"the suggestion does not beat the current scorecard: {auc}"


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[LABEL].to_numpy(dtype=int)


def _segment_rows(split: Split, scorecard: Scorecard, segment_by: str | None) -> dict[str, tuple]:
    """Per card to learn: (card to start from, training rows, reason kept or None)."""
    train = split.train
    single = replace(scorecard, segments={})
    if segment_by is None:
        return {DEFAULT_CARD: (single, train, None)}
    segments = train[segment_by].astype(object)
    cards: dict[str, tuple] = {}
    learnt = []
    for name in sorted(set(segments.dropna()) | set(scorecard.segments)):
        rows = train[(segments == name).to_numpy()]
        start = scorecard.segments.get(name, single)
        churners = int(rows[LABEL].sum())
        if churners >= MIN_SEGMENT_CHURNERS and len(rows) > churners:
            cards[str(name)] = (start, rows, None)
            learnt.append(name)
        elif name in scorecard.segments:
            cards[str(name)] = (start, rows, f"{churners} churner(s) on the training dates, "
                                f"fewer than {MIN_SEGMENT_CHURNERS}: kept as it is")
    default_rows = train[~segments.isin(learnt).to_numpy()]
    return {DEFAULT_CARD: (single, default_rows, None), **cards}


def _learn(card: Scorecard, rows: pd.DataFrame, prefix: str) -> tuple[Scorecard, pd.DataFrame, pd.DataFrame, dict]:
    """Thresholds, then weights, of one card on its training rows; notes by TOML path."""
    y = _labels(rows)
    thresholds = suggest_thresholds(rows, y, card)
    card, notes = with_thresholds(card, thresholds)
    scored = score_accounts(rows.reset_index(drop=True), card)
    weights = suggest_measure_weights(scored.filter(like="measure_"), pd.Series(y), scorecard=card)
    card = reweighted(card, weights)
    for measure, row in weights.iterrows():
        share = row["suggested_weight"]
        why = row["note"] if isinstance(row["note"], str) else (
            f"{share:.0%} of the score from churn evidence (was {row['current_weight']:.0%})")
        notes[f"measures.{measure}.weight"] = why
    for group, total in weights.groupby("group")["suggested_weight"].sum().items():
        notes[f"groups.{group}.weight"] = f"its measures' share of the evidence: {total:.0%}"
    return card, thresholds, weights, {f"{prefix}{k}": v for k, v in notes.items()}


def _bands(card: Scorecard, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, bool | None]:
    labels = score_accounts(frame.reset_index(drop=True), card)["health_band"].to_numpy()
    order = [b.label for b in card.bands] + [card.insufficient_label]
    table = ev.churn_rate_by_band(_labels(frame), labels, order=order)
    table["share"] = table["accounts"] / max(len(frame), 1)
    rates = table["churn_rate"].iloc[: len(card.bands)].to_numpy()
    monotone = None if np.isnan(rates).any() else bool(np.all(np.diff(rates) < 0))
    return table, labels, monotone


def _results(card: Scorecard, split: Split, columns: list[str]) -> dict:
    """The scorecard as a churn predictor, as the trainer's health-score baseline runs it."""
    from models.estimators import ScorecardPredictor

    model = ScorecardPredictor(card).fit(split.train[columns], _labels(split.train))
    return ev.evaluate(_labels(split.test), model.predict_proba(split.test[columns])[:, 1])


def suggest_scorecard(
    split: Split,
    feature_columns: list[str],
    scorecard: Scorecard,
    *,
    segment_by: str | None = None,
    progress: Progress | None = None,
) -> Suggestion:
    """Learn thresholds and weights on the training dates; prove them on the test dates.

    Parameters
    ----------
    split : Split
        :func:`models.training_set.time_split` of the snapshots; ``train`` is learnt from,
        ``test`` proves.
    feature_columns : list of str
        The indicator columns of the snapshots.
    scorecard : Scorecard
        The current scorecard.
    segment_by : {"segment", None}
        ``"segment"``: every segment value with at least :data:`MIN_SEGMENT_CHURNERS`
        churners on the training dates gets a scorecard of its own (starting from its
        current one), the other accounts share the default; the scorecard's own segments
        with fewer churners are kept as they are. None: one scorecard for every account
        (segment tables are left out of the suggestion).
    progress : callable, optional
        ``progress(done, total, text)`` as each card is learnt and as the proof runs.

    Returns
    -------
    Suggestion

    Raises
    ------
    SuggestionError
        When ``segment_by`` names another column than ``segment``, or a card's training
        rows hold one class only.
    """
    if segment_by not in (None, SEGMENT_COLUMN):
        raise SuggestionError(
            f"--segment-by {segment_by}: a scorecard's segments are read from the "
            f"'{SEGMENT_COLUMN}' column only; map your column to accounts.segment in the "
            "mapping file, or use --segment-by segment"
        )
    if segment_by is not None and segment_by not in split.train.columns:
        raise SuggestionError(
            f"--segment-by {segment_by}: the snapshots have no '{segment_by}' column; add "
            "accounts.segment to the data or omit --segment-by"
        )
    plan = _segment_rows(split, scorecard, segment_by)
    report = progress or (lambda *_: None)
    total = len(plan) + 1
    learnt, thresholds, weights, notes, kept = {}, {}, {}, {}, {}
    for done, (name, (card, rows, reason)) in enumerate(plan.items()):
        report(done, total, f"learning the {name} scorecard")
        if reason is not None:
            learnt[name], kept[name] = card, reason
            continue
        if rows[LABEL].nunique() < 2:
            raise SuggestionError(
                f"the training dates of the {name} scorecard hold one class only "
                f"({len(rows)} rows); raise --horizon or provide more accounts or history"
            )
        prefix = "" if name == DEFAULT_CARD else f"segments.{name}."
        try:
            learnt[name], thresholds[name], weights[name], card_notes = _learn(card, rows, prefix)
        except ValueError as exc:  # no measure with evidence: nothing better to suggest
            if name == DEFAULT_CARD:
                raise SuggestionError(f"no suggestion for the default scorecard: {exc}") from exc
            learnt[name], kept[name] = card, f"kept as it is: {exc}"
            continue
        notes.update(card_notes)
    default = learnt.pop(DEFAULT_CARD)
    draft = replace(default, segments=learnt, source="suggested scorecard")
    header = _header(split, scorecard, segment_by, kept)
    toml = scorecard_toml(draft, previous=scorecard, notes=notes, header=header)
    suggested = scorecard_from_dict(tomllib.loads(toml), source="suggested scorecard")

    report(total - 1, total, "proving both scorecards on the out-of-time dates")
    test = split.test
    by_band, bands, monotone, results = {}, {}, {}, {}
    for key, card in (("current", scorecard), ("suggested", suggested)):
        by_band[key], bands[key], monotone[key] = _bands(card, test)
        results[key] = _results(card, split, feature_columns)
    changes = pd.crosstab(pd.Series(bands["current"], name="current"),
                          pd.Series(bands["suggested"], name="suggested"))
    return Suggestion(
        current=scorecard, suggested=suggested, toml=toml, weights=weights,
        thresholds=thresholds, kept=kept, results=results, by_band=by_band,
        band_changes=changes, monotone=monotone, train_dates=list(split.train_dates),
        test_dates=list(split.test_dates),
    )


def _header(split: Split, scorecard: Scorecard, segment_by: str | None, kept: dict) -> str:
    span = lambda dates: f"{min(dates):%Y-%m-%d} to {max(dates):%Y-%m-%d}"  # noqa: E731
    lines = [
        "Health scorecard suggested from churn by `customer-health scorecard suggest`,",
        f"starting from {scorecard.source}.",
        f"Thresholds and weights learnt on the observation dates {span(split.train_dates)}",
        f"({len(split.train)} accounts x dates); proven on {span(split.test_dates)}.",
        "A comment `# was ...` marks every value that changed, and says why it moved.",
        "Review it as a diff against the current file (docs/scorecard.md, 'Suggested scorecards').",
    ]
    if segment_by is None and scorecard.segments:
        lines.append("Learnt as one scorecard for every account: the segment tables of the "
                     "current file are left out.")
    for name, reason in kept.items():
        lines.append(f"Segment {name}: {reason}.")
    return "\n".join(lines)


def suggested_scorecard_results(split: Split, feature_columns: list[str],
                                scorecard: Scorecard | None) -> tuple[dict | None, str]:
    """The suggestion's out-of-time evaluation for a training run, or None and why not.

    Returns
    -------
    result : dict or None
        :func:`models.evaluation.evaluate` of the suggested scorecard on the test dates.
    note : str
        How the suggestion was made, or why there is none.
    """
    if scorecard is None:
        from features.scorecard_config import load_scorecard

        scorecard = load_scorecard()
    missing = [name for name in scorecard.indicator_names()
               if name != "segment" and name not in feature_columns]
    if missing:
        return None, (f"no suggestion: the training set lacks {', '.join(missing[:5])}"
                      f"{' and more' if len(missing) > 5 else ''}, read by the scorecard")
    try:
        suggestion = suggest_scorecard(split, feature_columns, scorecard)
    except ValueError as exc:  # one class in a card, no measure with evidence, bad columns
        return None, f"no suggestion: {exc}"
    return suggestion.results["suggested"], suggestion.verdict

"""Does a churn model belong to the data it scores? Warnings when it may not.

A registered model remembers what it learnt from: its training run logs the data fingerprint
(``data.*`` parameters: the content hash, the tables and their date ranges) and the end of
its out-of-time test (``test_window_end``). :func:`model_warnings` compares them with the
data being scored and the as-of date:

- **other data**: neither the same content nor the same source (other tables, or history
  starting at another time): the model learnt on someone else's accounts, and its
  probabilities and figures mean nothing here;
- **measured after the as-of date**: the label windows of its test dates end after the date
  scored, so the figures on its card were measured on the future of that date;
- **a flat-table model** scoring event tables.

The batch job and ``score`` record the warnings in the run metadata and print them, the
report shows them on the model card, and the service returns them.
"""

from __future__ import annotations

import pandas as pd

from features.churn_definition import ChurnDefinition

# History starting further apart than this is another data set, not the same one grown.
SAME_START_TOLERANCE = pd.Timedelta(days=31)
FLAT_MODE = "flat table"


def _day(text: str | None) -> pd.Timestamp | None:
    try:
        return None if not text else pd.Timestamp(text)
    except ValueError:
        return None


def trained_tables(params: dict) -> set[str]:
    """The tables a model's training run logged (``data.tables.<name>.rows``).

    Examples
    --------
    >>> sorted(trained_tables({"data.tables.accounts.rows": "3", "data.tables.sessions.first": "x",
    ...                        "seed": "0"}))
    ['accounts', 'sessions']
    """
    return {key.split(".")[2] for key in params if key.startswith("data.tables.")
            and key.count(".") >= 3}


def model_warnings(params: dict, *, as_of: pd.Timestamp, tables=None,
                   data_sha256: str | None = None) -> list[str]:
    """Why a model may not fit the data scored as of ``as_of``; empty when nothing says so.

    Parameters
    ----------
    params : dict
        The model's training-run parameters (:attr:`models.registry.LoadedModel.params`).
    as_of : Timestamp
        The date scored.
    tables : features.contract.Tables, optional
        The tables scored; without them only the date is checked (and ``data_sha256``).
    data_sha256 : str, optional
        :func:`models.training_set.tables_sha256` of the tables scored, when known.

    Examples
    --------
    >>> params = {"mode": "tables", "data.inputs_sha256": "aa", "data.data_start": "2025-01-01",
    ...           "data.data_end": "2026-01-01", "data.tables.accounts.rows": "9",
    ...           "test_window_end": "2025-12-01"}
    >>> model_warnings(params, as_of=pd.Timestamp("2026-01-01"), data_sha256="aa")
    []
    >>> model_warnings(params, as_of=pd.Timestamp("2025-06-01"))  # doctest: +ELLIPSIS
    ['the model was tested on label windows ending 2025-12-01, after the as-of date ...']
    """
    if not params:
        return []
    warnings = []
    if params.get("mode") == FLAT_MODE:
        warnings.append(
            "the model was trained on a flat table, not on event tables like these: its "
            "features and probabilities may not match; train one on this folder with "
            "`customer-health train DIR`")
    tested_until = _day(params.get("test_window_end"))
    if tested_until is not None and tested_until > as_of:
        warnings.append(
            f"the model was tested on label windows ending {tested_until:%Y-%m-%d}, after the "
            f"as-of date {as_of:%Y-%m-%d}: its figures were measured on what happened after "
            "the date scored; score a later date or use a model trained on data up to it")
    if params.get("mode") != FLAT_MODE and tables is not None:
        warnings += _other_data(params, tables, data_sha256)
    return warnings


def _other_data(params: dict, tables, data_sha256: str | None) -> list[str]:
    from models.training_set import data_span, tables_sha256

    digest = data_sha256 or tables_sha256(tables)
    if params.get("data.inputs_sha256") == digest:
        return []
    trained_start, trained_end = _day(params.get("data.data_start")), _day(params.get("data.data_end"))
    start, end = data_span(tables)
    names = set(tables.present())
    known = trained_tables(params)
    other_tables = bool(known) and known != names
    other_start = trained_start is not None and abs(start - trained_start) > SAME_START_TOLERANCE
    if not (other_tables or other_start):
        return []  # the same source, grown or corrected since training
    what = []
    if trained_start is not None and trained_end is not None:
        what.append(f"its training data ran {trained_start:%Y-%m-%d} to {trained_end:%Y-%m-%d}, "
                    f"these tables run {start:%Y-%m-%d} to {end:%Y-%m-%d}")
    if other_tables:
        what.append(f"it learnt from {', '.join(sorted(known))}, these are "
                    f"{', '.join(sorted(names))}")
    return [f"the model was trained on other data ({'; '.join(what)}): its churn risks and "
            "the figures on its card do not describe these accounts; train a model on this "
            "folder with `customer-health train DIR`"]


def model_provenance(params: dict) -> dict:
    """What a model learnt from, for people and clients: its data span, test window, fingerprint.

    Parameters
    ----------
    params : dict
        The model's training-run parameters (:attr:`models.registry.LoadedModel.params`).

    Returns
    -------
    dict
        ``mode``, ``data_start`` / ``data_end`` (the span of the training tables),
        ``test_start`` (the first out-of-time test date) / ``test_window_end`` (the end of
        its label windows: the last day the model's figures looked at) as ISO dates, and
        ``data_sha256``; None for what the run did not log (an older or a flat-table model).

    Examples
    --------
    >>> model_provenance({"mode": "tables", "data.data_start": "2025-01-01T00:00:00",
    ...                   "data.data_end": "2026-01-01T00:00:00",
    ...                   "split.test_dates": "2025-08-19..2025-10-03 (2)",
    ...                   "test_window_end": "2026-01-01T00:00:00", "data.inputs_sha256": "ab"})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'mode': 'tables', 'data_start': '2025-01-01', 'data_end': '2026-01-01',
     'test_start': '2025-08-19', 'test_window_end': '2026-01-01', 'data_sha256': 'ab'}
    """
    def day(text: str | None) -> str | None:
        parsed = _day(text)
        return None if parsed is None else f"{parsed:%Y-%m-%d}"

    test_dates = params.get("split.test_dates") or ""
    return {
        "mode": params.get("mode"),
        "data_start": day(params.get("data.data_start")),
        "data_end": day(params.get("data.data_end")),
        # Logged as "first..last (count)" (models.run_logging).
        "test_start": day(test_dates.split("..")[0] if ".." in test_dates else None),
        "test_window_end": day(params.get("test_window_end")),
        "data_sha256": params.get("data.inputs_sha256"),
    }


def trained_churn(params: dict) -> ChurnDefinition:
    """The churn definition a model was trained with, read from its run's parameters.

    The trainer logs the training set's fingerprint as ``data.*`` parameters, which MLflow
    stores as text; a run without them was trained on recorded churn.

    Examples
    --------
    >>> trained_churn({"data.churn_definition": "lapse", "data.churn_lapse_days": "90",
    ...                "data.churn_activity": "orders", "data.churn_definition_source": "x"})
    ChurnDefinition(definition='lapse', lapse_days=90, activity='orders', source='x')
    >>> trained_churn({}).is_lapse
    False
    """
    meta = {key.removeprefix("data."): value for key, value in params.items()
            if key.startswith("data.churn_") and value not in (None, "None")}
    if "churn_lapse_days" in meta:
        meta["churn_lapse_days"] = int(meta["churn_lapse_days"])
    return ChurnDefinition.from_metadata(meta)

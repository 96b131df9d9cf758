"""Until when churn is known: the label end, and a warning when tables end far apart.

A label says whether an account churned within ``horizon`` days of its observation date, so
it is known only when churn is observable through the end of that window. The data's own
end (the last event of any table) says nothing about that: late survey answers or a
session export made weeks after the churn list run past the last day whose churn is
recorded, and every window reaching into those weeks would count accounts as survivors
whose churn is simply not recorded yet. :func:`label_end` takes the end from the churn data
itself; :func:`models.training_set.build_training_set` leaves the label of every later
window missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.contract import EVENT_COLUMNS, Tables

# Tables whose last dates lie further apart than this get a warning; a last churn within
# this of the data end counts as churn known through the data end.
TABLE_END_TOLERANCE = pd.Timedelta(days=7)


@dataclass(frozen=True)
class LabelEnd:
    """Until when churn is known: label windows must close by ``end`` (exclusive).

    Attributes
    ----------
    end : Timestamp
        The day after the last day whose churn is known.
    source : str
        Where it comes from, in words (``--labels-until``, the last recorded churn, ...).
    """

    end: pd.Timestamp
    source: str

    @property
    def last_day(self) -> pd.Timestamp:
        """The last day whose churn is known (``end`` minus one day)."""
        return self.end - pd.Timedelta(days=1)



def label_end(tables: Tables, data_end: pd.Timestamp,
              labels_until: pd.Timestamp | None = None) -> LabelEnd:
    """Until when churn is known, taken from the churn data, not from the last event.

    Other tables often run on after the churn data was last updated (late survey answers,
    an export of sessions made weeks after the churn list): a label window that passes the
    last recorded churn would count accounts as survivors whose churn is simply not
    recorded yet. So the label end is, in this order:

    1. ``labels_until`` (``--labels-until``): churn is known through that day. Where churn
       is a lapse in activity, pass the data end minus the lapse;
    2. under a lapse definition (:mod:`features.churn_definition`), the data end: a lapse
       date is only written once it lies inside the data;
    3. the day after the last recorded ``accounts.churned_at``, or the data end when that
       lies within :data:`TABLE_END_TOLERANCE` of it (a few quiet days between churns are
       not a stale churn export);
    4. the data end, when no churn is recorded at all.

    It never passes the data end.

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["a", "b"],
    ...     "signup_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
    ...     "churned_at": pd.to_datetime(["2024-05-03 10:00", None])})
    >>> end = label_end(Tables(accounts=accounts), pd.Timestamp("2024-07-01"))
    >>> end.end, end.source
    (Timestamp('2024-05-04 00:00:00'), 'the last recorded churn (accounts.churned_at 2024-05-03)')
    >>> label_end(Tables(accounts=accounts), pd.Timestamp("2024-07-01"),
    ...           pd.Timestamp("2024-06-15")).end
    Timestamp('2024-06-16 00:00:00')
    """
    churn = tables.churn
    if labels_until is not None:
        end = pd.Timestamp(labels_until).normalize() + pd.Timedelta(days=1)
        source = f"--labels-until {pd.Timestamp(labels_until):%Y-%m-%d}"
    elif churn is not None and churn.is_lapse:
        # features.churn_definition records a lapse only once its day lies inside the data
        # (last order + lapse_days before the data end): every lapse up to it is known.
        return LabelEnd(data_end, f"the data end (a lapse of {churn.lapse_days} days is "
                                  f"known {churn.lapse_days} days after the last order)")
    else:
        churned = tables.accounts["churned_at"].dropna()
        if not len(churned):
            return LabelEnd(data_end, "the data end (no churn recorded)")
        last = pd.Timestamp(churned.max()).normalize()
        end = last + pd.Timedelta(days=1)
        source = f"the last recorded churn (accounts.churned_at {last:%Y-%m-%d})"
        if data_end - end <= TABLE_END_TOLERANCE:
            return LabelEnd(data_end, f"the data end ({source} is within "
                                      f"{TABLE_END_TOLERANCE.days} days of it)")
    if end > data_end:
        return LabelEnd(data_end, f"the data end ({source} is later)")
    return LabelEnd(end, source)


def table_end_warnings(tables: Tables, *, tolerance: pd.Timedelta = TABLE_END_TOLERANCE) -> list[str]:
    """A warning when the tables (and the churn data) end more than ``tolerance`` apart.

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["a"],
    ...     "signup_date": pd.to_datetime(["2024-01-01"]),
    ...     "churned_at": pd.to_datetime(["2024-03-01"])})
    >>> sessions = pd.DataFrame({"account_id": ["a"],
    ...     "started_at": pd.to_datetime(["2024-04-20"])})
    >>> table_end_warnings(Tables(accounts=accounts, sessions=sessions))  # doctest: +ELLIPSIS
    ['the tables end 50 days apart: accounts.churned_at on 2024-03-01, sessions.started_at on 2024-04-20; ...']
    """
    ends = {}
    churned = tables.accounts["churned_at"].dropna()
    if len(churned):
        ends["accounts.churned_at"] = pd.Timestamp(churned.max())
    for name, column in EVENT_COLUMNS.items():
        frame = getattr(tables, name)
        if frame is not None and len(frame[column].dropna()):
            ends[f"{name}.{column}"] = pd.Timestamp(frame[column].max())
    if len(ends) < 2:
        return []
    first, last = min(ends.values()), max(ends.values())
    if last - first <= tolerance:
        return []
    listed = ", ".join(f"{where} on {when:%Y-%m-%d}" for where, when in
                       sorted(ends.items(), key=lambda item: item[1]))
    return [f"the tables end {(last - first).days} days apart: {listed}; labels are kept only "
            "for dates whose window closes by the label end, and scores after the earliest "
            "end see incomplete data. Fix: export every table up to the same day, or give "
            "--labels-until"]

"""The figures of a training run, drawn without pyplot."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from models import evaluation as ev
from models import plots


def _data(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    return y, p


def test_plots_draw_one_curve_per_model():
    y, p = _data(7)
    probas = {"a": p, "b": np.clip(p + 0.1, 0, 1)}
    for figure in (plots.plot_roc(y, probas), plots.plot_pr(y, probas),
                   plots.plot_reliability(y, probas)):
        # each model's curve plus the reference line
        assert len(figure.axes[0].lines) == 3
    bars = plots.plot_importance(pd.Series({"x": 2.0, "y": 1.0}, name="importance"))
    assert len(bars.axes[0].patches) == 2
    bands = ev.churn_rate_by_band(y, np.where(p > 0.5, "r", "g"))
    by_band = plots.plot_churn_by_band({"health": bands})
    assert len(by_band.axes[0].patches) == 2


def test_importing_the_evaluation_and_plots_modules_chooses_no_matplotlib_backend():
    code = ("import sys, models.evaluation, models.plots; "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

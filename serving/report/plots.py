"""The report's charts as PNG images, drawn from the plain data of its figures.

matplotlib is imported when a chart is drawn, not with this module, and only its
object-oriented API is used: a :class:`matplotlib.figure.Figure` renders to PNG without
pyplot, so drawing a report selects no backend and leaves no open figure behind, in a
notebook as on a server.
"""

from __future__ import annotations

import io

import numpy as np

from serving.report.document import (
    BandShares,
    BandsOverTime,
    Chart,
    MonthlyTrends,
    Report,
    ScoreHistogram,
)

_DPI = 96


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def _figure(figsize: tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def score_histogram(chart: ScoreHistogram) -> bytes:
    """Stacked histogram of health scores in steps of 5, coloured by band."""
    fig = _figure((9, 3.4))
    ax = fig.subplots()
    bins = np.arange(0, 105, 5)
    ax.hist(list(chart.scores.values()), bins=bins, stacked=True, color=list(chart.colors.values()),
            label=list(chart.scores), edgecolor="white")
    ax.set_xlabel("health score (0 = at risk, 100 = healthy)")
    ax.set_ylabel("accounts")
    ax.set_xlim(0, 100)
    ax.legend(title="band", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def band_shares(chart: BandShares) -> bytes:
    """One stacked horizontal bar per segment: the share of its accounts in each band."""
    rows = len(chart.segments)
    fig = _figure((9, 0.6 + 0.55 * rows))
    ax = fig.subplots()
    left = np.zeros(rows)
    for band, shares in chart.shares.items():
        ax.barh(chart.segments, shares, left=left, color=chart.colors[band], label=band)
        left += np.asarray(shares, dtype=float)
    ax.set_xlabel("% of the segment's accounts")
    ax.set_xlim(0, 100)
    # Below the bars; further down when few bars leave little room under the axis.
    ax.legend(title="band", frameon=False, ncols=len(chart.shares), loc="upper center",
              bbox_to_anchor=(0.5, -0.35 if rows < 4 else -0.15))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def monthly_trends(chart: MonthlyTrends) -> bytes:
    """NPS with its margin of error, CSAT and comment tone, side by side, per month."""
    from matplotlib.dates import DateFormatter

    fig = _figure((12, 3.2))
    axes = fig.subplots(1, 3)
    nps = chart.nps
    axes[0].plot(nps.starts, nps.values, marker="o", color="#334e68")
    low = np.array(nps.values) - np.array(nps.margins)
    high = np.array(nps.values) + np.array(nps.margins)
    axes[0].fill_between(nps.starts, low, high, color="#9fb3c8", alpha=0.4, label="95% margin of error")
    axes_titles = ("NPS (points)", "CSAT (% satisfied)", "Comment tone (−1 negative … +1 positive)")
    axes[0].set_title(axes_titles[0])
    axes[0].axhline(0, color="#bcccdc", linewidth=0.8)
    axes[1].plot(chart.csat.starts, chart.csat.values, marker="o", color="#2f9e44")
    axes[1].set_title(axes_titles[1])
    axes[2].plot(chart.tone.starts, chart.tone.values, marker="o", color="#7c5cbf")
    axes[2].axhline(0, color="#bcccdc", linewidth=0.8)
    axes[2].set_title(axes_titles[2])
    empty = {0: "no NPS answers", 1: "no CSAT answers", 2: "no comments read"}
    for i, (ax, series) in enumerate(zip(axes, (chart.nps, chart.csat, chart.tone))):
        ax.spines[["top", "right"]].set_visible(False)
        if not np.isfinite(np.asarray(series.values, dtype=float)).any():
            # An empty axis would show 1970 dates and a 0-1 scale: say n/a and why instead.
            ax.cla()
            ax.set_title(axes_titles[i])
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"n/a ({empty[i]} in these months)", ha="center", va="center",
                    transform=ax.transAxes, color="#52606d", fontsize=10)
            continue
        ax.xaxis.set_major_formatter(DateFormatter("%b %Y"))
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    return _png(fig)


def bands_over_time(chart: BandsOverTime) -> bytes:
    """The share of accounts in each band at each run, stacked, worst band at the bottom."""
    from matplotlib.dates import DateFormatter

    fig = _figure((9, 3.0))
    ax = fig.subplots()
    ax.stackplot(chart.dates, *chart.shares.values(), labels=list(chart.shares),
                 colors=[chart.colors[band] for band in chart.shares], alpha=0.9)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of accounts")
    ax.xaxis.set_major_formatter(DateFormatter("%d %b %Y"))
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.legend(title="band", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


_DRAW = {ScoreHistogram: score_histogram, BandShares: band_shares, MonthlyTrends: monthly_trends,
         BandsOverTime: bands_over_time}


def chart_png(chart: Chart) -> bytes:
    """The PNG image of one chart."""
    return _DRAW[type(chart)](chart)


def draw_figures(report: Report) -> dict[str, bytes]:
    """Figure name -> PNG image, for every chart of ``report``."""
    return {figure.name: chart_png(figure.chart) for figure in report.figures()}

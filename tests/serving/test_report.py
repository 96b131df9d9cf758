"""The self-contained HTML report: serving/report/ and `customer-health report`."""

from __future__ import annotations

import base64
import dataclasses
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.contract import Tables
from features.io import load_tables
from serving.cli import app
from serving.report import (
    REPORT_SECTIONS,
    ReportError,
    at_risk_accounts,
    band_palette,
    build_report,
    driver_texts,
    headline_cards,
    model_card,
    read_scores,
)

from report_demo_flow import demo_run, tracking_env

runner = CliRunner()


class _Page(HTMLParser):
    """Sections, images and every URL-bearing attribute of an HTML page."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.urls, self.scripts = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href", "action", "poster", "data"):
            if attrs.get(name):
                self.urls.append(attrs[name])


def _parse(path) -> tuple[_Page, str]:
    html = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    return page, html


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return demo_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def tables(run) -> Tables:
    return load_tables(run.out / "data")[0]


@pytest.fixture(scope="module")
def full_report(run, tables, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    build_report(run.result.scores_path, tables=tables, model=run.result.model_uri, out=out, tracking_uri=run.tracking_uri)
    return _parse(out)


@pytest.mark.slow
def test_the_report_has_every_section_in_order(full_report):
    page, _ = full_report
    assert page.sections == list(REPORT_SECTIONS)


@pytest.mark.slow
def test_the_report_loads_nothing_from_outside_the_file(full_report):
    page, html = full_report
    external = [url for url in page.urls if not url.startswith(("data:", "#"))]
    # The one link that leaves the page is to the whole call list beside it: a relative
    # link that the reader follows, never something the page loads.
    assert len(external) == 1 and external[0].endswith("scores.alerts.parquet")
    assert ":" not in external[0]
    assert page.scripts == 0
    assert "@import" not in html and "url(" not in html


@pytest.mark.slow
def test_every_plot_is_an_inline_png(full_report):
    page, _ = full_report
    assert len(page.images) >= 5  # distribution, segments, trends, reliability, churn by band
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_headline_metrics_show_values_trends_and_the_nps_breakdown(full_report):
    _, html = full_report
    for label in ("Net Promoter Score", "Customer satisfaction (CSAT)", "Churn rate", "Retention rate",
                  "Ticket resolution time"):
        assert label in html
    assert re.search(r"margin of error ±\d+\.\d points \(95%\)", html)
    assert re.search(r"promoters \d+% \(\d+\), passives \d+% \(\d+\), detractors \d+% \(\d+\)", html)
    assert "vs the previous period" in html


def _table_rows(html: str, name: str) -> list[str]:
    table = html.split(f'data-table="{name}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)


@pytest.mark.slow
def test_the_call_list_shows_the_most_urgent_accounts_once_each_with_a_sparkline(run, full_report):
    _, html = full_report
    calls = pd.read_parquet(run.result.alerts_path)
    rows = _table_rows(html, "call-list")
    assert len(rows) == min(25, len(calls))
    shown = [re.search(r'data-label="account">([^<·]+)', row).group(1).strip() for row in rows]
    assert shown == calls.sort_values("rank")["account_id"].head(25).tolist()
    assert len(set(shown)) == len(shown)
    # five monthly runs in the demo: each sparkline spans them (the account was scored in each)
    runs = [int(n) for n in re.findall(r'<svg class="spark"[^>]*data-runs="(\d+)"', html)]
    assert runs and set(runs) == {5}
    assert f"The 25 most urgent of {len(calls):,} accounts to call" in html
    assert "EUR" not in html or calls["currency"].notna().all()


@pytest.mark.slow
def test_earlier_call_lists_churned_more_than_the_accounts_they_left_out(full_report):
    _, html = full_report
    rows = _table_rows(html, "past-lists")
    assert len(rows) >= 1
    # One list of this small demo holds a handful of churners, so a single month can go
    # either way; every list together (the last row when there are several) must not.
    # (On the 3,000-account demo of `make demo` the gap is wider: docs/report.md.)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rows[-1], re.S)
    (listed_churned, listed), _, (rest_churned, rest) = (
        tuple(int(n.replace(",", "")) for n in re.search(r"\(([\d,]+) of ([\d,]+)\)", cell).groups())
        for cell in cells[1:4])
    assert listed_churned / listed > rest_churned / rest, rows[-1]


@pytest.mark.slow
def test_the_bands_over_the_runs_are_drawn(full_report):
    page, html = full_report
    assert 'data-plot="bands-over-time"' in html


@pytest.mark.slow
def test_the_at_risk_list_names_drivers_in_words(run, full_report):
    _, html = full_report
    scores = pd.read_parquet(run.result.scores_path)
    riskiest = scores.sort_values("churn_probability", ascending=False).iloc[0]
    assert f'<td data-label="account">{riskiest["account_id"]}</td>' in html
    for text in driver_texts(riskiest["churn_drivers"]) + driver_texts(riskiest["health_drivers"]):
        assert text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html


@pytest.mark.slow
def test_the_model_card_shows_version_out_of_time_metrics_and_band_churn(run, full_report):
    _, html = full_report
    assert "Model customer-health-churn version 1 (champion), trained 20" in html
    metrics = html.split('data-table="model-metrics"', 1)[1].split("</table>", 1)[0]
    assert "ROC AUC" in metrics and "not logged by the trainer" not in metrics
    auc = re.search(r"<td>ROC AUC</td>\s*<td class=\"num\">(0\.\d{3})</td>", metrics)
    assert auc and 0.5 < float(auc.group(1)) <= 1.0
    assert 'data-plot="model-reliability"' in html
    assert 'data-plot="model-churn_rate_by_band"' in html
    assert 'data-table="model-churn_rate_by_health_band"' in html
    assert "health scorecard (100 − score)" in html
    drift = html.split('data-table="model-scorecard-drift"', 1)[1].split("</table>", 1)[0]
    for label in ("churn model", "current scorecard", "scorecard suggested from the data"):
        assert label in drift
    assert re.search(r"<td>current scorecard</td>\s*<td class=\"num\">0\.\d{3}</td>", drift)


@pytest.mark.slow
def test_without_tables_the_metric_sections_say_why_instead_of_showing_zero(run, tmp_path):
    out = build_report(run.result.scores_path, out=tmp_path / "r.html", tracking_uri=run.tracking_uri)
    page, html = _parse(out)
    assert page.sections == list(REPORT_SECTIONS)
    assert html.count("n/a (portfolio metrics need the input tables: pass --metrics-from DIR)") == 2


@pytest.mark.slow
def test_the_bands_split_by_any_column_of_accounts(run, tables, tmp_path):
    out = build_report(run.result.scores_path, tables=tables, out=tmp_path / "r.html",
                       tracking_uri=run.tracking_uri, split_by="region")
    html = out.read_text()
    assert "Bands by region" in html
    split = html.split('data-table="bands-by-segment"', 1)[1].split("</table>", 1)[0]
    for region in tables.accounts["region"].dropna().unique():
        assert f">{region}<" in split
    without = build_report(run.result.scores_path, out=tmp_path / "w.html",
                           tracking_uri=run.tracking_uri, split_by="region").read_text()
    assert "n/a (no account has a region; give the tables with --metrics-from" in without


@pytest.mark.slow
def test_an_undefined_metric_reads_n_a_with_its_reason_never_zero(run, tables, tmp_path):
    without_surveys = Tables(accounts=tables.accounts, sessions=tables.sessions, tickets=tables.tickets)
    out = build_report(run.result.scores_path, tables=without_surveys, out=tmp_path / "r.html",
                       tracking_uri=run.tracking_uri)
    html = out.read_text(encoding="utf-8")
    for metric in ("nps", "csat", "ces"):
        card = html.split(f'data-metric="{metric}"', 1)[1].split("data-metric=", 1)[0]
        assert re.search(r'class="value na">n/a \([^)]*survey', card), card
    resolution = html.split('data-metric="resolution_time"', 1)[1].split("</section>", 1)[0]
    assert "hours" in resolution and "n/a" not in resolution.split("</div>", 2)[1]


@pytest.mark.slow
def test_a_csv_scores_file_gives_the_same_at_risk_list(run, tmp_path):
    scores = pd.read_parquet(run.result.scores_path)
    csv = tmp_path / "scores.csv"
    scores.to_csv(csv, index=False)
    # a CSV run keeps its metadata beside it (the typical values the drivers are read against)
    meta = run.result.scores_path.with_name(run.result.scores_path.name + ".meta.json")
    (tmp_path / "scores.csv.meta.json").write_text(meta.read_text())
    from_parquet = build_report(run.result.scores_path, out=tmp_path / "a.html", tracking_uri=run.tracking_uri)
    from_csv = build_report(csv, out=tmp_path / "b.html", tracking_uri=run.tracking_uri)
    table = re.compile(r'<table data-table="at-risk".*?</table>', re.S)
    assert table.search(from_parquet.read_text()).group(0) == table.search(from_csv.read_text()).group(0)


def test_account_ids_of_a_csv_scores_file_stay_text(tmp_path):
    scores = pd.DataFrame({"account_id": ["00123", "00456"], "health_score": [20.0, 80.0],
                           "health_band": ["red", "green"]})
    scores.to_csv(tmp_path / "scores.csv", index=False)
    html = build_report(tmp_path / "scores.csv", out=tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<td>00123</td>" in html and "<td>123</td>" not in html


def test_the_report_replaces_an_old_file_only_when_it_succeeded(tmp_path):
    out = tmp_path / "report.html"
    out.write_text("old report")
    broken = tmp_path / "scores.parquet"
    pd.DataFrame({"account_id": ["a"]}).to_parquet(broken)
    with pytest.raises(ReportError, match=r"lacks column\(s\) \['health_score', 'health_band'\]"):
        build_report(broken, out=out)
    assert out.read_text() == "old report"
    assert {p.name for p in tmp_path.iterdir()} == {"report.html", "scores.parquet"}  # no temp file left


def test_a_missing_scores_file_is_refused_with_the_command_that_makes_one(tmp_path):
    with pytest.raises(ReportError, match="does not exist; write one with `customer-health score"):
        build_report(tmp_path / "nope.parquet", out=tmp_path / "r.html")


def test_an_unknown_scores_format_is_refused(tmp_path):
    path = tmp_path / "scores.xlsx"
    path.write_text("x")
    with pytest.raises(ReportError, match=r"unknown format '.xlsx'; use .parquet or .csv"):
        read_scores(path)


@pytest.mark.slow
def test_a_model_uri_that_is_not_a_registry_uri_is_refused(run):
    with pytest.raises(ReportError, match="use models:/NAME@ALIAS or models:/NAME/VERSION"):
        model_card("runs:/abc/model", tracking_uri=run.tracking_uri)


@pytest.mark.slow
def test_an_unknown_model_gives_a_card_that_says_so(run):
    card = model_card("models:/no-such-model@champion", tracking_uri=run.tracking_uri)
    assert card.reason.startswith("model models:/no-such-model@champion not found in MLflow")


@pytest.mark.slow
def test_the_cli_writes_the_report_and_reads_the_model_from_the_scores_metadata(run, tmp_path):
    out = tmp_path / "cli.html"
    with tracking_env(run.tracking_uri):
        outcome = CliRunner().invoke(
            app, ["report", str(run.result.scores_path), "--metrics-from", str(run.out / "data"), "--out", str(out)]
        )
    assert outcome.exit_code == 0, outcome.output
    html = out.read_text(encoding="utf-8")
    assert "Model customer-health-churn version 1" in html
    assert 'data-metric="nps"' in html


def test_the_cli_reports_a_missing_scores_file_in_one_line(tmp_path):
    outcome = CliRunner().invoke(app, ["report", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "r.html")])
    assert outcome.exit_code == 1
    assert "does not exist" in " ".join(outcome.output.split())
    assert "Traceback" not in outcome.output


# --- the pieces ------------------------------------------------------------------------


def test_a_rising_churn_rate_is_marked_worse_and_a_rising_nps_better():
    cards = {c["key"]: c for c in headline_cards(
        {"nps": {"value": 10.0}, "churn_rate": {"value": 5.0}},
        {"nps": {"value": 4.0}, "churn_rate": {"value": 3.0}},
    )}
    assert cards["nps"]["trend_class"] == "better"
    assert cards["churn_rate"]["trend_class"] == "worse"
    assert cards["churn_rate"]["trend"] == "▲ +2.0 points vs the previous period"


def test_a_previous_period_without_data_gives_no_comparison_and_says_why():
    cards = {c["key"]: c for c in headline_cards(
        {"csat": {"value": 80.0}}, {"csat": {"value": None, "reason": "no responses"}}
    )}
    assert cards["csat"]["trend"] == "no comparison: previous period n/a (no responses)"


def test_driver_texts_read_lists_json_and_parquet_arrays():
    drivers = [{"text": "CSAT, last 180 days: 38% (poor ≤ 50%) cost 9.4 points"}, {"text": "no logins for 40 days"}]
    assert driver_texts(drivers) == ["CSAT, last 180 days: 38% (poor ≤ 50%) cost 9.4 points", "no logins for 40 days"]
    assert driver_texts(np.array(drivers, dtype=object)) == driver_texts(drivers)
    assert driver_texts(float("nan")) == []


def test_bands_are_ordered_from_worst_to_best_with_their_own_colours():
    scores = pd.DataFrame({
        "health_score": [80.0, 10.0, 60.0, np.nan],
        "health_band": ["good", "bad", "fair", "insufficient data"],
        "health_color": ["#00ff00", "#ff0000", "#ffff00", "grey"],
    })
    assert band_palette(scores) == {"bad": "#ff0000", "fair": "#ffff00", "good": "#00ff00"}


def test_the_at_risk_list_puts_the_highest_churn_risk_first_and_keeps_red_accounts():
    scores = pd.DataFrame({
        "account_id": ["a", "b", "c", "d"],
        "health_score": [20.0, 90.0, 40.0, 70.0],
        "health_band": ["red", "green", "red", "yellow"],
        "churn_probability": [0.1, 0.8, 0.3, 0.05],
    })
    palette = {"red": "#f00", "yellow": "#ff0", "green": "#0f0"}
    listed = at_risk_accounts(scores, palette, limit=2)
    assert listed["account_id"].tolist() == ["b", "c", "a"]


@pytest.mark.slow
def test_the_account_page_shows_the_history_measures_and_escaped_comments(run, tables, tmp_path):
    calls = pd.read_parquet(run.result.alerts_path)
    surveys = tables.surveys
    # an account on the call list that left a comment, with markup slipped into it
    commented = surveys.loc[surveys["comment"].notna(), "account_id"]
    account = next(a for a in calls["account_id"] if a in set(commented))
    tampered = tables.surveys.copy()
    row = tampered.index[(tampered["account_id"] == account) & tampered["comment"].notna()][-1]
    tampered.loc[row, "comment"] = "<script>alert(1)</script> too slow & buggy"
    with_markup = dataclasses.replace(tables, surveys=tampered)
    out = tmp_path / "account.html"
    # Without the tables the page still shows the scores and says where the rest comes from.
    result = runner.invoke(app, ["report", str(run.result.scores_path), "--account", account, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "n/a (pass --metrics-from DIR: the input tables hold them)" in out.read_text(encoding="utf-8")
    from serving.report.account import build_account_page

    build_account_page(run.result.scores_path, account, tables=with_markup, out=out)
    page, html = _parse(out)
    assert page.sections == ["account", "drivers", "measures", "tickets", "surveys", "orders", "returns"]
    assert page.scripts == 0 and "&lt;script&gt;alert(1)&lt;/script&gt; too slow &amp; buggy" in html
    assert 'data-table="history"' in html and 'data-runs="5"' in html
    measures = _table_rows(html, "measures")
    assert len(measures) >= 5 and not any("pass --metrics-from" in row for row in measures)
    scores = pd.read_parquet(run.result.scores_path).set_index("account_id")
    assert f"{scores.loc[account, 'health_score']:.0f} {scores.loc[account, 'health_band']}" in html


def test_an_unknown_account_is_refused_with_ids_that_exist(tmp_path):
    scores = pd.DataFrame({"account_id": ["a1", "a2"], "health_score": [20.0, 80.0],
                           "health_band": ["red", "green"]})
    scores.to_csv(tmp_path / "scores.csv", index=False)
    result = runner.invoke(app, ["report", str(tmp_path / "scores.csv"), "--account", "zz",
                                 "--out", str(tmp_path / "a.html")])
    assert result.exit_code == 2
    assert "account 'zz' is not in" in result.output and "a1, a2" in result.output
    assert not (tmp_path / "a.html").exists()


def _scores_with_a_backwards_driver(folder, meta: dict):
    """A scores file whose red account's model names a CSAT of 95% (typical: 70%) as a reason
    it may leave, beside a CSAT-of-30% driver that reads as it should."""
    import json

    from serving.alerts import CALL_LIST_COLUMNS
    from serving.scores_file import output_paths, write_scores

    drivers = json.dumps([
        {"indicator": "csat_90d", "value": 95.0, "contribution": 0.4,
         "text": "CSAT, last 90 days is 95% — raises churn risk"},
        {"indicator": "csat_90d", "value": 30.0, "contribution": 0.3,
         "text": "CSAT, last 90 days is 30% — raises churn risk"},
    ])
    scores = pd.DataFrame({
        "account_id": ["a1", "a2"], "as_of": pd.Timestamp("2026-03-01"),
        "health_score": [20.0, 80.0], "health_band": ["red", "green"],
        "churn_probability": [0.7, 0.1], "churn_drivers": [drivers, "[]"],
        "health_drivers": ["[]", "[]"],
    })
    paths = output_paths(folder / "scores.parquet")
    write_scores(scores, pd.DataFrame(columns=list(CALL_LIST_COLUMNS)), {"as_of": "2026-03-01T00:00:00", **meta}, paths)
    return paths.scores


@pytest.mark.parametrize("page", ["at-risk", "account"])
def test_a_driver_that_reads_backwards_is_left_out_as_in_the_call_list(page, tmp_path):
    from serving.alerts import TYPICAL_KEY
    from serving.report.account import build_account_page

    def drivers_shown(meta: dict, folder) -> str:
        folder.mkdir()
        scores = _scores_with_a_backwards_driver(folder, meta)
        out = folder / "page.html"
        if page == "at-risk":
            build_report(scores, out=out)
        else:
            build_account_page(scores, "a1", out=out)
        html = out.read_text(encoding="utf-8")
        return " ".join(_table_rows(html, "at-risk" if page == "at-risk" else "drivers"))

    shown = drivers_shown({TYPICAL_KEY: {"csat_90d": 70.0, "nps": None}}, tmp_path / "new")
    assert "is 30% — raises churn risk" in shown and "is 95%" not in shown
    # a run written before the typical values were recorded shows its drivers as before
    old = drivers_shown({}, tmp_path / "old")
    assert "is 30% — raises churn risk" in old and "is 95% — raises churn risk" in old

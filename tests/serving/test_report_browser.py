"""The HTML report in a real browser: headless Chromium opens the file.

Chromium is Debian's ``chromium`` package; ``tests/install_chromium.sh`` installs it when it
is missing (the test calls it, and ``.ci/run`` does too). The browser is driven over the
DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages ending in a NUL
byte on file descriptors 3 and 4), so no extra Python package is needed.

Checked at 1400 and 800 px: every section and plot renders (images decoded, non-zero size),
no element sticks out of its section's card, the call list is in urgency order with one row
per account and a sparkline each; no request leaves the page (only ``file:`` and ``data:``
URLs are loaded), and the console shows no error. Full-page screenshots of both widths are
saved to ``tmp/artifacts/`` (or ``$TEST_ARTIFACTS``), which git ignores.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from serving.report import REPORT_SECTIONS

from report_demo_flow import demo_run

pytestmark = pytest.mark.slow  # drives a headless Chromium over the demo report

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)


def chromium_path() -> str:
    """The chromium binary, installed with tests/install_chromium.sh when missing."""
    found = shutil.which("chromium")
    if found is None:
        subprocess.run(["sh", str(REPO / "tests" / "install_chromium.sh")], check=True, timeout=900)
        found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not installed and tests/install_chromium.sh could not install it")
    return found


class Browser:
    """A headless Chromium driven over the DevTools protocol on a pipe."""

    def __init__(self, binary: str, profile: Path):
        to_read, self._to_chrome = os.pipe()
        self._from_chrome, to_write = os.pipe()

        def wire_pipes():  # Chromium expects its command pipe on fd 3 and replies on fd 4
            os.dup2(to_read, 3)
            os.dup2(to_write, 4)

        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_read)
        os.close(to_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, predicate, timeout: float = 30) -> dict:
        """The first message matching ``predicate``; others are kept in ``events``."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if predicate(message):
                return message
            self.events.append(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        reply = self.wait_for(lambda m: m.get("id") == message["id"])
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply["result"]

    def open(self, url: str) -> str:
        """Open ``url`` in a new page, wait for its load event; return the session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == session)
        return session

    def evaluate(self, expression: str, session: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating {expression!r} failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (EOFError, OSError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


#: The widths the report is read at: a desktop browser, and a mail client or half a laptop.
WIDTHS = (1400, 800)
#: Elements sticking out of their section's card, by more than rounding (px).
OVERFLOW_JS = """
[...document.querySelectorAll('section[data-section]')].flatMap(section => {
  const box = section.getBoundingClientRect();
  return [...section.querySelectorAll('*')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1);
  }).slice(0, 3).map(el => section.id + ' ' + el.tagName + '.' + el.className + ': '
                           + (el.textContent || '').slice(0, 40));
})
"""
CALL_LIST_JS = """
[...document.querySelectorAll('table[data-table="call-list"] tbody tr')].map(tr => ({
  rank: tr.querySelector('td[data-label="#"]').textContent.trim(),
  account: tr.querySelector('td[data-label="account"]').textContent.split('·')[0].trim(),
  runs: Number(tr.querySelector('svg.spark')?.dataset.runs || 0),
  lines: tr.querySelectorAll('svg.spark polyline').length,
  spark: tr.querySelector('svg.spark')?.getBoundingClientRect().width || 0,
}))
"""


def artifacts_folder() -> Path:
    """Where the screenshots go: $TEST_ARTIFACTS, else tmp/artifacts in the checkout (ignored by git)."""
    folder = Path(os.environ.get("TEST_ARTIFACTS", REPO / "tmp" / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def opened_report(tmp_path_factory):
    """The demo's full report (tables and model card) opened in headless Chromium at each width."""
    binary = chromium_path()
    report = demo_run(tmp_path_factory.getbasetemp()).result.report_path
    folder = tmp_path_factory.mktemp("browser")
    views: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(dir=folder) as profile:
        browser = Browser(binary, Path(profile))
        try:
            for width in WIDTHS:
                session = browser.open("about:blank")
                browser.send("Emulation.setDeviceMetricsOverride",
                             {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                             session=session)
                browser.send("Page.navigate", {"url": report.as_uri()}, session=session)
                browser.wait_for(lambda m, s=session: m.get("method") == "Page.loadEventFired"
                                 and m.get("sessionId") == s)
                # Let late events (console messages, image decoding) arrive before reading them.
                browser.evaluate("document.readyState", session)
                screenshot = browser.send(
                    "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session
                )
                shot = artifacts_folder() / f"report-{width}px.png"
                shot.write_bytes(base64.b64decode(screenshot["data"]))
                views[width] = _read_dom(browser, session, shot)
        finally:
            browser.close()
    return {"dom": views[WIDTHS[0]], "views": views, "events": browser.events,
            "screenshot": views[WIDTHS[0]]["screenshot"], "report": report}


def _read_dom(browser: Browser, session: str, shot: Path) -> dict:
    return {
        "screenshot": shot,
        "sections": browser.evaluate(
            "[...document.querySelectorAll('section[data-section]')].map(s => s.id)", session
        ),
        "images": browser.evaluate(
            "[...document.images].map(i => ({plot: i.closest('figure')?.dataset.plot,"
            " complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,"
            " shown: i.getBoundingClientRect().width}))",
            session,
        ),
        "headline": browser.evaluate(
            "[...document.querySelectorAll('[data-metric]')].map(c => c.dataset.metric)", session
        ),
        "at_risk_rows": browser.evaluate(
            "document.querySelectorAll('table[data-table=\"at-risk\"] tbody tr').length", session
        ),
        "calls": browser.evaluate(CALL_LIST_JS, session),
        "overflow": browser.evaluate(OVERFLOW_JS, session),
        "page_width": browser.evaluate("[document.documentElement.scrollWidth, window.innerWidth]", session),
        "text": browser.evaluate("document.body.innerText", session),
    }


def test_every_section_of_the_report_renders_in_chromium(opened_report):
    assert opened_report["dom"]["sections"] == list(REPORT_SECTIONS)
    text = opened_report["dom"]["text"]
    for heading in ("Portfolio at a glance", "Call list", "Accounts at risk", "About the churn model"):
        assert heading in text


def test_every_plot_is_decoded_and_shown_with_a_size(opened_report):
    images = opened_report["dom"]["images"]
    plots = {image["plot"] for image in images}
    assert {"score-distribution", "bands-by-segment", "trends"} <= plots
    assert any(plot.startswith("model-") for plot in plots), plots
    for image in images:
        assert image["complete"] and image["width"] > 50 and image["height"] > 50, image
        assert image["shown"] > 50, image


def test_headline_cards_and_the_at_risk_list_are_filled(opened_report):
    dom = opened_report["dom"]
    assert dom["headline"] == ["nps", "csat", "ces", "churn_rate", "retention_rate", "resolution_time"]
    assert dom["at_risk_rows"] > 0


@pytest.mark.parametrize("width", WIDTHS)
def test_no_element_overflows_its_card_at_either_width(opened_report, width):
    view = opened_report["views"][width]
    assert view["overflow"] == []
    scroll, inner = view["page_width"]
    assert scroll <= inner, f"the page scrolls sideways at {width} px"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_call_list_is_in_order_one_row_per_account_with_a_sparkline(opened_report, width):
    calls = opened_report["views"][width]["calls"]
    expected = pd.read_parquet(opened_report["report"].with_name("scores.alerts.parquet")).sort_values("rank")
    assert [c["rank"] for c in calls] == [str(n) for n in range(1, len(calls) + 1)]
    assert [c["account"] for c in calls] == expected["account_id"].head(len(calls)).tolist()
    assert len({c["account"] for c in calls}) == len(calls) == min(25, len(expected))
    for call in calls:  # the demo scores five monthly runs
        assert call["runs"] == 5 and call["lines"] >= 1 and call["spark"] >= 60, call


def test_screenshots_of_both_widths_are_saved(opened_report):
    for width, view in opened_report["views"].items():
        png = view["screenshot"].read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert width - 20 <= int.from_bytes(png[16:20], "big") <= width  # less a scrollbar


def test_no_request_leaves_the_page(opened_report):
    urls = [
        event["params"]["request"]["url"]
        for event in opened_report["events"]
        if event.get("method") == "Network.requestWillBeSent"
    ]
    assert urls, "the browser reported no request at all: the network domain was not watched"
    leaving = [url for url in urls if not url.startswith(("file:", "data:"))]
    assert leaving == []


def test_the_console_shows_no_error(opened_report):
    errors = []
    for event in opened_report["events"]:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(params["args"])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"])
        elif method == "Network.loadingFailed":
            errors.append(params)
    assert errors == []


def test_a_screenshot_of_the_whole_page_is_saved(opened_report):
    png = opened_report["screenshot"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    assert width >= 600 and height > 1500, (width, height)

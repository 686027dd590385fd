"""Open Superset dashboards in a real headless browser and report what every chart showed.

Dashboards nobody opened in a browser are not known to work: a chart's SQL can run and its
plugin still fail to draw. This drives Debian's ``chromium`` (playwright's client, never a
downloaded browser), logs in through the login form, opens a dashboard, waits on the DOM
until every chart has finished (loading indicator gone and either something drawn — a
canvas, table rows, a number — or an error/empty state), and returns each chart's state with
the chart-data responses the page received. Used by ``tests/superset``, by
``benchmarks/superset_charts.py`` (to replay exactly the queries dashboards send) and by
``ioc superset check``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--enable-unsafe-swiftshader"]  # WebGL (deck.gl) in software, no GPU
CHART_DATA_PATHS = ("/api/v1/chart/data", "/superset/explore_json/")
VIEWPORT = {"width": 1600, "height": 3000}  # tall: every chart of a dashboard is in view

# One entry per chart container: its name, viz type and state.
_CHART_STATES = """() => {
  const charts = [...document.querySelectorAll('[data-test="chart-grid-component"]')];
  if (!charts.length) return null;
  const states = charts.map(el => {
    const name = el.getAttribute('data-test-chart-name'), viz = el.getAttribute('data-test-viz-type');
    const text = (el.innerText || '').trim();
    const alert = el.querySelector('.ant-alert');
    let state = 'pending', detail = '';
    if (el.querySelector('[data-test="loading-indicator"], .loading')) state = 'loading';
    else if (alert) { state = 'error'; detail = alert.innerText.slice(0, 300); }
    else if (/No results|No data|No records found/i.test(text)) { state = 'empty'; detail = text.slice(0, 200); }
    else if ([...el.querySelectorAll('canvas')].some(c => c.width > 0 && c.height > 0)) state = 'rendered';
    else if (el.querySelector('table tbody tr td')) state = 'rendered';
    else if (viz && viz.startsWith('big_number') && /\\d/.test(text.split('\\n').slice(1).join(' '))) state = 'rendered';
    return {name, viz, state, detail,
            rows: el.querySelectorAll('table tbody tr').length,
            canvases: el.querySelectorAll('canvas').length,
            text: text.slice(0, 300)};
  });
  return states.every(s => s.state !== 'loading' && s.state !== 'pending') ? states : null;
}"""


@dataclass
class ChartState:
    name: str
    viz: str
    state: str  # rendered | error | empty | blank (a map that drew nothing)
    detail: str = ""
    rows: int = 0
    canvases: int = 0
    text: str = ""
    pixels: int | None = None  # maps: coloured pixels drawn (layers, never tiles: they are blocked)

    @property
    def ok(self) -> bool:
        return self.state == "rendered"


@dataclass
class ChartRequest:
    """A chart-data request the dashboard sent, and what came back."""

    method: str
    url: str
    body: str | None
    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)  # content type and CSRF token, to replay it


@dataclass
class DashboardCheck:
    slug: str
    title: str
    seconds: float
    charts: list[ChartState]
    requests: list[ChartRequest] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def failures(self) -> list[ChartState]:
        return [c for c in self.charts if not c.ok]


def chromium_path() -> str:
    """Debian's chromium (``infra/scripts/ensure-chromium.sh`` installs it)."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("chromium is not installed: run infra/scripts/ensure-chromium.sh")


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def login(context: Any, url: str, username: str, password: str) -> Any:
    """Log in through Superset's login form; returns the page, on the welcome page."""
    page = context.new_page()
    page.goto(f"{url}/login/")
    page.fill("#username, input[name=username]", username)
    page.fill("#password, input[name=password]", password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/superset/welcome/**", timeout=60_000)
    return page


def block_tiles(context: Any, url: str) -> None:
    """Refuse every request that leaves Superset (map tiles, telemetry): the map must stay
    readable offline, and nothing may depend on the network."""
    origin = url.rstrip("/")
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(origin)
                  or route.request.url.startswith(("data:", "blob:")) else route.abort())


def coloured_pixels(png: bytes) -> int:
    """Pixels of a screenshot that are clearly coloured (saturation > 60 of 255): map layers
    are drawn in colour on a white/grey background when no tiles load."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    return int((hsv[:, :, 1] > 60).sum())


def _wait_for_map(page: Any, name: str, deadline: float, min_pixels: int) -> int:
    """Poll the map's screenshot until its layers have drawn (deck.gl draws on a later frame
    than the one that mounts the canvas); returns the coloured pixel count."""
    element = page.locator(f'[data-test="chart-grid-component"][data-test-chart-name="{name}"] canvas').first
    pixels = 0
    while time.monotonic() < deadline:
        pixels = coloured_pixels(element.screenshot())
        if pixels >= min_pixels:
            break
        page.wait_for_timeout(250)
    return pixels


def _settled_screenshot(page: Any, deadline: float) -> bytes:
    """A full-page screenshot once two consecutive ones are identical: charts animate after
    their data arrive (ECharts draws a line from left to right over about a second)."""
    previous = page.screenshot(full_page=True)
    while time.monotonic() < deadline:
        page.wait_for_timeout(300)
        current = page.screenshot(full_page=True)
        if current == previous:
            return current
        previous = current
    return previous


def open_dashboard(page: Any, url: str, slug: str, *, timeout_s: float = 90,
                   screenshot: Path | None = None, min_map_pixels: int = 150) -> DashboardCheck:
    """Open ``/superset/dashboard/<slug>/`` and wait until every chart has finished: its
    container out of the loading state, every chart-data request answered, and maps drawn."""
    requests: list[ChartRequest] = []
    pending: set[Any] = set()

    def is_chart_data(request: Any) -> bool:
        return any(p in request.url for p in CHART_DATA_PATHS)

    def on_request(request: Any) -> None:
        if is_chart_data(request):
            pending.add(request)

    def on_done(request: Any) -> None:
        pending.discard(request)

    def on_response(response: Any) -> None:
        if not is_chart_data(response.request):
            return
        try:
            payload = response.json()
        except Exception:  # noqa: BLE001 - an error page is recorded as such
            payload = None
        sent = response.request
        requests.append(ChartRequest(sent.method, response.url, sent.post_data, response.status, payload,
                                     {k: v for k, v in sent.headers.items() if k.lower() in ("content-type", "x-csrftoken")}))

    listeners = {"request": on_request, "requestfinished": on_done, "requestfailed": on_done,
                 "response": on_response}
    for event, listener in listeners.items():
        page.on(event, listener)
    started = time.monotonic()
    deadline = started + timeout_s
    try:
        page.goto(f"{url}/superset/dashboard/{slug}/")
        page.wait_for_function(_CHART_STATES, timeout=timeout_s * 1000, polling=250)
        while pending and time.monotonic() < deadline:  # layers of a multi-layer map load after it mounts
            page.wait_for_timeout(100)
        states = [ChartState(**s) for s in page.evaluate(_CHART_STATES) or []]
        for chart in states:
            if chart.state == "rendered" and chart.viz and chart.viz.startswith("deck_"):
                chart.pixels = _wait_for_map(page, chart.name, deadline, min_map_pixels)
                if chart.pixels < min_map_pixels:
                    chart.state, chart.detail = "blank", f"only {chart.pixels} coloured pixels drawn"
        seconds = time.monotonic() - started  # ready: every chart answered and drawn
        title = page.title()
        if screenshot:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(_settled_screenshot(page, time.monotonic() + 20))
    finally:
        for event, listener in listeners.items():
            page.remove_listener(event, listener)
    return DashboardCheck(slug, title, seconds, states, requests, screenshot)


def check_dashboards(url: str, username: str, password: str, slugs: list[str], out: Path | None = None,
                     *, offline: bool = True) -> list[DashboardCheck]:
    """Open each dashboard as ``username``; screenshots go to ``out/<slug>.png``."""
    checks = []
    with browser() as instance:
        context = instance.new_context(viewport=VIEWPORT)
        if offline:
            block_tiles(context, url)
        page = login(context, url, username, password)
        for slug in slugs:
            checks.append(open_dashboard(page, url, slug, screenshot=out / f"{slug}.png" if out else None))
        context.close()
    return checks


def dashboard_slugs(bundle_files: dict[str, str]) -> list[str]:
    """The bundle's dashboards, by slug, in bundle order."""
    import yaml

    return [yaml.safe_load(text)["slug"] for name, text in sorted(bundle_files.items())
            if name.startswith("dashboards/")]


def to_json(checks: list[DashboardCheck]) -> str:
    return json.dumps([{"slug": c.slug, "seconds": round(c.seconds, 2),
                        "charts": [vars(s) for s in c.charts]} for c in checks], indent=1, ensure_ascii=False)


__all__ = ["CHROMIUM_ARGS", "ChartRequest", "ChartState", "DashboardCheck", "block_tiles", "browser",
           "check_dashboards", "chromium_path", "coloured_pixels", "dashboard_slugs", "login", "open_dashboard", "to_json"]

"""A screenshot of a run's interactive front page, as docs/img/front-page.png shows it.

    python benchmarks/front_page_screenshot.py RUN [--out docs/img/front-page.png] [--max-params N]

Renders RUN's page into a temporary folder (the run itself is not written), opens it in headless
Chromium (Debian's /usr/bin/chromium with /usr/bin/chromedriver, through selenium), optionally
moves the max-parameters slider to the largest position <= N (the page then details the model
`hybridnas pick` would choose under that limit), and saves a screenshot of the window. The
commands the page prints name RUN as given: run it from the folder a reader would (e.g. with
RUN = runs/digits). docs/img/front-page.png: `--max-params 5000 --height 1800` on the default
digits search. tests/integration/test_front_page.py
drives the page with the same browser (:func:`chromium`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-extensions", "--disable-default-apps",
         # plotly's parallel coordinates draw with WebGL: software WebGL, opted in (else a warning per page)
         "--enable-unsafe-swiftshader", "--hide-scrollbars")


def missing() -> str:
    """Why the browser cannot be started here ('' when it can)."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not Path(tool).exists() and not shutil.which(Path(tool).name):
            return f"{tool} is not installed (Debian: apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'hybridnas[dev]')"
    return ""


def chromium(profile: Path, width: int = 1400, height: int = 1000):
    """Headless Chromium with a fresh profile in ``profile``, logging the console and the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument(f"--window-size={width},{height}")
    opts.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    return webdriver.Chrome(service=Service(driver_path), options=opts)


def wait_for(driver, script: str, timeout: float = 20.0):
    """Poll a JavaScript expression until it is truthy; returns its value."""
    end = time.time() + timeout
    while True:
        value = driver.execute_script(f"return ({script});")
        if value or time.time() > end:
            return value
        time.sleep(0.1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--out", default="docs/img/front-page.png")
    ap.add_argument("--max-params", type=float, help="move the max-parameters slider to the largest position <= this")
    ap.add_argument("--height", type=int, default=1560)
    args = ap.parse_args(argv)
    why = missing()
    if why:
        print(f"front_page_screenshot: {why}", file=sys.stderr)
        return 2
    from hybridnas.analysis.front_view import payload, render
    from hybridnas.results import RunResults

    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "front.html"
        page.write_text(render(payload(RunResults(args.run))))
        driver = chromium(Path(tmp) / "profile", 1400, args.height)
        try:
            driver.get(page.as_uri())
            wait_for(driver, "document.querySelectorAll('#costs .points path.point').length > 0")
            if args.max_params is not None:
                driver.execute_script(
                    "const el = document.getElementById('max_params');"
                    "const v = window.hybridnasFront.state().data.limits.max_params;"
                    "let i = 0; while (i < v.length - 1 && v[i + 1] <= arguments[0]) i++;"
                    "el.value = String(i); el.dispatchEvent(new Event('input'));", args.max_params)
            time.sleep(1.0)
            driver.save_screenshot(args.out)
        finally:
            driver.quit()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

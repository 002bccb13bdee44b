"""The interactive front page and `hybridnas serve`, used as a person uses them: in a real headless
Chromium (Debian's, through selenium and chromedriver), on a finished tiny search.

The page: written by `hybridnas report`, loads offline with no console error and no network
request, one marker per evaluated network in each panel, sliders that filter the points, and the
model it says `hybridnas pick` would choose equal to what `hybridnas pick` prints under the same
limits. `serve`: a run written record by record shows each new evaluation within seconds, a line
still being written breaks nothing, a file replaced while it reads is picked up, nothing is
written into the run, and a host other machines can reach is refused unless asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from benchmarks.front_page_screenshot import chromium, missing, wait_for
from hybridnas.cli.main import main
from tests.conftest import ROOT

pytest.importorskip("plotly", reason="the page needs plotly: pip install 'hybridnas[interactive]'")

NO_BROWSER = missing()
browser_test = pytest.mark.skipif(bool(NO_BROWSER), reason=f"no headless browser: {NO_BROWSER}")
POINTS = "#costs .subplot.{axes} .scatterlayer .points path.point"


def cli(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def run(tiny_run, tmp_path_factory):
    """A finished tiny search with its report (and so front.html) written."""
    dst = tmp_path_factory.mktemp("front") / "run"
    shutil.copytree(tiny_run, dst)
    assert cli("report", dst) == 0
    return dst


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if NO_BROWSER:
        pytest.skip(f"no headless browser: {NO_BROWSER}")
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def records(run: Path):
    from hybridnas.results import RunResults

    return RunResults(run).records()


def open_page(driver, url: str) -> None:
    driver.get("about:blank")
    driver.get_log("browser"), driver.get_log("performance")  # start both logs empty
    driver.get(url)
    assert wait_for(driver, "document.getElementById('pick') && document.getElementById('pick').textContent.length > 0"
                            " && document.querySelectorAll('#costs .points path.point').length > 0")


def markers(driver, axes: str = "xy") -> int:
    return driver.execute_script(f"return document.querySelectorAll({POINTS.format(axes=axes)!r}).length")


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def requests(driver):
    """URLs the page asked for (the performance log's Network.requestWillBeSent)."""
    out = []
    for entry in driver.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        if m["method"] == "Network.requestWillBeSent":
            out.append(m["params"]["request"]["url"])
    return out


def set_slider(driver, key: str, position: int) -> None:
    """Move a slider with the keyboard, as a person would: Home, then Right ``position`` times."""
    from selenium.webdriver.common.keys import Keys

    el = driver.find_element("id", key)
    el.send_keys(Keys.HOME)
    for _ in range(position):
        el.send_keys(Keys.ARROW_RIGHT)
    assert int(el.get_attribute("value")) == position


def page_pick(driver):
    """(arch id or None, the pick command the page prints)."""
    text = driver.find_element("id", "pick-id").text
    cmd = driver.find_element("id", "pick-command").text
    return (None if text == "none" else text), cmd


def cli_pick(run: Path, command: str, capsys):
    """What `hybridnas pick` prints as its choice for the page's command (None: nothing meets the limits)."""
    args = shlex.split(command)
    assert args[:2] == ["hybridnas", "pick"]
    args[2] = str(run)  # a copy, so that the recorded picks do not change the page's run
    capsys.readouterr()
    code = cli(*args[1:])
    out, err = capsys.readouterr()
    if code == 2:
        assert "meets" in err, err
        return None
    assert code == 0, err
    return out.splitlines()[1].split()[0]


# --------------------------------------------------------------------------- the page


def test_report_writes_an_offline_front_page_and_links_it(run):
    page = (run / "front.html").read_text()
    from plotly.offline import get_plotlyjs

    head, bundle_and_rest = page.split("<script>", 1)
    bundle, rest = bundle_and_rest.split("</script>", 1)
    assert bundle == get_plotlyjs()  # plotly.js inline, from the Python package
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=[\"']?(https?:)?//", head + rest)
    assert 'href="front.html"' in (run / "report.html").read_text()
    assert "front.html" in (run / "report.md").read_text()
    data = json.loads(page.split('<script id="front-data" type="application/json">')[1].split("</script>")[0])
    assert {p["id"] for p in data["data"]["points"]} == {r["arch_id"] for r in records(run)}


def test_page_data_marks_the_front_as_the_run_does(run):
    from hybridnas.analysis.front_page import page_data
    from hybridnas.results import RunResults

    res = RunResults(run)
    front = {r["arch_id"]: r for r in res.front()}
    data = page_data(res)
    assert {p["id"] for p in data["points"] if p["front"]} == set(front)
    assert {p["id"]: p["noise_of"] for p in data["points"] if p["front"]} == \
        {a: r.get("within_noise_of") for a, r in front.items()}
    assert any(p["noise_of"] for p in data["points"]), "the tiny run should have a member within noise"
    json.dumps(data, allow_nan=False)


def test_measured_latency_gets_its_own_panel_and_axis(run, tmp_path):
    from hybridnas.analysis.front_page import page_data
    from hybridnas.analysis.front_view import costs_figure, parallel_figure
    from hybridnas.results import RunResults

    copy = tmp_path / "lat"
    shutil.copytree(run, copy)
    lines = [json.loads(x) for x in (copy / "evaluations.jsonl").read_text().splitlines()]
    for k, r in enumerate(lines):
        r["latency"] = 0.5 + 0.1 * k  # ms, as the latency table writes it
    (copy / "evaluations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    data = page_data(RunResults(copy))
    assert data["latency"] and all(p["latency"] is not None for p in data["points"])
    fig = costs_figure(data)
    assert fig["layout"]["meta"]["panels"] == ["params", "flops", "latency"]
    on_x3 = [t for t in fig["data"] if t.get("xaxis") == "x3" and isinstance(t.get("customdata"), list)]
    assert sum(len(t["customdata"]) for t in on_x3) == len(data["points"])
    assert "latency (ms)" in [d["label"] for d in parallel_figure(data)["data"][0]["dimensions"]]


def test_pick_grid_agrees_with_the_pick_command(run, tmp_path, capsys):
    """Without a browser: the precomputed picks equal `hybridnas pick`'s at sampled slider positions."""
    from hybridnas.analysis.front_page import limits_at, page_data
    from hybridnas.results import RunResults

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    data = page_data(RunResults(run))
    g, lim = data["pick"], data["limits"]
    P, F, A = g["shape"]
    cells = [(P - 1, F - 1, 0)] + random.Random(0).sample([(i, j, k) for i in range(P) for j in range(F)
                                                           for k in range(A)], 8)
    for i, j, k in cells:
        limits = limits_at(lim, i, j, k)
        flags = [f"--{n.replace('_', '-')} {v!r}" for n, v in limits.items() if v is not None]
        at = g["grid"][(i * F + j) * A + k]
        want = None if at < 0 else g["ids"][at]
        assert cli_pick(copy, f"hybridnas pick RUN {' '.join(flags)}", capsys) == want, limits


@browser_test
def test_page_loads_offline_with_one_marker_per_network(run, browser):
    open_page(browser, (run / "front.html").as_uri())
    n = len(records(run))
    assert markers(browser, "xy") == n and markers(browser, "x2y2") == n
    assert browser.find_element("id", "shown").text.startswith(f"{n} of {n} networks shown")
    assert wait_for(browser, "document.querySelectorAll('#parallel .parcoords, #parallel .gl-container').length > 0")
    buttons = browser.execute_script(
        "return [...document.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title'))")
    assert buttons and not any("share" in (b or "").lower() or "cloud" in (b or "").lower() for b in buttons)
    time.sleep(0.5)
    assert console_errors(browser) == []
    asked = requests(browser)
    assert asked and all(u.startswith(("file:", "data:")) for u in asked), asked


@browser_test
def test_sliders_filter_and_the_pick_is_hybridnas_picks(run, browser, tmp_path, capsys):
    open_page(browser, (run / "front.html").as_uri())
    recs = records(run)
    data = browser.execute_script("return window.hybridnasFront.state().data")
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    pick, cmd = page_pick(browser)
    assert pick is not None and cli_pick(copy, cmd, capsys) == pick  # no limit: the knee

    limits = data["limits"]
    set_slider(browser, "max_params", 2)  # the third smallest parameter count of the front
    cap = limits["max_params"][2]
    shown = sum(r["params"] <= cap for r in recs)
    assert 0 < shown < len(recs)
    assert markers(browser, "xy") == shown and markers(browser, "x2y2") == shown
    assert browser.find_element("id", "shown").text.startswith(f"{shown} of {len(recs)} networks shown")
    pick, cmd = page_pick(browser)
    assert f"--max-params {cap:g}" in cmd
    assert cli_pick(copy, cmd, capsys) == pick

    rng = random.Random(1)
    for _ in range(4):  # more combinations of all three limits, including ones nothing meets
        pos = {k: rng.randrange(len(limits[k]) + 1) for k in ("max_params", "max_flops", "min_acc")}
        for key, p in pos.items():
            set_slider(browser, key, p)
        pick, cmd = page_pick(browser)
        assert cli_pick(copy, cmd, capsys) == pick, (pos, cmd)
    assert console_errors(browser) == []


@browser_test
def test_a_range_brushed_on_the_parallel_view_filters_the_other_views(run, browser):
    open_page(browser, (run / "front.html").as_uri())
    accs = sorted(100 * r["val_acc"] for r in records(run))
    lo, hi = accs[len(accs) // 3], accs[-1]
    # what dragging along the validation-accuracy axis does: plotly sets the dimension's constraintrange
    browser.execute_script("Plotly.restyle('parallel', {'dimensions[0].constraintrange': [[arguments[0], "
                           "arguments[1]]]})", lo - 1e-6, hi + 1e-6)
    inside = sum(lo - 1e-6 <= a <= hi + 1e-6 for a in accs)
    assert 0 < inside < len(accs)
    assert wait_for(browser, f"document.querySelectorAll({POINTS.format(axes='xy')!r}).length === {inside}", 10)
    assert markers(browser, "x2y2") == inside
    assert browser.find_element("id", "shown").text.startswith(f"{inside} of {len(accs)} networks shown")
    browser.execute_script("Plotly.restyle('parallel', {'dimensions[0].constraintrange': null})")  # cleared
    assert wait_for(browser, f"document.querySelectorAll({POINTS.format(axes='xy')!r}).length === {len(accs)}", 10)
    assert console_errors(browser) == []


@browser_test
def test_clicking_a_network_shows_its_cells_and_commands(run, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    open_page(browser, (run / "front.html").as_uri())
    pick, _ = page_pick(browser)
    # a network off the front (trace 1 of the first panel), which is not the pick
    target = browser.execute_script("return document.getElementById('costs').data[1].customdata[0]")
    assert target and target != pick
    point = browser.execute_script(
        "return document.querySelectorAll('#costs .subplot.xy .scatterlayer .trace')[1].querySelector('path.point')")
    ActionChains(browser).move_to_element(point).pause(0.3).click().perform()
    assert wait_for(browser, f"document.getElementById('detail-id') && "
                             f"document.getElementById('detail-id').textContent === {target!r}", 10), \
        browser.find_element("id", "detail").text
    commands = browser.find_element("id", "commands").text.splitlines()
    run_arg = browser.execute_script("return window.hybridnasFront.state().data.run_arg")
    assert commands == [f"hybridnas export {run_arg} --id {target}", f"hybridnas train {run_arg} --id {target}"]
    images = browser.execute_script(
        "return [...document.querySelectorAll('#detail img')].map(i => [i.src.slice(0, 22), i.naturalWidth])")
    assert images and all(src == "data:image/png;base64," and w > 100 for src, w in images)
    from hybridnas.results import RunResults

    assert RunResults(run).record(target)["arch_id"] == target  # the command's id names a model of the run


def test_report_goes_on_without_plotly_and_says_how_to_get_it(run_copy, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "plotly", None)  # as if it were not installed
    assert cli("report", run_copy) == 0
    err = capsys.readouterr().err
    assert "pip install 'hybridnas[interactive]'" in err and len(err.strip().splitlines()) == 1
    assert not (run_copy / "front.html").exists()
    assert "hybridnas[interactive]" in (run_copy / "report.html").read_text()
    assert cli("serve", run_copy) == 2
    assert "pip install 'hybridnas[interactive]'" in capsys.readouterr().err


# --------------------------------------------------------------------------- serve


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_serve_refuses_a_host_other_machines_can_reach(run, host, capsys):
    assert cli("serve", run, "--host", host, "--port", "0") == 2
    err = capsys.readouterr().err
    assert "--allow-remote" in err and "not a loopback address" in err and len(err.strip().splitlines()) == 1


def test_serve_a_missing_or_corrupt_run_exits_2_in_one_line(run, tmp_path, capsys):
    assert cli("serve", tmp_path / "nope") == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad"
    shutil.copytree(run, bad)
    lines = (bad / "evaluations.jsonl").read_text().splitlines()
    lines[2] = '{"arch_id": "cut'  # damaged in the middle, not a line still being written
    (bad / "evaluations.jsonl").write_text("\n".join(lines) + "\n")
    assert cli("serve", bad, "--port", "0") == 2
    err = capsys.readouterr().err.strip()
    assert "corrupted at line 3" in err and len(err.splitlines()) == 1


def snapshot(root: Path, skip=()):
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and str(p.relative_to(root)) not in skip}


@pytest.fixture
def server(tiny_run, tmp_path):
    """`hybridnas serve` on a copy of the tiny run that keeps only its first 3 evaluations; yields
    (run, url, the evaluation lines still to append)."""
    root = tmp_path / "live"
    shutil.copytree(tiny_run, root)
    lines = (root / "evaluations.jsonl").read_bytes().splitlines(keepends=True)
    (root / "evaluations.jsonl").write_bytes(b"".join(lines[:3]))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "hybridnas.cli.main", "serve", str(root), "--port", "0"],
                            cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "serving the front of" in line, line + proc.stderr.read()
        yield root, line.split(" at ")[1].split()[0], lines[3:]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def append(path: Path, data: bytes) -> None:
    """Append as the run store does: one write with O_APPEND."""
    fd = os.open(str(path), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


@browser_test
def test_serve_shows_each_new_evaluation_within_seconds(server, browser, capsys):
    root, url, rest = server
    before = snapshot(root)
    open_page(browser, url)
    assert markers(browser) == 3
    evals = root / "evaluations.jsonl"
    for k, line in enumerate(rest[:2], start=4):
        t = time.time()
        append(evals, line)
        assert wait_for(browser, f"document.querySelectorAll({POINTS.format(axes='xy')!r}).length === {k}", 15), \
            f"evaluation {k} not shown after 15 s"
        assert time.time() - t < 8  # polled every 2 s
    # a line still being written: the page keeps what it shows and says nothing is wrong
    half = len(rest[2]) // 2
    append(evals, rest[2][:half])
    time.sleep(4.5)
    assert markers(browser) == 5
    assert "could not read" not in browser.find_element("id", "live").text
    append(evals, rest[2][half:])
    assert wait_for(browser, f"document.querySelectorAll({POINTS.format(axes='xy')!r}).length === 6", 15)
    # a file replaced while it reads (picks.json, atomically, by `hybridnas pick`) shows too
    assert cli("pick", root, "--rule", "max-acc") == 0
    chosen = capsys.readouterr().out.splitlines()[1].split()[0]
    assert wait_for(browser, "window.hybridnasFront.state().data.points.some(p => p.id === "
                             f"{chosen!r} && p.picked.includes('max-acc'))", 15)
    assert console_errors(browser) == []
    assert all(u.startswith((url, "data:")) for u in requests(browser))
    # it read the run and wrote nothing into it (no page, no report, no figures)
    after = snapshot(root, skip=("evaluations.jsonl", "picks.json"))
    assert after == {k: v for k, v in before.items() if k not in ("evaluations.jsonl", "picks.json")}


def test_serve_answers_only_loopback_names_and_survives_a_corrupt_line(server):
    root, url, rest = server
    req = urllib.request.Request(url, headers={"Host": "attacker.example"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 403
    with urllib.request.urlopen(url + "data.json", timeout=60) as r:
        first = json.loads(r.read())
    assert len(first["data"]["points"]) == 3
    # a broken line in the middle (not a line being written): the last good state stays, with a warning
    append(root / "evaluations.jsonl", b'{"arch_id": "broken\n' + rest[0])
    with urllib.request.urlopen(url + "data.json?since=" + first["stamp"], timeout=60) as r:
        assert "corrupted" in json.loads(r.read())["warning"]  # unchanged data, and why
    with urllib.request.urlopen(url + "data.json", timeout=60) as r:
        now = json.loads(r.read())
    assert "corrupted" in now["warning"] and len(now["data"]["points"]) == 3
    with urllib.request.urlopen(url, timeout=60) as r:
        assert r.status == 200 and b"hybridnas front" in r.read()


# --------------------------------------------------------------------------- the report's tables

TOKENS_SPLIT = r"""
const bad = [];
for (const el of document.querySelectorAll("td code")) {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    const re = /[^-|,\s]+/g;  // ids, genome stages, cell nodes: wrapping may only fall between them
    let m;
    while ((m = re.exec(text))) {
      const r = document.createRange();
      r.setStart(node, m.index);
      r.setEnd(node, m.index + m[0].length);
      if (r.getClientRects().length > 1) bad.push(m[0]);
    }
  }
}
return bad;
"""


@browser_test
def test_report_tables_split_no_id_or_genome_token(run, browser):
    browser.set_window_size(640, 1000)  # a narrow window: the tables must wrap somewhere
    try:
        browser.get((run / "report.html").as_uri())
        assert browser.execute_script("return document.querySelectorAll('td code').length") > 0
        assert browser.execute_script(TOKENS_SPLIT) == []
    finally:
        browser.set_window_size(1400, 1000)

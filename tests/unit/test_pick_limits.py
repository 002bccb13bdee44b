"""A hard limit the rule's choice already meets does not change the pick; when it does change
it, the pick says why (and picks.json keeps the unconstrained choice)."""

import json

from tests.unit.test_pick import ROWS, _run_with

RUN = [(a, p, int(f), None) for a, p, f in ROWS]  # the knee of the whole front is m1 (3,000 params)


def test_a_limit_the_knee_meets_keeps_the_knee(tmp_path):
    from hybridnas.analysis.pick import pick

    root = _run_with(tmp_path, RUN)
    [free] = pick(root)
    assert free["arch_id"] == "m1"
    # dropping the two largest models moves the knee of what is left to m0 when the knee is taken
    # again over the remaining models; the limit's own choice must not move
    [limited] = pick(root, max_params=20_000)
    assert limited["arch_id"] == "m1" and "limited" not in limited["pick"]
    # the same order as without the limit, minus what breaks it
    listed = [r["arch_id"] for r in pick(root, max_params=20_000, n=5)]
    assert listed == [r["arch_id"] for r in pick(root, n=5) if r["params"] <= 20_000]
    for rule, kw in (("asf", {"prefer": {"acc": 0.96}}), ("pseudo-weights", {"weights": {"acc": 0.5, "params": 0.5}}),
                     ("high-tradeoff", {})):
        [a] = pick(root, rule=rule, **kw)
        [b] = pick(root, rule=rule, max_params=a["params"], **kw)
        assert a["arch_id"] == b["arch_id"], rule


def test_a_limit_the_knee_breaks_says_why(tmp_path, capsys):
    from hybridnas.analysis.pick import pick
    from hybridnas.cli.main import main

    root = _run_with(tmp_path, RUN)
    [chosen] = pick(root, max_params=2_500)
    assert chosen["arch_id"] == "m0"
    assert chosen["pick"]["limited"] == {"unconstrained": "m1", "misses": "params 3,000 > 2,500"}
    assert json.loads((root / "picks.json").read_text())["picks"][-1]["limited"]["unconstrained"] == "m1"
    assert main(["pick", str(root), "--max-params", "2500"]) == 0
    assert "the limits changed the pick: knee over the whole front chooses m1" in capsys.readouterr().out
    assert main(["pick", str(root), "--max-params", "20000"]) == 0
    assert "meets the limits: they do not change it" in capsys.readouterr().out


def test_the_report_labels_a_pick_the_limits_changed(tmp_path):
    from hybridnas.analysis.pick import pick, pick_labels
    from hybridnas.results import RunResults

    root = _run_with(tmp_path, RUN)
    pick(root)  # the knee of the whole front: m1
    pick(root, max_params=20_000)  # met by m1: the same pick, the same label
    pick(root, max_params=2_500)  # changed by the limit: m0
    labels = pick_labels(RunResults(root).picks())
    assert labels == {"m1": ["knee"], "m0": ["knee under limits"]}

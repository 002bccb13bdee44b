"""Did two runs search the same? Compares what two run directories evaluated and chose, field by
field, leaving out what depends on the machine's speed (``seconds``) and on where weights were
written (``weights``): ``evaluations.jsonl`` by (arch id, epochs) - and, per generation, which
networks it held - ``blocks.json``, ``front.json``, ``hv_reference.json`` and ``front.csv``.

Records of one generation are appended in the order their trainings finish, which varies with
the load when candidates train in parallel, so only the order *across* generations is compared.
Used to check that a restructuring changed nothing (issue 23): run the default search before and
after, on the same machine, and compare::

    python benchmarks/default_search.py --name before      # on the old commit
    python benchmarks/default_search.py --name after       # on the new one
    python benchmarks/same_search.py runs/before runs/after

Prints what differs and exits 1, or says they are the same and exits 0.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

TIMING = ("seconds", "weights")


def records(run: Path):
    rows = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines() if line.strip()]
    by_key = {(r["arch_id"], r.get("epochs")): {k: v for k, v in r.items() if k not in TIMING} for r in rows}
    gens = {}
    for r in rows:
        gens.setdefault(r.get("generation"), set()).add(r["arch_id"])
    return by_key, gens


def front_json(run: Path):
    data = json.loads((run / "front.json").read_text())
    data["members"] = [{k: v for k, v in m.items() if k not in TIMING} for m in data.get("members", [])]
    return data


def front_csv(run: Path):
    with open(run / "front.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    problems = []
    (ra, ga), (rb, gb) = records(args.a), records(args.b)
    if ra.keys() != rb.keys():
        problems.append(f"evaluations: {len(ra.keys() - rb.keys())} only in {args.a}, "
                        f"{len(rb.keys() - ra.keys())} only in {args.b}")
    differ = [k for k in ra.keys() & rb.keys() if ra[k] != rb[k]]
    if differ:
        k = sorted(differ)[0]
        fields = sorted(f for f in set(ra[k]) | set(rb[k]) if ra[k].get(f) != rb[k].get(f))
        problems.append(f"evaluations: {len(differ)} records differ (first: {k[0]}, fields {', '.join(fields)})")
    if ga != gb:
        problems.append("evaluations: the generations hold different networks")
    for name, read in (("blocks.json", lambda r: json.loads((r / "blocks.json").read_text())),
                       ("hv_reference.json", lambda r: json.loads((r / "hv_reference.json").read_text())),
                       ("front.json", front_json), ("front.csv", front_csv)):
        if (args.a / name).exists() or (args.b / name).exists():
            try:
                same = read(args.a) == read(args.b)
            except FileNotFoundError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if not same:
                problems.append(f"{name} differs")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"same search: {len(ra)} evaluations in {len(ga)} generations, the same library, hypervolume reference and "
          f"front ({args.a} and {args.b}; seconds and weight paths left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

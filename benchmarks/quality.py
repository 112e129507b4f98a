"""Precision and recall of every rule and behaviour detector on the demo dataset, against the generator's labels.

    python benchmarks/quality.py [--data data/demo]

Runs the detectors for every week in which anomalies were planted (week 5 on) and compares the flagged
(detector, entity, week) triples with labels.csv. Both figures must be 1.0 for every one of them: the generator labels
what it planted and, where a plant also meets another definition (outlets, defectura, silent facilities, protected
patients left without medicine, deaths), whatever the contract's definition flags.
"""
import argparse, sys, time, warnings
from pathlib import Path
import pandas as pd
from dtsj_analysis.load import load_dataset
from dtsj_analysis.engine import run_detectors, detector_ids
from dtsj_analysis.demo import write_demo, mondays

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/demo"); ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if not (Path(a.data) / "labels.csv").exists(): write_demo(a.data, seed=a.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); ds = load_dataset(a.data)
    labels = pd.read_csv(Path(a.data) / "labels.csv", dtype=str)
    span = ds.sql("""SELECT (SELECT min(issued_at) FROM prescriptions) AS first, (SELECT max(dispensed_at) FROM dispensings) AS last,
                            (SELECT count(*) FROM prescriptions) AS n_rx, (SELECT count(*) FROM dispensings) AS n_d""").iloc[0]
    start, end = pd.Timestamp(span["first"]).normalize(), pd.Timestamp(span["last"]).normalize() + pd.Timedelta(days=1)
    weeks = mondays(start + pd.Timedelta(days=28), end)
    rules = detector_ids("rule") + detector_ids("behaviour")
    t = time.perf_counter()
    found = pd.concat([run_detectors(ds, w, w + pd.Timedelta(days=7), detectors=rules) for w in weeks], ignore_index=True)
    secs = time.perf_counter() - t
    found["week"] = found.period_start.dt.strftime("%Y-%m-%d")
    labels = labels[labels.detector.isin(rules)].assign(week=lambda l: l.period_start.str[:10])
    rows, ok = [], True
    for det in rules:
        f = set(map(tuple, found[found.detector == det][["entity_id", "week"]].to_numpy()))
        l = set(map(tuple, labels[labels.detector == det][["entity_id", "week"]].to_numpy()))
        tp = len(f & l); p = tp / len(f) if f else float(not l); r = tp / len(l) if l else float(not f)
        ok &= p == 1.0 and r == 1.0
        rows.append((det, len(l), len(f), tp, round(p, 4), round(r, 4)))
    print(pd.DataFrame(rows, columns=["detector", "labelled", "flagged", "true_pos", "precision", "recall"]).to_string(index=False))
    print(f"\n{len(weeks)} weeks, {span.n_rx:,} prescriptions, {span.n_d:,} dispensings: {len(rules)} detectors ran in {secs:.1f} s")
    return 0 if ok else 1

if __name__ == "__main__": sys.exit(main())

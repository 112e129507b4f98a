"""Wall time and memory of the weekly reports: the week model, one region's page from a ready model, and the whole
14-region batch (HTML + PDF + workbook, 2 jobs), with the peak memory of the whole process tree (parent, workers,
kernels, Chromium) sampled from /proc.

    python benchmarks/report.py [--data data/demo] [--week 2025-04-21] [--repeat 3]
    python benchmarks/report.py --data data/bench/national-100-weeks-13.duckdb --week 2025-04-14 --repeat 3

Targets (issue 11), after ingest, on this 2-core machine: one region's page from a ready week model, kernel start
included, <= 5 s; the national batch of 14 regions, HTML + PDF, 2 jobs, <= 5 min wall and <= 8 GB for the whole tree.

The week model is timed twice. First on a store that does not keep the week before (a new store: the previous week's
rule findings are computed too, for the change in each rule's count); then as on a Monday, when last Monday's batch
kept that week's findings in the store (`backfill` keeps them here, untimed). The whole batch is printed for both.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, threading, time
import pandas as pd
from pathlib import Path

DTSJ = str(Path(sys.executable).parent / "dtsj")

def tree_rss(root: int) -> int:
    "Resident memory of process `root` and all its descendants, in bytes."
    kids, rss = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit(): continue
        try:
            with open(f"/proc/{p}/stat") as f: parts = f.read().rsplit(")", 1)[1].split()
            kids.setdefault(int(parts[1]), []).append(int(p)); rss[int(p)] = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError): pass
    total, todo = 0, [root]
    while todo:
        p = todo.pop(); total += rss.get(p, 0); todo += kids.get(p, [])
    return total

def run(cmd, ok=(0, 1)) -> tuple:
    "Run `cmd`; its wall time, the peak memory of its process tree (GB) and its exit code (its errors printed unless `ok`)."
    t0 = time.perf_counter(); p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while p.poll() is None:
        peak = max(peak, tree_rss(p.pid)); time.sleep(0.2)
    err = p.stderr.read()
    if p.returncode not in ok: print(err[-2000:], file=sys.stderr)
    return time.perf_counter() - t0, peak / 1e9, p.returncode

def forget_week_before(store, week) -> pd.Timestamp:
    "Make `store` keep no findings of the week before `week` (a new store's state); that week's Monday."
    from dtsj_analysis.load import Dataset, attach, writing
    from dtsj_analysis.weekly import kept_weeks
    prev = pd.Timestamp(week) - pd.Timedelta(weeks=1)
    with attach(store) as con:
        if prev not in kept_weeks(Dataset(con)): return prev
    with writing(store) as con:
        for t in ("findings", "findings_weeks"): con.execute(f"DELETE FROM {t} WHERE model_week = ?", [prev])
    return prev

def week(store, week) -> tuple:
    "`dtsj week --force`: its wall time and tree peak (GB), as `run`; a week model that fails stops the benchmark (its time would mean nothing)."
    secs, peak, rc = run([DTSJ, "week", "--data", store, "--week", week, "--force"], ok=(0,))
    if rc: sys.exit(f"dtsj week failed (exit {rc}) after {secs:.1f} s: no figure printed for it")
    return secs, peak

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/demo"); ap.add_argument("--week", default="2025-04-21")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the one-region page (the machine's timings vary)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    from dtsj_analysis.load import as_store
    store = str(as_store(a.data))
    prev = forget_week_before(store, a.week)
    secs, peak = week(store, a.week)
    cold_s = secs
    print(f"week model of {a.week}, every figure of every region, computed once (store {Path(store).name}), the week before "
          f"not kept (computed too): {secs:.1f} s, tree peak {peak:.2f} GB", flush=True)
    from dtsj_analysis.weekly import backfill
    t = time.perf_counter(); backfill(store, a.week, 1)
    print(f"  (the week of {prev.date()} kept, as last Monday's batch would have: {time.perf_counter() - t:.1f} s, untimed)", flush=True)
    secs, peak = week(store, a.week)
    model_s = secs
    print(f"week model of {a.week} on a Monday, the week before kept: {secs:.1f} s, tree peak {peak:.2f} GB", flush=True)
    with tempfile.TemporaryDirectory() as out:
        from dtsj_analysis.publish import render_region
        from dtsj_analysis.workbook import make_workbook
        for pdf in (False, True):
            times = []
            for i in range(a.repeat):
                t = time.perf_counter(); render_region(store, "navoi", a.week, "uz", Path(out) / f"one-{pdf}-{i}", pdf=pdf); times.append(time.perf_counter() - t)
            print(f"one region's page (navoi) from the ready model, kernel start included, {'HTML + PDF' if pdf else 'HTML'}: "
                  f"median {statistics.median(times):.1f} s of {a.repeat} ({', '.join(f'{x:.1f}' for x in times)}; target <= 5 s)", flush=True)
        t = time.perf_counter(); make_workbook(store, "navoi", a.week, "uz", Path(out) / "wb")
        print(f"one region's workbook: {time.perf_counter() - t:.1f} s", flush=True)
        secs, peak, rc = run([DTSJ, "report", "--data", store, "--all-regions", "--week", a.week, "--jobs", str(a.jobs), "--out", str(Path(out) / "all")])
        pages = len(list((Path(out) / "all" / "site" / a.week).glob("*.html")))
        print(f"all 14 regions, HTML + PDF + workbook, {a.jobs} jobs, from the ready model: {secs:.1f} s wall, tree peak {peak:.2f} GB; "
              f"{pages} pages, exit {rc}", flush=True)
        print(f"the whole batch after ingest (week model + 14 regions): on a Monday {model_s + secs:.1f} s, on a store that keeps "
              f"nothing of the week before {cold_s + secs:.1f} s (target <= 300 s)", flush=True)

if __name__ == "__main__": sys.exit(main())

"""Wall time of the weekly report: one region end to end, and all 14 regions with 2 jobs.

    python benchmarks/report.py [--data data/demo] [--week 2025-04-21]

Targets on this 2-core machine: one region <= 15 s, all 14 regions <= 90 s. Each run starts from an empty output
folder (no cached findings), as a scheduled Monday run would. The one-region report runs `--repeat` times (median printed).
"""
import argparse, statistics, sys, tempfile, time
from pathlib import Path
from dtsj_analysis.publish import make_report, make_reports
from dtsj_analysis.reference import REGION_CODES

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/demo"); ap.add_argument("--week", default="2025-04-21")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the one-region report (this machine's timings vary by a second or two)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        one = []
        for i in range(a.repeat):
            t = time.perf_counter(); make_report(a.data, "navoi", a.week, out=Path(out) / f"one-{i}"); one.append(time.perf_counter() - t)
        print(f"one region (navoi), HTML + PDF, end to end: median {statistics.median(one):.1f} s of {a.repeat} runs "
              f"({', '.join(f'{x:.1f}' for x in one)}; target <= 15 s)", flush=True)
        t = time.perf_counter(); res = make_reports(a.data, list(REGION_CODES), a.week, out=Path(out) / "all", jobs=2, progress=False)
        every = time.perf_counter() - t
        print(f"all 14 regions, 2 jobs, HTML + PDF: {every:.1f} s (target <= 90 s); {int(res.ok.sum())} of {len(res)} published; "
              f"per region {res.seconds.min():.1f}-{res.seconds.max():.1f} s")

if __name__ == "__main__": sys.exit(main())

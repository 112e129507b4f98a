"""A CSV export through the command line: `dtsj detect` on a folder of CSV files, first run (validation into the cached
store included) and later runs (the cached store), against the same rules as plain DuckDB SQL over the same CSV files.

    python benchmarks/csv_export.py [--scale 5.2] [--weeks 13] [--runs 3]

--scale 5.2 with 13 weeks is about 1.3M prescriptions of history (the export of issue 11). The dataset is generated once
under data/bench/csv-<scale>-weeks-<weeks>/. Every figure is a whole command in a fresh process (interpreter start
included), the median of --runs runs; the first `dtsj detect` of each run starts from an empty store cache.

Plain SQL is measured two ways: over views of the CSV files (DuckDB reads the files in every statement) and over tables
loaded from them first (load included); the ratio is taken against the faster of the two. A third figure is the floor of
any cached store: the same plain SQL over tables loaded into a DuckDB file (written to disk, nothing checked).
Targets (issue 11): first detect <= 2 x plain SQL; later runs <= 1.0 x.
"""
import argparse, os, re, statistics, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).parent
BENCH = Path("data/bench")
DTSJ = [str(Path(sys.executable).with_name("dtsj"))]   # the command a user runs

PLAIN = """
import re, sys, time, duckdb
from pathlib import Path
folder, how, start, end, sql, db = sys.argv[1:7]
con = duckdb.connect(db if how == "file" else ":memory:")
for f in sorted(Path(folder).glob("*.csv")):
    if f.stem == "labels": continue
    src = f"read_csv('{f}', header=true)"
    con.execute(f"CREATE {'VIEW' if how == 'view' else 'TABLE'} {f.stem} AS SELECT * FROM {src}")
text = re.sub(r"--[^\\n]*", "", Path(sql).read_text())
n = 0
for stmt in [s.strip() for s in text.split(";") if s.strip()]:
    params = {k: v for k, v in {"start": start, "end": end}.items() if f"${k}" in stmt}
    r = con.execute(stmt, params)
    if stmt.upper().startswith(("SELECT", "WITH")): n += len(r.fetchall())
print(n)
"""

def generated(scale: float, weeks: int) -> Path:
    "The demo dataset at `scale` as CSV files, generated once."
    from dtsj_analysis.demo import write_demo
    src = BENCH / f"csv-{scale:g}-weeks-{weeks}"
    if not (src / "labels.csv").exists():
        t = time.perf_counter(); write_demo(src, seed=0, weeks=weeks, scale=scale, fmt="csv")
        print(f"  generated {src} in {time.perf_counter() - t:.1f} s", flush=True)
    return src

def timed(cmd, env=None) -> tuple[float, str]:
    "Seconds of one command in a fresh process, and its standard output."
    t = time.perf_counter(); p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode: raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{p.stderr[-2000:]}")
    return time.perf_counter() - t, p.stdout

def rule_ids() -> str:
    from dtsj_analysis.engine import detector_ids
    return ",".join(detector_ids("rule") + detector_ids("behaviour"))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=5.2); ap.add_argument("--weeks", type=int, default=13)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    src = generated(a.scale, a.weeks)
    n_rx = sum(1 for _ in open(src / "prescriptions.csv", encoding="utf-8")) - 1
    start, end = "2025-04-21", "2025-04-28"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "plain.py"; script.write_text(PLAIN)
        plain = {how: [timed([sys.executable, script, src, how, start, end, HERE / "plain_rules.sql", Path(tmp) / f"plain-{how}-{i}.duckdb"])[0]
                       for i in range(a.runs)] for how in ("view", "table", "file")}
        first, later = [], []
        for i in range(a.runs):
            env = {**os.environ, "DTSJ_CACHE": str(Path(tmp) / f"cache-{i}")}
            cmd = DTSJ + ["detect", "--data", str(src), "--start", start, "--end", end, "--detectors", rule_ids(),
                          "--out", str(Path(tmp) / "findings.csv")]
            first.append(timed(cmd, env)[0]); later.append(timed(cmd, env)[0])
    med = statistics.median
    base = min(med(plain["view"]), med(plain["table"]))
    print(f"CSV folder {src}: {n_rx:,} prescriptions; week {start}; rule and behaviour detectors; median of {a.runs} runs")
    print(f"  plain DuckDB SQL over the CSV files: views {med(plain['view']):.1f} s, tables loaded first {med(plain['table']):.1f} s")
    print(f"  floor of a cached store: plain SQL over tables loaded into a DuckDB file, nothing checked: {med(plain['file']):.1f} s "
          f"(ratio {med(plain['file']) / base:.2f})")
    print(f"  dtsj detect, first run (validation into the cached store included): {med(first):.1f} s "
          f"(min {min(first):.1f}, max {max(first):.1f}): ratio {med(first) / base:.2f} (target <= 2.0)")
    print(f"  dtsj detect, later runs (the cached store): {med(later):.1f} s (min {min(later):.1f}, max {max(later):.1f}): "
          f"ratio {med(later) / base:.2f} (target <= 1.0)")
    return 0

if __name__ == "__main__": sys.exit(main())

"""Ingest and detection at scale: the store, the rule and behaviour detectors, the outlier detectors, against the same
rules in plain DuckDB SQL on the same store (compared by entity, and by entity and region where the plain SQL places by region).

    python benchmarks/detect.py [--scale 1 4 ...] [--national 100] [--weeks 13] [--keep-store]

--scale S: the demo generator's all-region dataset at S times the demo size (S=4 is about 1M prescriptions of history),
generated once and cached under data/bench/. --national N: the scale-1 dataset tiled N times, each copy with its own
facilities, prescribers, patients, pharmacies and districts (N=100 is about 26M prescriptions and 24M dispensings: a
week of about 2M prescriptions with 13 weeks of history, the national size).

For each dataset, every step runs in a fresh process so that the peak memory printed is that step's own (GB of 10^9 bytes):
1. ingest: validate the Parquet folder into a new store (`dtsj_analysis.load.ingest`);
2. rules: every rule and behaviour detector on the last whole week, from the store;
3. plain: benchmarks/plain_rules.sql (the contract's rules written independently as plain DuckDB SQL) on the same store,
   with DuckDB's default settings (memory up to 80% of the machine; the library's readers keep to an eighth);
4. outliers: the two outlier detectors on the same week.
It prints each figure and the ratio to plain SQL, checks that both flag the same entities, and for a tiled dataset that
every detector flags exactly N times what it flags on one copy.
Targets (issue 11): national ingest <= 3 min and <= 8 GB; rules <= 30 s, <= 4 GB and no slower than plain SQL (also at
1M prescriptions); outliers <= 60 s and <= 4 GB.
"""
import argparse, json, re, resource, subprocess, sys, time, warnings
from pathlib import Path
import duckdb
import pandas as pd

HERE = Path(__file__).parent
BENCH = Path("data/bench")
IDS = {"facilities": ["facility_id", "district"], "prescribers": ["prescriber_id", "facility_id"], "patients": ["patient_id"],
       "pharmacies": ["pharmacy_id", "district"], "contracts": ["contract_id", "pharmacy_id"],
       "prescriptions": ["prescription_id", "prescriber_id", "facility_id", "patient_id"],
       "dispensings": ["dispensing_id", "prescription_id", "pharmacy_id"], "reserve_stock": ["facility_id"],
       "payments": ["payment_id", "pharmacy_id"], "appeals": ["appeal_id", "district"], "activities": ["activity_id"], "drugs": []}

def peak_gb() -> float:
    """This process's peak resident memory in GB of 10^9 bytes (as report.py and treepeak print): the high-water mark of its own
    memory (VmHWM), which starts afresh at exec. getrusage's ru_maxrss does not: Linux carries it over from the parent that forked
    the step, so a step started by a parent that had just tiled the national dataset in memory printed the parent's 9.26 GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"): return int(line.split()[1]) * 1024 / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9   # no /proc: the operating system's own figure

def generated(scale: float, weeks: int) -> Path:
    "The demo dataset at `scale`, generated once under data/bench/."
    from dtsj_analysis.demo import write_demo
    src = BENCH / f"scale-{scale:g}-weeks-{weeks}"
    if not (src / "labels.csv").exists():
        t = time.perf_counter(); write_demo(src, seed=0, weeks=weeks, scale=scale)
        print(f"  generated {src} in {time.perf_counter() - t:.1f} s", flush=True)
    return src

def tiled(copies: int, weeks: int) -> Path:
    "The scale-1 dataset repeated `copies` times with suffixed identifiers and district names (DuckDB, Parquet to Parquet)."
    src, dest = generated(1, weeks), BENCH / f"national-{copies}-weeks-{weeks}"
    if (dest / "done").exists(): return dest
    t = time.perf_counter(); dest.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for table, ids in IDS.items():
        if not (src / f"{table}.parquet").exists(): continue
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{src / table}.parquet'").fetchall()]
        sel = ", ".join(f"{c} || '-' || lpad(k::VARCHAR, 3, '0') AS {c}" if c in ids else c for c in cols)
        q = f"SELECT {sel} FROM '{src / table}.parquet', range({copies}) r(k)" if ids else f"SELECT * FROM '{src / table}.parquet'"
        con.execute(f"COPY ({q}) TO '{dest / table}.parquet' (FORMAT parquet)")
    (dest / "done").touch()
    print(f"  tiled {src} x{copies} into {dest} in {time.perf_counter() - t:.1f} s", flush=True)
    return dest

def last_week(con):
    from dtsj_analysis.engine import Period
    end = pd.Timestamp(con.execute("SELECT max(dispensed_at) FROM dispensings").fetchall()[0][0]).normalize() + pd.Timedelta(days=1)
    end -= pd.Timedelta(days=end.day_of_week)
    return Period.of(end - pd.Timedelta(days=7), end)

# --- the steps, each run in its own process ---------------------------------------------------------------------------

def step_ingest(src: str, store: str) -> dict:
    from dtsj_analysis.load import ingest
    Path(store).unlink(missing_ok=True)
    t = time.perf_counter(); res = ingest(src, store)
    return {"seconds": time.perf_counter() - t, "errors": len(res.report.errors), "rows": {n: r.get("rows") for n, r in res.tables.items()}}

def step_rules(store: str, kind: str) -> dict:
    from dtsj_analysis.load import Dataset
    from dtsj_analysis.engine import resolve, run_detector, detector_ids
    ds = Dataset.open(store); period = last_week(ds.con)
    ids = detector_ids("rule") + detector_ids("behaviour") if kind == "rules" else detector_ids("outlier")
    rows, found = [], []
    for d in resolve(ids):
        t = time.perf_counter(); f = run_detector(ds, d, period); rows.append((d.id, len(f), time.perf_counter() - t))
        found += [(d.id, e, r) for e, r in zip(f.entity_id, f.region)]
    n_rx = ds.con.execute("SELECT count(*) FROM prescriptions").fetchall()[0][0]
    return {"period": str(period), "times": rows, "found": found, "n_rx": n_rx, "seconds": sum(r[2] for r in rows)}

def step_plain(store: str) -> dict:
    from dtsj_analysis.load import attach, duckdb_config
    con = attach(store); period = last_week(con)       # DuckDB's own settings, as a user running plain SQL has them
    text = re.sub(r"--[^\n]*", "", (HERE / "plain_rules.sql").read_text())
    out, t = [], time.perf_counter()
    for stmt in [s.strip() for s in text.split(";") if s.strip()]:
        params = {k: v for k, v in {"start": period.start, "end": period.end}.items() if f"${k}" in stmt}
        r = con.execute(stmt, params)
        if stmt.upper().startswith(("SELECT", "WITH")): out += [tuple(x) for x in r.fetchall()]
    return {"seconds": time.perf_counter() - t, "found": out}

STEPS = {"ingest": step_ingest, "rules": lambda store: step_rules(store, "rules"), "outliers": lambda store: step_rules(store, "outliers"),
         "plain": step_plain}

def run_step(name: str, *args) -> dict:
    "Run one step in a fresh process; its result with the process's peak memory."
    p = subprocess.run([sys.executable, __file__, "--step", name, *map(str, args)], capture_output=True, text=True)
    if p.returncode: raise RuntimeError(f"step {name} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])

# --- one dataset -----------------------------------------------------------------------------------------------------

def one(src: Path, copies: int = 0, keep_store: bool = False, outliers: bool = True) -> int:
    store = src.with_name(src.name + ".duckdb")
    if not (keep_store and store.exists()):
        ing = run_step("ingest", src, store)
        print(f"ingest {src}: {ing['seconds']:.1f} s, peak {ing['peak_gb']:.2f} GB, {ing['errors']} error(s)", flush=True)
    rules, plain = run_step("rules", store), run_step("plain", store)
    print(pd.DataFrame(rules["times"], columns=["detector", "findings", "seconds"]).round(2).to_string(index=False))
    ratio = rules["seconds"] / plain["seconds"]
    print(f"{src.name}: {rules['n_rx']:,} prescriptions of history, week {rules['period']}: rule and behaviour detectors "
          f"{rules['seconds']:.1f} s (peak {rules['peak_gb']:.2f} GB); plain DuckDB SQL of the same rules on the same store "
          f"{plain['seconds']:.1f} s (peak {plain['peak_gb']:.2f} GB): ratio {ratio:.2f} (target <= 1.0)", flush=True)
    if outliers:
        outl = run_step("outliers", store)
        print(pd.DataFrame(outl["times"], columns=["detector", "findings", "seconds"]).round(2).to_string(index=False))
        print(f"{src.name}: outlier detectors {outl['seconds']:.1f} s (peak {outl['peak_gb']:.2f} GB; target <= 60 s, <= 4 GB)", flush=True)
    regional = {row[0] for row in plain["found"] if len(row) > 2}      # plain SQL that places its findings by region (doctor_shopping)
    key = lambda d, e, r: (e, r) if d in regional else e
    ours = lambda d: {key(d, e, r) for x, e, r in rules["found"] if x == d}
    theirs = lambda d: {key(d, row[1], row[2] if len(row) > 2 else None) for row in plain["found"] if row[0] == d}
    same = {d: ours(d) == theirs(d) for d, *_ in rules["times"]}
    print("same entities flagged by every detector as plain SQL: " + ("yes" if all(same.values()) else
          "no (" + ", ".join(d for d, ok in same.items() if not ok) + ")"))
    rc = 0 if all(same.values()) else 1
    if copies:
        base = one_counts(generated(1, int(src.name.split("-")[-1])))
        exact = all(n == copies * base.get(d, 0) for d, n, _ in rules["times"])
        print(f"every detector flags exactly {copies} x what it flags on one copy: {exact}")
        rc |= 0 if exact else 1
    return rc

def one_counts(src: Path) -> dict:
    store = src.with_name(src.name + ".duckdb")
    if not store.exists(): run_step("ingest", src, store)
    return {d: n for d, n, _ in run_step("rules", store)["times"]}

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, nargs="*", default=[1.0, 4.0]); ap.add_argument("--national", type=int, default=0)
    ap.add_argument("--weeks", type=int, default=13); ap.add_argument("--keep-store", action="store_true", help="reuse stores made before (skip ingest)")
    ap.add_argument("--no-outliers", action="store_true", help="leave the outlier detectors out")
    ap.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.step:
        warnings.simplefilter("ignore")
        res = STEPS[a.step[0]](*a.step[1:]); res["peak_gb"] = peak_gb()
        print(json.dumps(res, default=str)); return 0
    runs = [(f"scale {s:g}, {a.weeks} weeks, 14 regions", generated(s, a.weeks), 0) for s in a.scale]
    if a.national: runs.append((f"national: scale 1 tiled x{a.national}", tiled(a.national, a.weeks), a.national))
    rc = 0
    for title, src, copies in runs:
        print(f"== {title}", flush=True)
        rc |= one(src, copies, a.keep_store, not a.no_outliers)
    return rc

if __name__ == "__main__": sys.exit(main())

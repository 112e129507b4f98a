"""Both engines on one dataset: every rule and behaviour detector on DuckDB (the store) and on Apache Spark (the store
exported as Parquet), timed and compared row for row.

    python benchmarks/engines.py [--scale 4] [--national 100] [--data DIR] [--store FILE] [--parquet DIR] [--weeks 13]
                                 [--week MONDAY] [--runs 3] [--spark-runs 2] [--master local[2]] [--driver-memory 4g]
                                 [--shuffle-partitions N] [--kinds rule,behaviour] [--time-limit S] [--no-spark]

The dataset is `benchmarks/detect.py`'s: --scale 4 is the demo generator's all-region dataset at 4 times the demo size
(about 1M prescriptions of history, data/bench/scale-4-weeks-13), --national 100 the scale-1 dataset tiled 100 times
(about 26M prescriptions, 2M a week: data/bench/national-100-weeks-13), --data any folder of the contract's tables. Its
store (DIR.duckdb, made by `dtsj_analysis.load.ingest` when missing) is what DuckDB reads; `export_parquet` writes it
as Parquet partitioned by week (DIR-parquet, made once per content), which is what Spark reads. --store FILE reads a
store made before instead (its export goes to --parquet, by default data/bench/<store name>-parquet).

For the week (the last whole week of the data unless --week), each round opens the dataset afresh (no temporary table
or cached join carried over) and runs every detector of --kinds once, in registry order, timing each: --runs rounds
on DuckDB, then --spark-runs on Spark at --master (local[2] by default: two cores of this machine). It prints the
median seconds per detector on each engine, Spark's first round apart (the JVM warms up in it), the time to start the
Spark session, to export and to make the store, the peak memory of this process and of Spark's JVM, and whether
every detector's findings on Spark equal DuckDB's row for row (entity, region, district; score and amount exactly, or
within a relative 1e-12 where sums are added in another order). Exit 1 if any differ or fail.

--time-limit S bounds each engine's rounds: when an engine has run S seconds, its running queries are cancelled (DuckDB's
interrupt, Spark's cancelAllJobs) and the figures say "did not finish in S s" with the detectors it finished.
"""
import argparse, re, statistics, sys, threading, time, warnings
from pathlib import Path
import numpy as np
import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from detect import BENCH, generated, tiled, last_week, peak_gb  # the same datasets (and memory figure) as the detection benchmark
from dtsj_analysis.engine import Period, detector_ids, resolve, run_detector
from dtsj_analysis.load import Dataset, ingest
from dtsj_analysis.spark import export_parquet, exported_report, spark_session, SparkDataset

KEY = ["entity_type", "entity_id", "region", "district"]


def du_gb(path: Path) -> float:
    "Size on disk of `path` (a file or a folder) in GB."
    return sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()) / 1e9

def store_of(src: Path) -> tuple[Path, float]:
    "The store of folder `src` (made once by ingest, as `detect.py` makes it) and the seconds it took (0 when it existed)."
    store = src.with_name(src.name + ".duckdb")
    if store.exists(): return store, 0.0
    t = time.perf_counter(); res = ingest(src, store)
    if res.report.errors: raise SystemExit(f"{src} has errors:\n{res.report}")
    return store, time.perf_counter() - t

def export_of(store: Path, dest: Path) -> tuple[Path, float]:
    "The Parquet export of `store` in `dest` (made again only when the store's content changed) and the seconds it took."
    with _Open(store) as ds: fp = ds.fingerprint()
    if exported_report(dest)[0].get("fingerprint") == fp and fp: return dest, 0.0
    t = time.perf_counter(); export_parquet(store, dest)
    return dest, time.perf_counter() - t

class _Open:
    "`Dataset.open(store)` as a context manager."
    def __init__(self, store): self.store = store
    def __enter__(self): self.ds = Dataset.open(self.store); return self.ds
    def __exit__(self, *a): self.ds.close()

class Limit:
    "A time limit of `seconds` for one engine: `cancel()` is called once when it passes; `.over` says whether it did."
    def __init__(self, seconds, cancel):
        self.over, self.seconds = threading.Event(), seconds
        self.timer = threading.Timer(seconds, lambda: (self.over.set(), cancel())) if seconds else None
        if self.timer: self.timer.daemon = True; self.timer.start()
    def stop(self):
        if self.timer: self.timer.cancel()

def one_round(ds, detectors, period, limit: Limit | None = None) -> tuple[dict, dict]:
    "Every detector of `detectors` once on `ds` (until `limit` passes): seconds and findings (or the error) per detector id."
    secs, found = {}, {}
    for d in detectors:
        if limit and limit.over.is_set(): break
        t = time.perf_counter()
        try: found[d.id] = run_detector(ds, d, period)
        except Exception as e: found[d.id] = e
        if limit and limit.over.is_set(): break          # cancelled midway: not a figure
        secs[d.id] = time.perf_counter() - t
    return secs, found

def compare(got, ref) -> str:
    "'exact', 'within 1e-12', or how `got` (Spark's findings of one detector) differs from `ref` (DuckDB's)."
    if isinstance(got, Exception): return f"fails: {type(got).__name__}: {str(got).strip().splitlines()[0][:90]}"
    if len(got) != len(ref): return f"DIFFERENT: {len(got)} rows, DuckDB {len(ref)}"
    if got[KEY].astype("str").values.tolist() != ref[KEY].astype("str").values.tolist(): return "DIFFERENT entities or places"
    a, b = got[["score", "amount_at_risk"]].to_numpy("float64"), ref[["score", "amount_at_risk"]].to_numpy("float64")
    if np.array_equal(a, b, equal_nan=True): return "exact"
    return "within 1e-12" if np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True) else "DIFFERENT scores or amounts"

def jvm_peak_gb(spark) -> float:
    "Peak resident memory of Spark's JVM (the driver, which runs the executors in local mode), in GB; NaN if unknown."
    try:
        pid = spark.sparkContext._gateway.proc.pid
        hwm = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        return int(hwm[1]) * 1024 / 1e9
    except Exception: return float("nan")

def median_of(rounds: list, det: str) -> float:
    vals = [r[det] for r in rounds if det in r]
    return statistics.median(vals) if vals else float("nan")

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=None, help="the demo generator's dataset at this scale (4: about 1M prescriptions)")
    ap.add_argument("--national", type=int, default=0, help="the scale-1 dataset tiled this many times (100: the national size)")
    ap.add_argument("--data", type=Path, help="any folder of the contract's tables")
    ap.add_argument("--store", type=Path, help="a store made before (instead of --scale, --national or --data)")
    ap.add_argument("--parquet", type=Path, help="where the store's export is (made when missing or out of date)")
    ap.add_argument("--time-limit", type=float, default=0, help="seconds each engine may run (0: no limit)")
    ap.add_argument("--weeks", type=int, default=13); ap.add_argument("--week", help="Monday of the week timed (default: the last whole week)")
    ap.add_argument("--runs", type=int, default=3); ap.add_argument("--spark-runs", type=int, default=2)
    ap.add_argument("--master", default="local[2]"); ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--shuffle-partitions", type=int, default=None, help="Spark's spark.sql.shuffle.partitions (default 4 x cores)")
    ap.add_argument("--kinds", default="rule,behaviour", help="the kinds of detector run (rule, behaviour, outlier)")
    ap.add_argument("--no-spark", action="store_true")
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    if a.store: src, store, ingest_s = a.store.with_suffix(""), a.store, 0.0
    else:
        src = a.data or (tiled(a.national, a.weeks) if a.national else generated(a.scale or 4.0, a.weeks))
        store, ingest_s = store_of(src)
    with _Open(store) as ds:
        period = Period.week(a.week) if a.week else last_week(ds.con)
        n_rx = ds.con.execute("SELECT count(*) FROM prescriptions").fetchall()[0][0]
        n_disp = ds.con.execute("SELECT count(*) FROM dispensings").fetchall()[0][0]
    print(f"== {src}: {n_rx:,} prescriptions, {n_disp:,} dispensings of history; week {period}; store {store} "
          f"({du_gb(store):.2f} GB{f', made in {ingest_s:.1f} s' if ingest_s else ''})", flush=True)
    detectors = [d for k in a.kinds.split(",") for d in resolve(detector_ids(k.strip()))]

    duck, ref, t0 = [], None, time.perf_counter()
    ds = Dataset.open(store); limit = Limit(a.time_limit, lambda: ds.con.interrupt())
    for _ in range(a.runs):
        secs, found = one_round(ds, detectors, period, limit)
        if limit.over.is_set(): break
        duck.append(secs); ref = ref or found; ds.close(); ds = Dataset.open(store)   # the next round from a fresh connection
        print(f"  DuckDB round: {sum(secs.values()):.2f} s", flush=True)
    limit.stop(); ds.close()
    if not duck:
        print(f"  DuckDB did not finish one round in {a.time_limit:.0f} s ({len(secs)} of {len(detectors)} detectors done: "
              f"{sum(secs.values()):.1f} s)", flush=True)
        return 1
    failed = [k for k, v in ref.items() if isinstance(v, Exception)]
    if failed: raise SystemExit(f"detectors fail on DuckDB: {', '.join(failed)}: {ref[failed[0]]}")
    duck_peak = peak_gb()

    spark_rounds, equal, start_s, export_s, jvm, unfinished = [], {}, float("nan"), 0.0, float("nan"), ""
    if not a.no_spark:
        parquet, export_s = export_of(store, a.parquet or Path("data/bench") / f"{src.name}-parquet")
        print(f"  export {parquet}: {du_gb(parquet):.2f} GB{f', written in {export_s:.1f} s' if export_s else ' (made before)'}", flush=True)
        t = time.perf_counter()
        spark = spark_session(a.master, a.shuffle_partitions, spark_driver_memory=a.driver_memory)
        start_s = time.perf_counter() - t
        limit = Limit(a.time_limit, lambda: spark.sparkContext.cancelAllJobs())
        try:
            for i in range(a.spark_runs):
                sds = SparkDataset(spark, parquet)
                secs, found = one_round(sds, detectors, period, limit)
                if limit.over.is_set():
                    done = {k: v for k, v in secs.items()}
                    unfinished = (f"Spark {a.master} did not finish {'its first round' if not spark_rounds else f'round {i + 1}'} in "
                                  f"{a.time_limit:.0f} s: {len(done)} of {len(detectors)} detectors done in {sum(done.values()):.1f} s"
                                  + (f" ({', '.join(f'{k} {v:.1f} s' for k, v in done.items())})" if done else ""))
                    print(f"  {unfinished}", flush=True)
                    if not spark_rounds and done: spark_rounds.append(done); equal = {k: compare(found[k], ref[k]) for k in done}
                    break
                sds.close(); spark_rounds.append(secs)
                if i == 0: equal = {d.id: compare(found[d.id], ref[d.id]) for d in detectors}
                print(f"  Spark round: {sum(secs.values()):.2f} s", flush=True)
            jvm = jvm_peak_gb(spark)
        finally: limit.stop(); spark.stop()

    first, later = spark_rounds[:1], spark_rounds[1:] or spark_rounds[:1]
    rows = [{"detector": d.id, "findings": len(ref[d.id]), "duckdb s": median_of(duck, d.id),
             "spark s": median_of(later, d.id), "spark 1st s": median_of(first, d.id), "equal": equal.get(d.id, "-")} for d in detectors]
    t = pd.DataFrame(rows)
    t["spark / duckdb"] = t["spark s"] / t["duckdb s"]
    total = {c: t[c].sum() for c in ("duckdb s", "spark s", "spark 1st s")}
    print(f"\nmedian seconds per detector: {a.runs} round(s) on DuckDB; on Spark {a.master} the median of rounds 2-{a.spark_runs}"
          f" ('spark 1st s': the first round)")
    with pd.option_context("display.width", 200, "display.max_colwidth", 70):
        print(t.round({"duckdb s": 3, "spark s": 2, "spark 1st s": 2, "spark / duckdb": 1}).to_string(index=False))
    spark_part = "" if a.no_spark else f"; {unfinished}" if unfinished else (
        f"; Spark {a.master} {total['spark s']:.1f} s (first round {total['spark 1st s']:.1f} s; session start {start_s:.1f} s; "
        f"JVM peak {jvm:.2f} GB; driver memory {a.driver_memory})")
    print(f"\n{src.name}: {n_rx:,} prescriptions of history, week {period}, {len(detectors)} detectors: DuckDB "
          f"{total['duckdb s']:.1f} s (peak {duck_peak:.2f} GB){spark_part}", flush=True)
    if not a.no_spark:
        bad = {k: v for k, v in equal.items() if v not in ("exact", "within 1e-12")}
        if unfinished: print(f"(of the {len(equal)} detectors Spark finished)")
        print("every detector's findings on Spark equal DuckDB's row for row: " + ("yes" if not bad else f"no: {bad}"))
        return 1 if bad else 0
    return 0

if __name__ == "__main__": sys.exit(main())

"""Each detector declares the contract tables it reads (`reads`), so that a table that cannot be used stops only the detectors
that read it: the declaration is what each detector, run alone on a fresh dataset, asks the store for (placing its findings included)."""
import sqlglot
from sqlglot import exp
import pytest
from dtsj_analysis.engine import Period, resolve, run_detector
from dtsj_analysis.load import Dataset, ingest
from dtsj_analysis.schema import TABLES

class Recording:
    "A dataset that records the queries run on it."
    def __init__(self, ds): self.ds, self.queries = ds, []
    def sql(self, query, **params): self.queries.append(query); return self.ds.sql(query, **params)
    def __getattr__(self, name): return getattr(self.ds, name)

@pytest.fixture(scope="module")
def store(demo_dir, tmp_path_factory):
    "The demo's own store (the cache's may be pruned by other tests)."
    s = tmp_path_factory.mktemp("reads") / "demo.duckdb"; ingest(demo_dir, s); return s

@pytest.mark.parametrize("det", [d.id for d in resolve()])
def test_reads_what_it_declares(store, det):
    d, ds = resolve([det])[0], Dataset.open(store)
    try:
        rec = Recording(ds); run_detector(rec, d, Period.week("2025-04-21"), "en", **d.params)
    finally: ds.close()
    read = {t.name for q in rec.queries for t in sqlglot.parse_one(q, read="duckdb").find_all(exp.Table)} & set(TABLES)
    assert read and tuple(sorted(read)) == d.reads

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


# The week model's tables declare theirs too (`@model_table(reads=..., uses=...)`): a table that cannot be used is then not read
# from an older copy in the store. `history` and `dismissed_earlier` read the verdicts through the week's inputs (`with_history`).
THROUGH_INPUTS = {"history": {"verdicts"}, "dismissed_earlier": {"verdicts"}}

@pytest.fixture(scope="module")
def week_inputs(store):
    from dtsj_analysis import weekly as W
    ds, p = Dataset.open(store), Period.week("2025-04-21")
    try: return W.with_history(ds, W.WeekInputs(p, 8, W.week_findings(ds, p), W.previous_findings(ds, p)))
    finally: ds.close()

def _model_names():
    from dtsj_analysis.weekly import MODEL
    return list(MODEL)

@pytest.mark.parametrize("name", _model_names())
def test_model_table_reads_what_it_declares(store, week_inputs, name):
    from dtsj_analysis.weekly import MODEL
    fn, ds = MODEL[name], Dataset.open(store)
    try:
        rec = Recording(ds); fn(rec, week_inputs)
    finally: ds.close()
    read = {t.name for q in rec.queries for t in sqlglot.parse_one(q, read="duckdb").find_all(exp.Table)} & set(TABLES)
    assert read | THROUGH_INPUTS.get(name, set()) == set(fn.reads) | set(fn.uses)

"""Columns beyond the contract's are allowed and kept (data contract, first paragraph): a source whose every table also carries
every other table's column names, and every name a detector's SQL gives a computed column, gives the same findings, row for
row, as the same source without them, and the extras reach the analyst's frames. A name may start with `_`; only the names the store
gives its own columns (`_row`, `_src`, a parsed column's helpers) are left out, each with a warning."""
import re, warnings
from pathlib import Path
import pandas as pd
from dtsj_analysis import rules, behaviour, monitoring, outliers, load, schema, sources, weekly
from dtsj_analysis.schema import TABLES
from dtsj_analysis.load import load_dataset, save_dataset
from dtsj_analysis.cli import main

WEEK = ["--start", "2025-04-21", "--end", "2025-04-28"]

def computed_names() -> set:
    "Every name the SQL of ingest, the detectors and the week model gives with AS (a column, a table expression): read from their modules' source."
    text = "\n".join(Path(m.__file__).read_text(encoding="utf-8") for m in (rules, behaviour, monitoring, outliers, load, schema, sources, weekly))
    return {n.lower() for n in re.findall(r"\bAS\s+([a-z_][a-z0-9_]*)\b", text, flags=re.I)} - {"varchar", "double", "date", "timestamp", "bigint", "integer", "boolean"}

def with_extras(tables: dict) -> dict:
    "Each table with, as text '40', every contract column of the other tables, every computed name and a helper's name it does not have."
    names = {c.name for t in TABLES.values() for c in t.cols} | computed_names() | {"_note", "quantity__v"}
    def widen(df):
        extra = sorted(names - set(df.columns))
        return pd.concat([df, pd.DataFrame("40", index=df.index, columns=extra)], axis=1)
    return {n: widen(df) for n, df in tables.items()}

def test_extra_columns_change_no_finding(demo, tmp_path):
    plain, extra = tmp_path / "plain", tmp_path / "extra"
    tables = {n: df.astype(str).replace({"nan": "", "NaT": "", "None": "", "<NA>": ""}) for n, df in demo.tables.items()}
    save_dataset(tables, plain, "csv"); save_dataset(with_extras(tables), extra, "csv")
    assert len(computed_names()) > 50 and {"age", "drug_code", "reimbursed"} <= set(pd.read_csv(extra / "prescriptions.csv", nrows=1).columns)
    out = {d.name: tmp_path / f"{d.name}.csv" for d in (plain, extra)}
    for d in (plain, extra): assert main(["detect", "--data", str(d), *WEEK, "--out", str(out[d.name])]) == 0
    a, b = (pd.read_csv(out[k], dtype=str, keep_default_na=False) for k in ("plain", "extra"))
    assert len(a) > 100 and a.detector.nunique() > 10
    pd.testing.assert_frame_equal(b, a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); ds = load_dataset(extra, strict=False)
    assert "drug_code" in ds.prescriptions.columns and ds.prescriptions.drug_code.eq("40").all()
    assert ds.prescriptions._note.eq("40").all() and "_r" in ds.prescriptions.columns       # an extra column may start with _
    left = {(i.table, i.column) for i in ds.report.warnings if "column left out" in i.rule}
    assert {("prescriptions", n) for n in ("_row", "_src", "_row_", "quantity__v")} <= left and not any(c == "_note" for _, c in left)
    assert set(ds.extended) == set(ds.tables)

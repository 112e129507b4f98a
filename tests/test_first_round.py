"""The rule and behaviour detectors find, row for row, what the first-round code found on a saved dataset.

`tests/data/first-round/` is a demo dataset (seed 7, three regions, eight weeks, scale 0.4) and
`tests/data/first-round-findings.parquet` the findings the first-round code (commit ae1aa8d, pandas frames in memory)
returned for its last four weeks. Any change of engine or storage must leave them as they were."""
import re, warnings
from pathlib import Path
import pandas as pd
import pytest
from dtsj_analysis.load import load_dataset
from dtsj_analysis.engine import run_detectors, detector_ids

DATA = Path(__file__).parent / "data"
KEY = ["detector", "period_start", "entity_type", "entity_id", "region"]

@pytest.fixture(scope="module")
def saved():
    f = pd.read_parquet(DATA / "first-round-findings.parquet")
    return f[f.detector.isin(detector_ids("rule") + detector_ids("behaviour"))]

@pytest.fixture(scope="module")
def now(saved):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); ds = load_dataset(DATA / "first-round")
    weeks = pd.date_range("2025-03-31", "2025-04-21", freq="7D")
    f = pd.concat([run_detectors(ds, w, w + pd.Timedelta(days=7), detectors=sorted(set(saved.detector))) for w in weeks], ignore_index=True)
    return f

def test_same_findings_row_for_row(saved, now):
    a, b = (f.sort_values(KEY, ignore_index=True)[saved.columns.tolist()] for f in (saved, now))
    assert len(a) > 50 and set(a.detector) == set(b.detector)
    pd.testing.assert_frame_equal(a[KEY + ["district", "period_end"]].astype(str), b[KEY + ["district", "period_end"]].astype(str))
    pd.testing.assert_series_equal(a.score, b.score, rtol=1e-12)
    pd.testing.assert_series_equal(a.amount_at_risk, b.amount_at_risk, rtol=1e-9)
    # numbers in explanations now follow the language's style (CLDR): "177 291 UZS" became "177,291 UZS" in English
    same_numbers = lambda s: s.map(lambda x: re.sub(r"(?<=\d)[ ,\u00a0](?=\d{3}\b)", "", x))
    pd.testing.assert_series_equal(same_numbers(a.explanation), same_numbers(b.explanation))

"""End to end: the rule and behaviour detectors find exactly the generator's planted anomalies (contract semantics),
and the demo's report week has every part of the weekly report filled."""
import re, subprocess, sys
from pathlib import Path
import pandas as pd
from dtsj_analysis.engine import run_detectors

ROOT = Path(__file__).parents[1]
WEEK = pd.Timestamp("2025-04-21"), pd.Timestamp("2025-04-28")

def test_rule_detectors_precision_and_recall_are_one(demo_dir):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--data", str(demo_dir)],
                       capture_output=True, text=True)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    for det in ("reserve_stock_rx", "doctor_shopping", "defectura", "prescribing_gap"): assert det in r.stdout

def in_week(s: pd.Series) -> pd.Series: return (s >= WEEK[0]) & (s < WEEK[1])

def test_every_region_has_defectura_and_a_silent_facility(demo):
    f = run_detectors(demo, *WEEK, detectors="defectura,prescribing_gap")
    regions = set(demo.facilities.region)
    for det in ("defectura", "prescribing_gap"): assert set(f.region[f.detector == det]) == regions, det

def test_one_region_is_silent_on_monday(demo):
    rx = demo.prescriptions
    monday = rx.facility_id[rx.issued_at.dt.normalize() == WEEK[0]].map(demo.facilities.set_index("facility_id").region)
    assert len(set(demo.facilities.region) - set(monday)) == 1

def test_every_region_has_contracts_starting_ending_and_not_ready(demo):
    c = demo.contracts.merge(demo.pharmacies[["pharmacy_id", "region"]], on="pharmacy_id")
    regions = set(demo.facilities.region)
    assert set(c.region[in_week(c.start_date)]) == regions
    assert set(c.region[in_week(c.end_date)]) == regions
    assert set(c.region[~c.pharmacy_id.isin(demo.dispensings.pharmacy_id)]) == regions

def test_every_region_reports_activities_in_all_four_sections(demo):
    a = demo.activities
    week = a[in_week(a.held_on)]
    for region in set(demo.facilities.region): assert set(week.section[week.region == region]) == {"I", "II", "III", "IV"}, region
    latin = [w for t in week.text for w in t.split() if re.search("[A-Za-z]", w) and not re.search(r"\d", w)]
    assert latin == []   # the division's words, in Uzbek Cyrillic (codes such as C09CA01 aside)

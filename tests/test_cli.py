"""`dtsj` on the command line: detect as the data contract writes it, subsets, formats, and refusals."""
import subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from dtsj_analysis.engine import FINDINGS_COLUMNS, run_detectors, detector_ids
from dtsj_analysis.cli import main

DTSJ = str(Path(sys.executable).parent / "dtsj")
WEEK = ["--start", "2025-04-21", "--end", "2025-04-28"]

def dtsj(*args):
    return subprocess.run([DTSJ, *map(str, args)], capture_output=True, text=True)

def test_detect_csv_has_the_contract_columns(demo_dir, demo, tmp_path):
    out = tmp_path / "findings.csv"
    r = dtsj("detect", "--data", demo_dir, *WEEK, "--region", "navoi", "--out", out)
    assert r.returncode == 0, r.stderr
    f = pd.read_csv(out, dtype=str)
    assert list(f.columns[:len(FINDINGS_COLUMNS)]) == FINDINGS_COLUMNS
    assert len(f) and set(f.region) == {"navoi"}
    assert set(f.detector) <= set(detector_ids())
    expected = run_detectors(demo, "2025-04-21", "2025-04-28", region="navoi")
    assert len(f) == len(expected)
    assert list(f.entity_id) == list(expected.entity_id)

def test_detect_parquet_subset(demo_dir, tmp_path):
    out = tmp_path / "f.parquet"
    r = dtsj("detect", "--data", demo_dir, *WEEK, "--detectors", "after_death,dispense_out_of_window", "--out", out)
    assert r.returncode == 0, r.stderr
    f = pd.read_parquet(out)
    assert set(f.detector) == {"after_death", "dispense_out_of_window"}
    assert f.period_start.astype(str).str[:10].eq("2025-04-21").all()

def test_detect_is_deterministic(demo_dir, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["detect", "--data", str(demo_dir), *WEEK, "--out", str(a)]) == 0
    assert main(["detect", "--data", str(demo_dir), *WEEK, "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()

@pytest.mark.parametrize("args, message", [
    (["--start", "21.04.2025", "--end", "2025-04-28"], "is not a date like 2025-04-21"),
    ([*WEEK, "--region", "navoiy"], "unknown region 'navoiy'"),
    ([*WEEK, "--detectors", "reserve_stock,inactive_outlet"], "reserve_stock"),
])
def test_detect_refuses_bad_arguments(demo_dir, tmp_path, args, message):
    r = dtsj("detect", "--data", demo_dir, *args, "--out", tmp_path / "f.csv")
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "f.csv").exists()

def test_detect_refuses_other_output_formats(demo_dir, tmp_path):
    r = dtsj("detect", "--data", demo_dir, *WEEK, "--out", tmp_path / "f.json")
    assert r.returncode == 2 and ".csv or .parquet" in r.stderr

def test_detect_missing_source(tmp_path):
    r = dtsj("detect", "--data", tmp_path / "nowhere", *WEEK, "--out", tmp_path / "f.csv")
    assert r.returncode == 2 and "nowhere" in r.stderr and "Traceback" not in r.stderr

def test_validate_demo_passes(demo_dir):
    r = dtsj("validate", "--data", demo_dir)
    assert r.returncode == 0, r.stdout
    assert "prescriptions" in r.stdout

def test_demo_data_command(tmp_path):
    r = dtsj("demo-data", "--out", tmp_path / "d", "--regions", "navoi", "--weeks", "6", "--scale", "0.1", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "d" / "prescriptions.csv").exists() and (tmp_path / "d" / "labels.csv").exists()

def test_a_failing_detector_leaves_the_others_findings(demo_dir, tmp_path, monkeypatch, capsys):
    "One detector that fails (a bug, or data shaped as nothing foresaw) does not take the others' findings with it."
    from dtsj_analysis.engine import DETECTORS, resolve
    resolve()
    def boom(ds, period, **params): raise ZeroDivisionError("row 7 of 00012345678901")
    import dataclasses
    monkeypatch.setitem(DETECTORS, "drug_mismatch", dataclasses.replace(DETECTORS["drug_mismatch"], fn=boom))
    out = tmp_path / "f.csv"
    assert main(["detect", "--data", str(demo_dir), *WEEK, "--detectors", "drug_mismatch,after_death,over_dispensed", "--out", str(out)]) == 1
    f, err = pd.read_csv(out, dtype=str), capsys.readouterr().err
    assert set(f.detector) == {"after_death", "over_dispensed"} and "drug_mismatch: ZeroDivisionError" in err and "00012345678901" not in err
    assert main(["detect", "--data", str(demo_dir), *WEEK, "--detectors", "drug_mismatch", "--out", str(tmp_path / "g.csv")]) == 2
    assert not (tmp_path / "g.csv").exists() and "every detector failed" in capsys.readouterr().err

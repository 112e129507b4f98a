"""End to end: the rule and behaviour detectors find exactly the generator's planted anomalies (contract semantics)."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).parents[1]

def test_rule_detectors_precision_and_recall_are_one(demo_dir):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--data", str(demo_dir)],
                       capture_output=True, text=True)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reserve_stock_rx" in r.stdout and "doctor_shopping" in r.stdout

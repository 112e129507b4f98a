"""The package works installed from a wheel: the report template ships inside it, and `dtsj report` runs from any folder."""
import subprocess, sys, sysconfig, venv
from pathlib import Path

ROOT = Path(__file__).parents[1]

def test_wheel_install_reports_from_another_folder(demo_dir, tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, ROOT], check=True)
    wheel = next(dist.glob("dtsj_analysis-*.whl"))
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    # the dependencies come from the project's environment (no network), the package itself only from the wheel
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([env / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], check=True)
    elsewhere = tmp_path / "elsewhere"; elsewhere.mkdir()
    where = subprocess.run([env / "bin" / "python", "-c", "import dtsj_analysis.publish as p; print(p.__file__, p.TEMPLATE.exists())"],
                           cwd=elsewhere, capture_output=True, text=True, check=True).stdout.split()
    assert where[0].startswith(str(site)) and where[1] == "True"
    r = subprocess.run([env / "bin" / "dtsj", "report", "--data", demo_dir, "--region", "navoi", "--week", "2025-04-21", "--out", "out", "--no-pdf"],
                       cwd=elsewhere, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (elsewhere / "out" / "site" / "2025-04-21" / "navoi.html").exists()

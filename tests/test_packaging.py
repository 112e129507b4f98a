"""The package works installed from a wheel: the report template ships inside it, and `dtsj report` runs from any folder."""
import os, shutil, subprocess, sys, sysconfig, venv
from pathlib import Path

ROOT = Path(__file__).parents[1]

def test_wheel_install_reports_from_another_folder(demo_dir, tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT], check=True)
    wheel = next(dist.glob("dtsj_analysis-*.whl"))
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    # the dependencies (and nbconvert's templates, a data file of theirs) come from the project's environment, to need no
    # network; the package only from the wheel, and the report's kernel runs the new environment's Python
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    shutil.copytree(Path(sysconfig.get_paths()["data"]) / "share" / "jupyter" / "nbconvert", env / "share" / "jupyter" / "nbconvert")
    subprocess.run([env / "bin" / "python", "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], check=True, capture_output=True)
    env_vars = {k: v for k, v in os.environ.items() if k != "JUPYTER_PATH"}
    subprocess.run([env / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], check=True)
    elsewhere = tmp_path / "elsewhere"; elsewhere.mkdir()
    where = subprocess.run([env / "bin" / "python", "-c", "import dtsj_analysis.publish as p; print(p.__file__, p.TEMPLATE.exists())"],
                           cwd=elsewhere, capture_output=True, text=True, check=True).stdout.split()
    assert where[0].startswith(str(site)) and where[1] == "True"
    r = subprocess.run([env / "bin" / "dtsj", "report", "--data", demo_dir, "--region", "navoi", "--week", "2025-04-21", "--out", "out", "--no-pdf"],
                       cwd=elsewhere, capture_output=True, text=True, env=env_vars)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (elsewhere / "out" / "site" / "2025-04-21" / "navoi.html").exists()

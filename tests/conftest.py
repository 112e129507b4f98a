import os, tempfile, warnings
import pytest
from dtsj_analysis.demo import write_demo
from dtsj_analysis.load import load_dataset

os.environ.setdefault("DTSJ_CACHE", tempfile.mkdtemp(prefix="dtsj-cache-"))   # the tests' cached stores stay out of ~/.cache

@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    "A small demo dataset (three regions, twelve weeks) written once per test session."
    return write_demo(tmp_path_factory.mktemp("demo") / "demo", seed=7, regions="navoi,samarkand,syrdarya")

@pytest.fixture(scope="session")
def demo(demo_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(demo_dir)

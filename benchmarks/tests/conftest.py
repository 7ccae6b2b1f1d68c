"""The bench's tests run on the product tests' fixtures (one Spark session, the prepared splits).

Both folders' ``conftest.py`` are imported as ``conftest``, whichever pytest loaded last: this one
carries the other's names, so ``from conftest import ...`` means the same in both folders.
"""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("reviewcat_tests_conftest",
                                               Path(__file__).resolve().parents[2] / "tests" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
globals().update({name: value for name, value in vars(_fixtures).items() if not name.startswith("__")})

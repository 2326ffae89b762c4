"""`assay validate` stays light: it never imports scipy.stats (about 1.8 s of the 2.9 s
validate took) or matplotlib; benchmarks/bench_startup.py measures the time itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from assay.cli import app
sys.argv = ["assay", "validate", "--offline", "--project", sys.argv[1]]
try:
    app()
except SystemExit:
    pass
print(sorted(m for m in ("scipy.stats", "matplotlib", "statsmodels") if m in sys.modules))
"""


def test_validate_imports_no_statistics_library(tmp_path: Path) -> None:
    from assay.spec.scaffold import scaffold

    scaffold(tmp_path / "p")
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "p")],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_bucket_independence_matches_scipy() -> None:
    import numpy as np
    from scipy import stats

    from assay.assign.hygiene import bucket_independence

    rng = np.random.default_rng(7)
    first = rng.integers(0, 10, 4000)
    for second in (rng.integers(0, 10, 4000), (first + rng.integers(0, 3, 4000)) % 10):
        table = np.zeros((10, 10))
        np.add.at(table, (first, second), 1)
        chi2, p_value, df, _ = stats.chi2_contingency(table, correction=False)
        assert np.allclose(bucket_independence(first, second), (chi2, p_value, df),
                           rtol=1e-12, atol=1e-300)


WAREHOUSE_PROBE = """
import sys
from assay.cli import app
sys.argv = ["assay", "validate", "--project", sys.argv[1]]
try:
    app()
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print(sorted(m for m in ("pandas", "scipy", "matplotlib", "statsmodels") if m in sys.modules))
"""


def test_validate_with_the_warehouse_imports_no_pandas_or_scipy(shop_project: Path) -> None:
    out = subprocess.run([sys.executable, "-c", WAREHOUSE_PROBE, str(shop_project)],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_chi2_sf_matches_scipy() -> None:
    import numpy as np
    from scipy.special import chdtrc

    from assay.assign.hygiene import chi2_sf

    for df in [*range(1, 120), 333, 1000]:
        for x in [*np.geomspace(1e-6, 2500, 60), df - 0.5, df, df + 7.25]:
            expected = float(chdtrc(df, x))
            assert np.isclose(chi2_sf(df, float(x)), expected, rtol=2e-12, atol=1e-290), (df, x)
    assert chi2_sf(3, 0.0) == 1.0 and chi2_sf(3, float("inf")) == 0.0


def test_help_imports_no_numerical_library() -> None:
    probe = ("import sys\nfrom assay.cli import app\nsys.argv = ['assay', '--help']\n"
             "try:\n    app()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('numpy', 'pyarrow', 'sqlglot', 'pandas') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out

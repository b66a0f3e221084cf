"""Workers that hold what their work needs: freed arrays given back, pandas left out of the probe workers."""

import os
import platform
import subprocess
import sys
import textwrap

import pytest


def _python(code: str, **env) -> list[str]:
    """The lines ``code`` prints in a fresh interpreter (a clean sys.modules)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return out.stdout.split()


def test_sklearn_is_imported_without_pandas_which_still_imports_afterwards():
    assert _python("""
        import sys
        from evaluate.lean import import_without
        print(import_without("sklearn.linear_model", ("pandas", "pyarrow")), "pandas" in sys.modules)
        import numpy as np
        from sklearn.linear_model import LogisticRegression  # fits as usual without pandas
        x, y = np.arange(8.0)[:, None], np.arange(8) >= 4
        print(LogisticRegression().fit(x, y).predict([[0.0], [7.0]]).tolist() == [False, True])
        import pandas  # refused only while sklearn was imported
        print("pandas" in sys.modules)
    """) == ["True", "False", "True", "True"]


def test_a_module_that_needs_a_refused_package_is_imported_with_it(tmp_path):
    (tmp_path / "needs_json").mkdir()
    (tmp_path / "needs_json" / "__init__.py").write_text("import json\nVALUE = json.dumps(1)\n")
    assert _python("""
        import sys
        sys.modules.pop("json", None)
        from evaluate.lean import import_without
        print(import_without("needs_json", ("json",)), sys.modules["needs_json"].VALUE)
    """, PYTHONPATH=str(tmp_path)) == ["False", "1"]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_freed_arrays_go_back_to_the_system_with_a_fixed_mmap_threshold():
    """After a 24 MiB array is freed, glibc's dynamic threshold serves the next ones from the heap, which keeps
    them; with the threshold fixed, a freed array leaves the resident set."""
    code = """
        import numpy as np
        from evaluate.lean import return_freed_memory
        if {fixed}:
            assert return_freed_memory()
        def rss():
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
        big = np.ones(3 << 20)  # 24 MiB, freed: the dynamic threshold rises past 4 MiB
        del big
        parts = [np.ones(1 << 19) for _ in range(8)]  # 8 × 4 MiB, then all freed but the last
        before = rss()
        del parts[:-1]
        print(before - rss())
    """
    given_back = int(_python(code.format(fixed=True))[0])
    kept = int(_python(code.format(fixed=False))[0])
    assert given_back >= 24 > kept

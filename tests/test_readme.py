"""The README's example runs as written and computes what its comment says."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_gives_xtwx():
    [code] = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    X, beta = namespace["X"], namespace["mle"].point["beta"]
    p = 1 / (1 + np.exp(-X @ beta))
    np.testing.assert_allclose(
        namespace["info"].values, X.T @ (X * (p * (1 - p))[:, None]), rtol=1e-8
    )
    assert list(namespace["info"].param_i.values) == ["beta[age]", "beta[dose]"]
    table = namespace["result"].table
    np.testing.assert_allclose(
        table["se"], np.sqrt(np.diag(np.linalg.inv(namespace["info"].values))), rtol=1e-10
    )
    np.testing.assert_allclose(table["estimate"], beta, rtol=1e-12)

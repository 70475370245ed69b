"""The quality targets on the gold set (../shared/gold), as the benchmark measures them.

The benchmark (`benchmarks/quality.py`) is the measurement; this test keeps its targets from
regressing: NER F1 >= 0.65, B-cubed F1 >= 0.89, at least 3,380 gold-linked mentions found.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, shared_path


@pytest.mark.timeout(600)
def test_gold_targets_hold():
    shared = shared_path("gold", "aida", "testa.jsonl").parents[2]
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "quality.py"), "--shared", str(shared),
                             "--check"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    for target in ("target NER F1 >= 0.65:", "target B-cubed F1 >= 0.89:", "target linked mentions found >= 3380:"):
        line = next(line for line in result.stdout.splitlines() if line.startswith(target))
        assert line.endswith(" ok"), line

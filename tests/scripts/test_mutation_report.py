"""The mutation report: statuses read from mutmut's listing, equivalents left out of the rate, survivors not yet
reviewed named, the plot drawn."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import mutation_report as report  # noqa: E402

LISTING = """
    functions.deadline.x_cap__mutmut_1: killed
    functions.deadline.x_cap__mutmut_2: survived
    functions.deadline.x_cap__mutmut_3: survived
    functions.lease.xǁRenewerǁtick__mutmut_1: timeout
    functions.lease.xǁRenewerǁtick__mutmut_2: no tests
"""


def test_rates_leave_the_reviewed_equivalents_out(tmp_path, capsys):
    results = report.parse(LISTING)
    assert results["functions.lease.xǁRenewerǁtick__mutmut_2"] == "no tests"
    summary = report.summarize(results, {"functions.deadline.x_cap__mutmut_3": "same value either way"})
    assert summary["functions.deadline"] == {"killed": 1, "survived": 1, "equivalent": 1}
    assert report.kill_rate(summary["functions.deadline"]) == 0.5
    assert summary["functions.lease"] == {"killed": 1, "no tests": 1}  # a hang is a noticed mutant
    assert report.kill_rate(summary["functions.lease"]) == 0.5  # untested code counts against the rate
    listing = tmp_path / "results.txt"
    listing.write_text(LISTING)
    sys.argv = ["mutation_report.py", "--results", str(listing), "--png", str(tmp_path / "m.png")]
    report.main()
    out = capsys.readouterr().out
    assert "functions.deadline.x_cap__mutmut_2" in out and (tmp_path / "m.png").stat().st_size > 1000

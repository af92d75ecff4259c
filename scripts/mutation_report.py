#!/usr/bin/env python
"""The mutation run's numbers (after `mutmut run`, as `make mutate` does): mutants, killed and survivors per
module, the kill rate (mutants recorded as equivalent in tests/mutation_equivalent.txt left out of the total),
the survivors nobody has reviewed yet, and a bar chart (artifacts/mutation.png).

    python scripts/mutation_report.py [--results FILE] [--png artifacts/mutation.png]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EQUIVALENT = REPO / "tests" / "mutation_equivalent.txt"
KILLED = {"killed", "timeout", "segfault"}  # the tests noticed the mutant (a hang or a crash counts)
LINE = re.compile(r"^\s*(?P<name>[\w.ǁ]+__mutmut_\d+): (?P<status>.+?)\s*$")


def parse(text: str) -> dict[str, str]:
    """mutant name -> status, from `mutmut results --all true`."""
    return {m["name"]: m["status"] for line in text.splitlines() if (m := LINE.match(line))}


def module_of(name: str) -> str:
    """functions.deadline.x_cap__mutmut_3 -> functions.deadline (methods are spelled xǁClassǁmethod)."""
    return name.rsplit(".", 1)[0]


def equivalents(path: Path = EQUIVALENT) -> dict[str, str]:
    """Mutants reviewed as equivalent (the code means the same with them): name -> the reason."""
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("#")
            found[name.strip()] = reason.strip()
    return found


def summarize(results: dict[str, str], equivalent: dict[str, str]) -> dict[str, Counter]:
    by_module: dict[str, Counter] = defaultdict(Counter)
    for name, status in results.items():
        kind = "equivalent" if name in equivalent and status == "survived" else \
            "killed" if status in KILLED else status
        by_module[module_of(name)][kind] += 1
    return dict(sorted(by_module.items()))


def kill_rate(counts: Counter) -> float:
    judged = sum(counts.values()) - counts["equivalent"] - counts["not checked"]
    return counts["killed"] / judged if judged else 1.0


def draw(summary: dict[str, Counter], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    rates = [100 * kill_rate(summary[n]) for n in names]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(names) + 1.5))
    ax.barh(names, rates, color=["tab:green" if r >= 90 else "tab:orange" for r in rates])
    ax.axvline(90, color="gray", linestyle="--", label="target 90%")
    for i, n in enumerate(names):
        ax.text(min(rates[i], 88) + 1, i, f"{summary[n]['killed']}/{sum(summary[n].values())}", va="center")
    ax.set_xlim(0, 100)
    ax.set_xlabel("mutants killed by the fast tier (%)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, help="saved `mutmut results --all true` output (default: ask mutmut)")
    ap.add_argument("--png", type=Path, default=REPO / "artifacts" / "mutation.png")
    args = ap.parse_args()
    if args.results:
        text = args.results.read_text()
    else:
        mutmut = Path(sys.executable).parent / "mutmut"
        text = subprocess.run([str(mutmut), "results", "--all", "true"], capture_output=True, text=True,
                              cwd=REPO).stdout
    results, equivalent = parse(text), equivalents()
    summary = summarize(results, equivalent)
    total = Counter()
    print(f"{'module':40} {'mutants':>8} {'killed':>7} {'survived':>9} {'equiv.':>7} {'other':>6} {'rate':>6}")
    for module, counts in summary.items():
        total.update(counts)
        other = sum(counts.values()) - counts["killed"] - counts["survived"] - counts["equivalent"]
        print(f"{module:40} {sum(counts.values()):8} {counts['killed']:7} {counts['survived']:9} "
              f"{counts['equivalent']:7} {other:6} {100 * kill_rate(counts):5.0f}%")
    print(f"{'all':40} {sum(total.values()):8} {total['killed']:7} {total['survived']:9} {total['equivalent']:7} "
          f"{sum(total.values()) - total['killed'] - total['survived'] - total['equivalent']:6} "
          f"{100 * kill_rate(total):5.0f}%")
    unreviewed = sorted(n for n, s in results.items() if s == "survived" and n not in equivalent)
    if unreviewed:
        print(f"\n{len(unreviewed)} survivors not reviewed yet (`mutmut show NAME` shows one; kill it with a test or "
              f"list it in {EQUIVALENT.relative_to(REPO)} with the reason):")
        print("\n".join(f"  {n}" for n in unreviewed))
    if summary:
        draw(summary, args.png)
        print(f"\nplot: {args.png}")
    if total["killed"] + total["survived"] == 0:  # nothing was tested: the run itself failed (see mutmut's output)
        print("\nno mutant was tested: mutmut's run failed before checking any (its clean test run must pass first)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

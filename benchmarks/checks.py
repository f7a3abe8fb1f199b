"""Live checks for 2 LBs and 6 nodes against the lab: concurrent wall time vs the sum.

Prints, for a healthy lab and with one host unreachable (its link cut), the wall time of
`run_all` and the sum of every probe's own time (what running them one after another
would cost). Run as root from the repository: `.venv/bin/python -m benchmarks.checks`.
"""

from __future__ import annotations

import time

from harbor_wizard.checks import CheckOptions, run_all
from tests.lab import Lab, LabConfig
from tests.support.lab_answers import lab_answers, lab_secrets

TIMEOUT = 3.0


def measure(lab: Lab, label: str) -> None:
    answers = lab_answers(lab)
    start = time.monotonic()
    results = run_all(answers, lab_secrets(lab), lab.dir, CheckOptions(timeout=TIMEOUT))
    wall = time.monotonic() - start
    summed = sum(r.seconds for r in results)
    slowest = max(results, key=lambda r: r.seconds)
    errors = sum(r.failed for r in results)
    print(
        f"{label:<28} checks={len(results):3d} errors={errors:2d} wall={wall:6.2f}s "
        f"sum={summed:6.2f}s slowest={slowest.seconds:5.2f}s ({slowest.check} {slowest.target})"
    )


def main() -> None:
    with Lab.start(LabConfig(harbor_nodes=6, subnet="198.51.100.192/26")) as lab:
        measure(lab, "healthy, 2 LBs + 6 nodes")
        lab["harbor04"].cut_link()
        try:
            measure(lab, "harbor04 unreachable")
        finally:
            lab["harbor04"].restore_link()


if __name__ == "__main__":
    main()

"""Progress lines every N rows, with the rate."""

from __future__ import annotations

from oracle_meili.progress import ProgressReporter


def test_reports_every_n_rows_with_rate() -> None:
    now = [100.0]
    lines: list[str] = []
    report = ProgressReporter("products", lines.append, every_rows=1000, clock=lambda: now[0])
    for rows in (400, 800, 1200, 1600, 2600, 2700):
        now[0] += 1.0
        report(rows)
    assert lines == [
        "products: 1,200 rows read (400 rows/s)",
        "products: 2,600 rows read (520 rows/s)",
    ]


def test_check_and_reconcile_report_each_side() -> None:
    """Check and reconcile stream the index, then the source, and say how far."""
    lines: list[str] = []
    report = ProgressReporter.per_side("products", lines.append, every_rows=100)
    for count in (50, 100, 150):
        report("index", count)
    report("source", 120)
    assert [line.split(" rows read")[0] for line in lines] == [
        "products (index): 100",
        "products (source): 120",
    ]

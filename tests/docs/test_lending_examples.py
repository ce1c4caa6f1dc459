"""docs/lending.md stays true: every worked example's table is what lending.schedule computes.

How docs/lending.md writes an example (the convention this test parses): a heading
``### Example: …``, then a table ``| term | value |`` whose terms are the arguments of
``lending.schedule.Terms`` (dates ISO, amounts plain), then a table whose header starts
``| No. |`` with the columns below, one row per installment and a last ``**Total**`` row.
Amounts may carry thousands separators and ``**`` emphasis."""

import dataclasses
import datetime
import re
from decimal import Decimal
from pathlib import Path

from lending.schedule import Terms, build_schedule

DOC = Path(__file__).resolve().parents[2] / "docs" / "lending.md"
COLUMNS = ["No.", "Due date", "Principal", "Interest", "Installment", "Balance"]
_EXAMPLE = re.compile(r"^### Example: (.+)$", re.MULTILINE)
_FIELDS = {f.name: f for f in dataclasses.fields(Terms)}


def tables(text):
    """Each table in `text` as a list of rows of cell strings, without its separator line."""
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def parse_terms(rows):
    assert rows[0] == ["term", "value"]
    values = {}
    for name, value in rows[1:]:
        name = name.strip("`")
        kind = _FIELDS[name].type
        if kind is Decimal:
            values[name] = Decimal(value)
        elif kind is int:
            values[name] = int(value)
        elif "date" in name:
            values[name] = datetime.date.fromisoformat(value)
        else:
            values[name] = value
    return Terms(**values)


def amount(cell):
    return Decimal(cell.replace("**", "").replace(",", ""))


def examples(text):
    """(title, terms, schedule rows) for each worked example."""
    parts = _EXAMPLE.split(text)
    found = []
    for title, body in zip(parts[1::2], parts[2::2], strict=True):
        terms_table, schedule_table = tables(body)[:2]
        assert schedule_table[0] == COLUMNS, title
        found.append((title, parse_terms(terms_table), schedule_table[1:]))
    return found


def mismatches(terms, rows):
    """What the documented rows say that the module does not."""
    schedule = build_schedule(terms)
    *installments, total = rows
    computed = [
        [str(i.number), i.due_date.isoformat(), i.principal, i.interest, i.total, i.balance]
        for i in schedule.installments
    ]
    documented = [[row[0], row[1], *map(amount, row[2:])] for row in installments]
    wrong = [
        f"installment {doc[0]}: documented {doc[2:]}, computed {real[2:]}"
        for doc, real in zip(documented, computed, strict=False)
        if doc != real
    ]
    if len(documented) != len(computed):
        wrong.append(f"{len(documented)} installments documented, {len(computed)} computed")
    totals = [schedule.principal, schedule.total_interest, schedule.total_payable]
    if total[0] != "**Total**" or [amount(cell) for cell in total[2:5]] != totals:
        wrong.append(f"totals: documented {total[2:5]}, computed {totals}")
    return wrong


def test_every_worked_example_is_what_the_module_computes():
    found = examples(DOC.read_text())
    assert len(found) == 3
    assert found[0][0] == "10,000.00 at 12 % over 12 months, annuity, declining balance"
    assert {title: mismatches(terms, rows) for title, terms, rows in found} == {
        title: [] for title, *_ in found
    }


def test_a_figure_that_drifts_from_the_module_is_caught():
    text = DOC.read_text()
    drifted = text.replace("| 2027-03-15 | 796.37 | 92.12 |", "| 2027-03-15 | 796.37 | 92.13 |")
    _, terms, rows = examples(drifted)[0]
    assert mismatches(terms, rows) == [
        "installment 2: documented [Decimal('796.37'), Decimal('92.13'), Decimal('888.49'), "
        "Decimal('8415.14')], computed [Decimal('796.37'), Decimal('92.12'), Decimal('888.49'), "
        "Decimal('8415.14')]"
    ]
    _, terms, rows = examples(text.replace("**661.86**", "**661.85**"))[0]
    assert [m.split(":")[0] for m in mismatches(terms, rows)] == ["totals"]
    _, terms, rows = examples(
        text.replace("| `start_date` | 2027-01-15 |", "| `start_date` | 2027-01-16 |")
    )[0]
    assert len(mismatches(terms, rows)) == 12  # every due date moves


def test_the_terms_table_reaches_every_argument_it_names():
    terms = examples(DOC.read_text())[2][1]
    assert (terms.grace_installments, terms.start_date) == (1, datetime.date(2028, 1, 31))

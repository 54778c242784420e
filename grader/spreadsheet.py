r"""CSV cells a spreadsheet cannot take for formulas (OWASP "CSV Injection"), and numbers it reads as numbers.

Every CSV the grader writes (``summary.csv``, the gradebook files) is built with :func:`write_csv`:

* a text cell that a spreadsheet would evaluate gets a leading ``'`` (:func:`safe_cell`). OWASP's rule is
  that no cell may begin with ``=``, ``+``, ``-``, ``@``, tab, CR or LF. Python's :mod:`csv` does nothing
  about it, and quoting does not help: a spreadsheet evaluates ``"=1+2"`` once it has removed the quotes.
  As a precaution we also neutralise a cell whose first character *after leading whitespace* is one of
  ``= + - @`` (Canvas's own exporter checks ``\s*=``, not just ``=``) and cells starting with the fullwidth
  forms ``＝ ＋ － ＠`` (which an East Asian input method types). NUL characters, which ASVS also lists, are
  dropped: no name or id legitimately holds one.
* a number is written as a plain ``.``-decimal (:func:`number_cell`): ``10.5``, ``11``, never ``1e-05`` and
  never prefixed, so a negative number stays a number and an LMS importer parses every score.

Identifier cells that an LMS re-imports (a Canvas ``ID``, a Moodle ``Participant 1234567``) are digits or
``anon_…`` and so pass through :func:`safe_cell` unchanged.

Lines end with ``\r\n`` (RFC 4180, and the csv module's default; Canvas and Moodle accept it, and Moodle's
reader turns every ``\r\n`` into ``\n`` before parsing). This is not cosmetic: the csv writer quotes a cell
only if it holds the delimiter, the quote or a character of the line terminator, so with ``\n`` endings a
bare ``\r`` in a student's name would be written unquoted and read back by most readers as the end of the
row, letting a name forge rows of its own. With ``\r\n`` every cell holding a CR or LF is quoted. Write the
text unchanged (on Linux, text mode changes nothing; elsewhere open the file with ``newline=""``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from decimal import Decimal

#: Characters that start a formula when a cell begins with them (after any leading whitespace).
FORMULA_START = frozenset("=+-@＝＋－＠")
#: Characters that are dangerous at position 0 itself (OWASP: tab, carriage return, line feed).
CONTROL_START = frozenset("\t\r\n")


def looks_like_formula(cell: str) -> bool:
    """Whether a spreadsheet could take the text ``cell`` for a formula (OWASP's rule, see the module doc).

    This is the test :func:`safe_cell` applies to text, so ``looks_like_formula(safe_cell(s))`` is always
    false. It does not exempt numbers: a score cell such as ``-1.5`` is checked by parsing it as a number.
    """
    if not cell:
        return False
    return cell[0] in CONTROL_START or cell.lstrip()[:1] in FORMULA_START


def number_cell(value: int | float) -> str:
    """A number as a plain ``.``-decimal string: ``10.5`` → ``"10.5"``, ``11.0`` → ``"11"``, ``1e-7`` → ``"0.0000001"``.

    The shortest text that reads back as the same float, without an exponent and without trailing zeros.
    Raises TypeError for a bool (not a score) and ValueError for NaN and infinities (no spreadsheet or LMS
    reads them as numbers).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def safe_cell(value: object) -> str:
    """The CSV cell text for ``value``, safe to open in a spreadsheet.

    Text that :func:`looks_like_formula` gets a leading ``'`` (``=HYPERLINK("x")`` → ``'=HYPERLINK("x")``;
    the csv writer then quotes it and doubles its quotes); NUL characters are dropped. ``None`` is an empty
    cell, a bool is ``true``/``false``, and an int or float is written by :func:`number_cell`, unprefixed.
    Anything else is written as its ``str()``, neutralised like text.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_cell(value)
    text = (value if isinstance(value, str) else str(value)).replace("\0", "")
    return "'" + text if looks_like_formula(text) else text


def write_csv(rows: Iterable[Iterable[object]]) -> str:
    r"""The CSV text of ``rows``: every cell through :func:`safe_cell`, ``,``-separated, ``\r\n`` line ends.

    Text cells are neutralised for spreadsheets and quoted where the csv module must (a ``,``, a quote, a
    CR or LF); numbers are plain ``.``-decimals.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # see the module doc: never "\n"
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue()

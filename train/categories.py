"""Refusing category values a model would learn wrongly: near-duplicate spellings and rarities.

`Female` beside `female` would train as two categories and publish a schema that accepts
both; a value seen in two rows (often a typo: `caviar` for a lunch) cannot be learnt or
checked. Each problem names the file's lines and how to fix them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

DEFAULT_MIN_CATEGORY_ROWS = 5
LINES_SHOWN = 10


def _lines(lines: Sequence[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:LINES_SHOWN])
    more = len(lines) - LINES_SHOWN
    word = "line" if len(lines) == 1 else "lines"
    return f"{word} {shown}" + (f" and {more} more" if more > 0 else "")


def _rows(count: int) -> str:
    return f"{count} row" + ("" if count == 1 else "s")


def category_problems(
    column: str, spellings: Mapping[str, Sequence[int]], min_rows: int
) -> list[tuple[int, str]]:
    """(first line, message) for each bad value of one categorical column.

    `spellings` maps each value exactly as written (surrounding spaces kept) to the lines it
    is on. Values equal but for case or surrounding spaces are refused, each minority spelling
    pointed at the most common one; a value on fewer than `min_rows` lines is refused as rare.
    """
    variants: dict[str, list[str]] = defaultdict(list)
    for spelling in spellings:
        variants[spelling.strip().casefold()].append(spelling)
    problems: list[tuple[int, str]] = []
    for group in variants.values():
        # The most common spelling is the suggestion; ties go to the one written first.
        group.sort(key=lambda s: (-len(spellings[s]), spellings[s][0]))
        usual, *others = group
        for other in others:
            lines = spellings[other]
            problems.append(
                (
                    lines[0],
                    f"{_lines(lines)}, column {column!r}: {other!r} ({_rows(len(lines))}) "
                    f"differs from {usual!r} ({_rows(len(spellings[usual]))}) only in case or "
                    f"surrounding spaces, so the two would train as different categories; "
                    f"write it as {usual.strip()!r}",
                )
            )
    known = sorted({group[0].strip() for group in variants.values()})
    for group in variants.values():
        if len(group) > 1:
            continue  # already refused above; one fix at a time
        (value,) = group
        lines = spellings[value]
        if len(lines) < min_rows:
            others = ", ".join(repr(v) for v in known if v != value.strip())
            problems.append(
                (
                    lines[0],
                    f"{_lines(lines)}, column {column!r}: {value.strip()!r} appears in only "
                    f"{_rows(len(lines))}, fewer than {min_rows} (--min-category-rows), too few "
                    f"to learn or check; correct it if it is a typo (the other values are "
                    f"{others or 'none'}), drop those rows, or train with --allow-rare",
                )
            )
    return problems

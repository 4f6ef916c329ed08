"""JSON requests: one student object, or an array of them.

Fast path: msgspec decodes straight into the contract's typed records
(server/contract.py), validating while it parses. Only
when that fails do we decode again with the standard library and check every
field, so a bad request lists all its problems and a good one pays for one
pass. The standard library's parser, unlike msgspec's generic one, reads NaN,
Infinity and 1e400 as floats, so those are reported against their field (422)
rather than as broken JSON. That second pass also reads the public data set's
other spellings of a field ("race/ethnicity", "reading score", as a CSV header
may have them) where the field itself is missing, so they cost the normal
request nothing.
"""

from __future__ import annotations

import difflib
import json

import msgspec
import numpy as np
from msgspec.structs import astuple

from model_store.contract import normalise_column_name
from server.batch import FEW_STUDENTS, Batch
from server.contract import ServingContract
from server.errors import JSON_ROWS, ErrorCollector, InvalidRecords, MalformedBody, TooLarge
from server.rules import ID_FIELD, check_id, json_type_name


class JsonParser:
    def __init__(self, contract: ServingContract, max_rows: int) -> None:
        self._rules = contract.rules
        self._max_rows = max_rows
        self._decoder = contract.decoder
        self._feature_names = contract.model.feature_names
        self._names = frozenset([*self._feature_names, ID_FIELD])
        # Each category's code (its index in the contract), for the model's input.
        self._codes = {
            r.name: contract.model.category_codes(r.name) for r in self._rules if r.categories
        }

    def parse(self, body: bytes) -> Batch:
        try:
            decoded = self._decoder.decode(body)
        # ValidationError is a DecodeError; invalid UTF-8 inside a string is a UnicodeDecodeError.
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return self._parse_checking_every_field(body)
        single = not isinstance(decoded, list)
        students = [decoded] if single else decoded
        self._check_size(len(students))
        if not students:
            return Batch(columns={r.name: [] for r in self._rules}, ids=None, single=False, size=0)
        # One tuple per field (the features, then id), transposed in C: much
        # faster for a cohort than a getter per field.
        *features, ids = zip(*map(astuple, students), strict=True)
        if ids.count(None) == len(ids):
            ids = None
        elif any(isinstance(i, str) and not i.isascii() and check_id(i) for i in ids):
            return self._parse_checking_every_field(body)  # to name the id that cannot be echoed
        return Batch(
            columns=self._coded(dict(zip(self._feature_names, features, strict=True))),
            ids=list(ids) if ids is not None else None,
            single=single,
            size=len(students),
        )

    def _coded(self, columns: dict) -> dict:
        """The validated columns with each category as its code: a list for a few
        students, where numpy's per-call cost would be most of the work."""
        for name, codes in self._codes.items():
            column = columns[name]
            if len(column) <= FEW_STUDENTS:
                columns[name] = [codes[value] for value in column]
            else:
                columns[name] = np.fromiter(map(codes.__getitem__, column), np.intp, len(column))
        return columns

    def _with_spellings_read(self, student: object) -> object:
        """The student with a missing field filled from another spelling of it
        (the CSV header's normalisation); other keys are left as they are."""
        if not isinstance(student, dict):
            return student
        filled = dict(student)
        for key, value in student.items():
            name = normalise_column_name(key) if isinstance(key, str) else key
            if name != key and name in self._names and name not in filled:
                filled[name] = value
        return filled

    def _missing(self, rule, student: dict) -> str:
        """The missing-field message, naming a near-miss key that was sent."""
        message = f"missing field; expected {rule.expected}"
        unknown = {normalise_column_name(k): k for k in student if k not in self._names}
        close = difflib.get_close_matches(rule.name, list(unknown), n=1)
        if close:
            message += f"; {unknown[close[0]]!r} was sent: send it as {rule.name!r}"
        return message

    def _check_size(self, rows: int) -> None:
        if rows > self._max_rows:
            raise TooLarge(
                f"{rows} students in one request; the limit is {self._max_rows}: split the cohort"
            )

    def _parse_checking_every_field(self, body: bytes) -> Batch:
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise MalformedBody(f"malformed JSON: {exc}") from None
        single = isinstance(decoded, dict)
        if not single and not isinstance(decoded, list):
            raise InvalidRecords(
                "expected a student object or an array of student objects; "
                f"got {json_type_name(decoded)}"
            )
        students = [decoded] if single else decoded
        self._check_size(len(students))
        errors = ErrorCollector(JSON_ROWS)
        students = [self._with_spellings_read(s) for s in students]
        for row, student in enumerate(students, 1):
            if not isinstance(student, dict):
                errors.add(row, None, f"expected a student object; got {json_type_name(student)}")
                continue
            for rule in self._rules:
                if rule.name not in student:
                    errors.add(row, rule.name, self._missing(rule, student))
                    continue
                problem = rule.check_json(student[rule.name])
                if problem:
                    errors.add(row, rule.name, problem)
            problem = check_id(student.get(ID_FIELD))
            if problem:
                errors.add(row, ID_FIELD, problem)
        errors.raise_if_any()
        # Valid by every rule although the typed decoder refused it (an edge such
        # as a huge integer score): score it from the generic values.
        ids = [s.get(ID_FIELD) for s in students]
        return Batch(
            columns=self._coded(
                {rule.name: [s[rule.name] for s in students] for rule in self._rules}
            ),
            ids=ids if any(i is not None for i in ids) else None,
            single=single,
            size=len(students),
        )

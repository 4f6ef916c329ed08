"""POST /predictdata's query options (?interval=90, ?explain=true, ?report=drift), as
far as the served model can honour them.

One msgspec Struct per model (`QueryOptions.type`, its levels a Literal) both
parses a query and documents it in GET /openapi.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal
from urllib.parse import parse_qsl

import msgspec

from model_store.contract import ModelContract
from server.errors import InvalidOption

DRIFT_REPORT = "drift"
MAX_PARSED_QUERIES = 64  # a caller varying its query string must not grow memory


class QueryOptions:
    def __init__(self, model: ModelContract, reportable: bool = False) -> None:
        """`reportable`: the version carries a drift reference (server/drift_reference.py)."""
        self.levels: tuple[int, ...] = tuple(model.intervals.levels) if model.intervals else ()
        self.explainable = model.reference is not None
        self.reportable = reportable
        self.type = _options_type(self.levels, self.explainable, reportable)
        self.half_widths: dict[int, float] = model.intervals.levels if model.intervals else {}
        self._parsed: dict[str, msgspec.Struct] = {}

    def from_query_string(self, query_string: str) -> msgspec.Struct:
        """The options of a query, each distinct query parsed once: converting them
        costs a noticeable share of a one-student request."""
        options = self._parsed.get(query_string)
        if options is None:
            options = self.parse(query_params(query_string))
            if len(self._parsed) < MAX_PARSED_QUERIES:
                self._parsed[query_string] = options
        return options

    def parse(self, params: Mapping[str, object]) -> msgspec.Struct:
        """Options from text values; InvalidOption naming the allowed values."""
        try:
            options = msgspec.convert(params, self.type, strict=False)
        except msgspec.ValidationError:
            for name in self.type.__struct_fields__:  # which one: each alone
                if name in params and not self._valid(name, params[name]):
                    raise InvalidOption(self._not_allowed(name, params[name])) from None
            raise  # not reached: each option is valid or not on its own
        if options.explain and not self.explainable:
            raise InvalidOption(self._not_allowed("explain", params["explain"]))
        return options

    def allowed(self) -> dict:
        """What GET /model lists."""
        reports = [DRIFT_REPORT] if self.reportable else []
        return {"interval": list(self.levels), "explain": self.explainable, "report": reports}

    def _valid(self, name: str, value: object) -> bool:
        try:
            msgspec.convert({name: value}, self.type, strict=False)
        except msgspec.ValidationError:
            return False
        return True

    def _not_allowed(self, name: str, value: object) -> str:
        if name == "explain":
            if not self.explainable:
                return "explain is not available: this model carries no reference student"
            return f"explain={value!r} is not allowed; use explain=true or explain=false"
        if name == "echo":
            return f"echo={value!r} is not allowed; use echo=all (text/csv requests only)"
        if name == "report":
            if not self.reportable:
                return (
                    "report is not available: this model version carries no drift reference "
                    "(publish it again to record one)"
                )
            return f"report={value!r} is not a report this server makes; use report=drift"
        if not self.levels:
            return "interval is not available: this model carries no intervals"
        allowed = ", ".join(map(str, self.levels))
        return f"interval={value!r} is not a level of this model; allowed: {allowed}"


def query_params(query_string: str) -> dict[str, str | list[str]]:
    """A query string's parameters as Falcon's parser gives them, blank values kept:
    a name's value, or its values in a list when it is repeated. The standard
    library's parser, so that score_file, which shares this module, loads no Falcon."""
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in params.items()}


def _options_type(
    levels: tuple[int, ...], explainable: bool, reportable: bool
) -> type[msgspec.Struct]:
    interval = Annotated[
        Literal[levels] | None if levels else None,
        msgspec.Meta(description="add a range that holds the true score this often, in %"),
    ]
    explain = Annotated[
        bool,
        msgspec.Meta(
            description="add each field's points and the baseline they start from"
            if explainable
            else "false only: this model carries no reference student to explain from"
        ),
    ]
    echo = Annotated[
        Literal["all"] | None,
        msgspec.Meta(
            description="all (text/csv only): every column sent, in order, before the answer's"
        ),
    ]
    report = Annotated[
        Literal[DRIFT_REPORT] | None if reportable else None,
        msgspec.Meta(
            description="drift: add how these students compare with the training data"
            if reportable
            else "not available: this model version carries no drift reference"
        ),
    ]
    return msgspec.defstruct(
        "PredictionOptions",
        [
            ("interval", interval, None),
            ("explain", explain, False),
            ("echo", echo, None),
            ("report", report, None),
        ],
    )

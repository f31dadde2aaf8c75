"""The API's JSON parser: DRF's, refusing (400) what would otherwise fail later as a 500 —
nesting deep enough to exhaust the decoder's recursion, and lone UTF-16 surrogates ("\\ud800"),
which JSON allows but no UTF-8 text (the database, the response) can hold."""

from __future__ import annotations

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - a string holds a lone UTF-16 surrogate.") from None
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        return data

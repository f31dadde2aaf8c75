"""Parse and normalise the URLs people submit: pasted text, API lists and CSV/TXT uploads.

No ORM and no Django setup needed (settings are read lazily), so the API, the pages and the CLI share
one set of rules and the rules can be tested on their own. Every refused input gets a line number and
a reason a person can act on; only a refusal of the whole submission raises (IntakeError).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from charset_normalizer import from_bytes
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from jobs.urlnorm import CONTROL_RE, NON_ASCII_RE, InvalidURL, normalise_url, shorten

__all__ = [
    "Accepted",
    "IntakeError",
    "IntakeResult",
    "InvalidURL",
    "Rejection",
    "normalise_url",
    "parse_submission",
    "parse_text",
    "parse_upload",
    "parse_urls",
]

try:
    import idna
except ImportError:  # pragma: no cover - idna is usually present, but it is not our dependency
    idna = None

DEFAULT_MAX_URLS = 100_000
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
HEADER_NAMES = frozenset({"url", "urls", "domain", "domains", "website", "websites"})

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# Tie-breaker between decodings charset-normalizer finds equally plausible: short files of mostly
# ASCII URLs give it little to go on, and spreadsheets export these far more often than, say, cp775.
_PREFERRED_ENCODINGS = (  # noqa: SIM905 - as above
    "cp1252 iso8859_15 latin_1 cp1250 iso8859_2 cp1251 koi8_r iso8859_5 cp1253 cp1254 cp1257 "
    "cp932 shift_jis euc_jp gb18030 gbk big5 cp949 euc_kr cp1255 cp1256 mac_roman"
).split()


# --- public types ----------------------------------------------------------------------------


class IntakeError(Exception):
    """The whole submission is refused (too many URLs, upload too large, unreadable file)."""

    code: str  # too_many_urls | upload_too_large | unreadable_file | empty | ambiguous
    message: str  # a sentence for people
    status: int  # HTTP status hint

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or (413 if code in {"too_many_urls", "upload_too_large"} else 400)

    def __repr__(self) -> str:
        return f"IntakeError({self.code!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class Accepted:
    line: int
    input: str
    url: str


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    input: str
    reason: str


@dataclass
class IntakeResult:
    accepted: list[Accepted]
    duplicates: int
    rejected: list[Rejection]

    @property
    def urls(self) -> list[str]:
        return [item.url for item in self.accepted]

    def as_dict(self, max_rejected: int = 100) -> dict[str, Any]:
        return {
            "accepted": len(self.accepted),
            "duplicates": self.duplicates,
            "rejected": [
                {"line": r.line, "input": shorten(r.input), "reason": r.reason}
                for r in self.rejected[: max(max_rejected, 0)]
            ],
            "rejected_count": len(self.rejected),
        }


# --- collecting results ----------------------------------------------------------------------


class _Collector:
    """Normalises inputs one by one, dedupes, and stops as soon as the URL limit is passed."""

    def __init__(self, max_urls: int | None) -> None:
        self.max_urls = _setting("BATCHSITE_MAX_URLS_PER_BATCH", DEFAULT_MAX_URLS, max_urls)
        self.accepted: list[Accepted] = []
        self.rejected: list[Rejection] = []
        self.duplicates = 0
        self._seen: set[str] = set()

    def add(self, line: int, raw: str) -> None:
        text = raw.strip()
        try:
            url = normalise_url(text)
        except InvalidURL as exc:
            self.rejected.append(Rejection(line, text, exc.reason))
            return
        if url in self._seen:
            self.duplicates += 1
            return
        self._seen.add(url)
        self.accepted.append(Accepted(line, text, url))
        if len(self.accepted) > self.max_urls:
            raise IntakeError(
                "too_many_urls",
                f"This batch has more than {self.max_urls:,} URLs; the limit is {self.max_urls:,}.",
            )

    def reject(self, line: int, text: str, reason: str) -> None:
        self.rejected.append(Rejection(line, text, reason))

    def result(self) -> IntakeResult:
        return IntakeResult(self.accepted, self.duplicates, self.rejected)


def _setting(name: str, default: int, override: int | None) -> int:
    if override is not None:
        return override
    try:
        value = getattr(settings, name, None)
    except ImproperlyConfigured:  # used outside a configured project (scripts, bare tests)
        value = None
    return default if value is None else int(value)


# --- pasted text and API lists ---------------------------------------------------------------


def parse_text(text: str, *, max_urls: int | None = None) -> IntakeResult:
    """URLs separated by newlines, commas, spaces or tabs; blank and `#` lines are skipped."""
    collector = _Collector(max_urls)
    _collect_text(text, collector)
    return collector.result()


def _collect_text(text: str, collector: _Collector) -> None:
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, line in enumerate(lines, start=1):
        for token in _tokens(line):
            collector.add(number, token)


def _tokens(line: str) -> list[str]:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return []
    tokens = stripped.replace(",", " ").split()
    for index, token in enumerate(tokens):
        if token.startswith("#"):  # the rest of the line is a comment
            return tokens[:index]
    return tokens


def parse_urls(urls: Iterable[Any], *, max_urls: int | None = None) -> IntakeResult:
    """A list from the API: one URL per entry, line = position (1-based)."""
    if isinstance(urls, str | bytes):
        raise TypeError("parse_urls wants a list of URLs, not one string")
    collector = _Collector(max_urls)
    for number, entry in enumerate(urls, start=1):
        if isinstance(entry, str):
            collector.add(number, entry)
        else:
            collector.reject(number, shorten(repr(entry)), "not a string")
    return collector.result()


# --- uploads ---------------------------------------------------------------------------------


def parse_upload(
    data: bytes,
    filename: str = "",
    *,
    max_urls: int | None = None,
    max_bytes: int | None = None,
) -> IntakeResult:
    """A CSV or TXT file: a `url`/`domain`/`website` column (else the first), or text lines."""
    limit = _setting("BATCHSITE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES, max_bytes)
    if len(data) > limit:
        raise IntakeError(
            "upload_too_large",
            f"The file is {_size(len(data))}; the limit is {_size(limit)}.",
        )
    text = _decode(bytes(data))
    collector = _Collector(max_urls)
    layout = _csv_layout(text, filename)
    if layout is None:
        _collect_text(text, collector)
    else:
        _collect_csv(text, *layout, collector)
    return collector.result()


def _unreadable(detail: str) -> IntakeError:
    return IntakeError("unreadable_file", f"The file could not be read: {detail}.")


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise _unreadable(f"it is not valid {encoding.upper()}") from None
    if b"\x00" in data:
        raise _unreadable("it looks like a binary file, not CSV or text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _detect_encoding(data)
    sample = text[:65536]
    # A stray control character is one bad line; many of them mean this is not a text file.
    if len(CONTROL_RE.findall(sample)) > max(1, len(sample) // 50):
        raise _unreadable("it looks like a binary file, not CSV or text")
    return text


def _detect_encoding(data: bytes) -> str:
    """Decode non-UTF-8 bytes with the most plausible encoding charset-normalizer finds."""
    matches = list(from_bytes(data))
    if not matches:
        raise _unreadable("it does not look like CSV or text (no text encoding fits)")
    floor = min(match.chaos for match in matches)
    best_key, best_text = None, ""
    for match in matches:
        if match.chaos > floor + 0.05:
            continue
        text = str(match)
        # Non-ASCII characters in URL lists are letters of IDNs: a decoding that turns them into
        # symbols (müller → m³ller) is the wrong one, however coherent it scores.
        key = (-_letter_share(text), _encoding_rank(match.could_be_from_charset), -match.coherence)
        if best_key is None or key < best_key:
            best_key, best_text = key, text
    return best_text


def _letter_share(text: str) -> float:
    chars = NON_ASCII_RE.findall(text[:200_000])
    return sum(char.isalpha() for char in chars) / len(chars) if chars else 1.0


def _encoding_rank(encodings: list[str]) -> int:
    ranks = [_PREFERRED_ENCODINGS.index(e) for e in encodings if e in _PREFERRED_ENCODINGS]
    return min(ranks, default=len(_PREFERRED_ENCODINGS))


def _size(count: int) -> str:
    if count < 1024:
        return f"{count:,} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB".replace(".0 ", " ")
    return f"{count / (1024 * 1024):.1f} MB".replace(".0 ", " ")


def _csv_layout(text: str, filename: str) -> tuple[str, int, bool] | None:
    """(delimiter, column, has_header) for CSV-like uploads; None means parse as text.

    .csv/.tsv files are CSV; .txt files are text; anything else is CSV only when its first row
    names a url/domain/website column (otherwise a headerless list reads best as text).
    """
    name = filename.lower().strip()
    if name.endswith((".txt", ".text", ".lst")):
        return None
    first = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    for delimiter in (",", ";", "\t"):
        column = _header_column(_first_row(first, delimiter))
        if column is not None:
            return delimiter, column, True
    if name.endswith(".tsv"):
        return "\t", 0, False
    if name.endswith(".csv"):
        return ",", 0, False
    return None


def _first_row(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:  # e.g. a field past csv's size limit: not a header anyway
        return []


def _header_column(row: list[str]) -> int | None:
    for index, cell in enumerate(row):
        if cell.strip().lower() in HEADER_NAMES:
            return index
    return None


def _collect_csv(
    text: str, delimiter: str, column: int, has_header: bool, collector: _Collector
) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header_pending = has_header
    previous_line = 0
    try:
        for row in reader:
            # A quoted cell may span lines: a row starts just after where the previous one ended.
            line, previous_line = previous_line + 1, reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if header_pending:
                header_pending = False
                continue
            if row[0].lstrip().startswith("#"):
                continue
            cell = row[column] if column < len(row) else ""
            if cell.strip():
                collector.add(line, cell)
    except csv.Error as exc:
        raise _unreadable(f"line {reader.line_num} is not valid CSV ({exc})") from None


# --- one submission --------------------------------------------------------------------------


def parse_submission(
    *,
    text: str | None = None,
    urls: list[Any] | None = None,
    file: bytes | None = None,
    filename: str = "",
    max_urls: int | None = None,
    max_bytes: int | None = None,
) -> IntakeResult:
    """Parse whichever one source was given; empty fields (a blank form box) count as not given.

    The result may hold no valid URL: the caller decides what that means.
    """
    given = [name for name, value in (("text", text), ("urls", urls), ("file", file)) if value]
    if not given:
        raise IntakeError(
            "empty", "Nothing was submitted: paste URLs, send a list or upload a file."
        )
    if len(given) > 1:
        raise IntakeError(
            "ambiguous",
            "Submit URLs one way at a time: pasted text, a list or a file, not several.",
        )
    if file:
        return parse_upload(file, filename, max_urls=max_urls, max_bytes=max_bytes)
    if urls:
        return parse_urls(urls, max_urls=max_urls)
    return parse_text(text or "", max_urls=max_urls)

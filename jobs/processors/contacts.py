"""E-mail addresses and phone numbers in a page's text and links, for site_profile (no I/O).

Regular expressions only ever run over extracted text, every one of them bounded so a hostile page
cannot make them backtrack for long. Speed: Python's `re` costs ~20 ns a character for a pattern it
must try at every position (one that starts with a lookbehind, a character class or a
case-insensitive word), but only ~0.3 ns for one that starts with a fixed character, which it finds
like memchr. A page's text is ~50–100k characters, so each scan here is anchored: e-mails at their
"@", obfuscations at "[" "(" "{" "<" or at a " dot " found in the ASCII-lowered bytes, phone numbers
at the digit runs marked by one bytes.translate. Each gives the same answers as the pattern tried
everywhere (`tests/processors/test_site_profile_extract.py` and the fixture pages hold them).

`emails_in_text` and `phones_in_text` take any text; `Contacts(text)` shares the work between the
two when both are wanted (site_profile), and collapses the text only when a scan needs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

import phonenumbers

from jobs.processors.profile_extract import collapse, unique

MAX_AT_SIGNS = 5000  # "x@y"s looked at per page: a hostile page full of them stays cheap


class Contacts:
    """One text scanned for e-mail addresses and phone numbers.

    The answers are those of the text collapsed (whitespace runs → one space), but collapsing
    ~10,000 words costs more than the scans, so it happens only when a scan needs it: e-mails are
    found in the raw text unless an obfuscation may need undoing (their own characters hold no
    whitespace), and phone numbers only when the raw text holds a digit sequence long enough
    for a phone run.
    """

    __slots__ = ("_ascii", "_collapsed", "_raw_ascii", "_raw_non_ascii_digit", "raw")

    def __init__(self, text: str) -> None:
        self.raw = text
        self._collapsed: str | None = None
        self._ascii: bytes | None = None
        self._raw_ascii: bytes | None = None
        self._raw_non_ascii_digit: bool | None = None

    @property
    def text(self) -> str:
        """The text collapsed, as the scans' answers are defined on."""
        if self._collapsed is None:
            self._collapsed = collapse(self.raw)
        return self._collapsed

    @property
    def ascii(self) -> bytes:
        """The collapsed text as ASCII bytes, "?" for the rest: one byte a character."""
        if self._ascii is None:
            self._ascii = self.text.encode("ascii", "replace")
        return self._ascii

    @property
    def raw_ascii(self) -> bytes:
        if self._raw_ascii is None:
            self._raw_ascii = self.raw.encode("ascii", "replace")
        return self._raw_ascii

    @property
    def non_ascii_digit(self) -> bool:
        """Whether a digit outside ASCII (fullwidth, Arabic-Indic…) is in the text."""
        if self._raw_non_ascii_digit is None:
            raw = self.raw
            self._raw_non_ascii_digit = not raw.isascii() and _has_non_ascii_digit(raw)
        return self._raw_non_ascii_digit

    def emails(self) -> list[str]:
        """E-mail addresses, obfuscations undone, in order of first appearance."""
        if _may_be_obfuscated(self.raw, self.raw_ascii):
            text = _deobfuscated(self.text)
        else:
            text = self.raw  # "@", local part and domain hold no whitespace: same finds
        if "@" not in text:
            return []
        found: list[str] = []
        # Anchored at each plausible "@" (never a scan of the whole text per position): linear.
        for _, match in zip(range(MAX_AT_SIGNS), _AT.finditer(text), strict=False):
            at = match.start()
            local = _LOCAL_REVERSED.match(text[max(0, at - 64) : at][::-1])
            domain = _DOMAIN_HEAD.match(text, at + 1, at + 256)
            if local and domain and (e := clean_email(f"{local.group()[::-1]}@{domain.group()}")):
                found.append(e)
        return unique(found)

    def _may_hold_phone_run(self) -> bool:
        """Whether the collapsed text may hold a phone run: six or more characters from the first
        digit to the last, only digits, "().-/" and spaces between them.

        In the raw text those spaces may be any whitespace, and a character outside ASCII may be
        one ("?" in the ASCII twin), so both count as run characters: a run in the collapsed text
        is always inside such a stretch of the raw one, at least as long.
        """
        if self.non_ascii_digit:
            return True
        marks = self.raw_ascii.translate(_RUN_MARKS)
        return any(len(m.group().rstrip(b" ")) >= 6 for m in _MARKED_RUN.finditer(marks))

    def phones(self, region: str) -> list[str]:
        """Numbers in obvious phone contexts: after a phone label ("Tel.:", "Phone", "☎"), or
        written internationally ("+49 …"); never after a fax label. Invalid numbers are dropped."""
        if not self._may_hold_phone_run():
            return []
        text = self.text
        found: list[str] = []
        last_end = -_LABEL_WINDOW
        for run in self._phone_runs():
            window = text[max(0, run.start() - _LABEL_WINDOW) : run.start()]
            label = next(reversed(list(_PHONE_LABEL.finditer(window))), None)
            if label is not None and label.group("fax"):
                continue
            # "Tel. 030 123456 or 030 654321": a number right after a phone number is one too.
            listed = run.start() - last_end <= _LISTED_GAP
            if label is None and not listed and not run.group().startswith("+"):
                continue
            if number := normalize_phone(run.group(), region):
                numbers = [number]
            else:  # a run can hold two numbers: let phonenumbers split it
                matches = phonenumbers.PhoneNumberMatcher(run.group(), region)
                numbers = [phonenumbers.format_number(m.number, _E164) for m in matches]
            if numbers:
                found.extend(numbers)
                last_end = run.end()
        return unique(found)

    def _phone_runs(self) -> Iterator[re.Match[str]]:
        """What ``_PHONE_RUN.finditer(text)`` yields, tried only where a run can start.

        A run's first digit starts a run of digits (a digit after a digit is a word character,
        which the pattern's lookbehind refuses), and the run starts at most two characters before
        it ("+", "(", "(+"). So the pattern is tried at those few places, in order, from the end of
        the last match on — which is exactly what finditer would find. Digits outside ASCII
        (fullwidth, Arabic-Indic…) are rare enough to send the text through finditer itself.
        """
        text = self.text
        if self.non_ascii_digit:
            yield from _PHONE_RUN.finditer(text)
            return
        pos = 0
        for digits in _DIGIT_RUN.finditer(self.ascii.translate(_DIGIT_MARKS)):
            first = digits.start()
            if first < pos:
                continue
            for start in range(max(pos, first - 2), first + 1):
                if match := _PHONE_RUN.match(text, start):
                    yield match
                    pos = match.end()
                    break


def emails_in_text(text: str) -> list[str]:
    """E-mail addresses in visible text, obfuscations undone, in order of first appearance."""
    return Contacts(text).emails()


def phones_in_text(text: str, region: str) -> list[str]:
    """Phone numbers in visible text (see `Contacts.phones`), E.164, in order of appearance."""
    return Contacts(text).phones(region)


# --- e-mail addresses -------------------------------------------------------------------------

_BRACKET_AT = re.compile(r" ?[\[({<] ?(?:at|@) ?[\])}>] ?", re.IGNORECASE)
_BRACKET_DOT = re.compile(r" ?[\[({<] ?(?:dot|punkt|\.) ?[\])}>] ?", re.IGNORECASE)
# The hint that either may apply, one pattern per opening bracket: each starts with a fixed
# character, so `re` jumps from bracket to bracket instead of trying every position.
_BRACKET_HINTS = {
    opener: re.compile(re.escape(opener) + r" ?(?:at|dot|punkt|@|\.) ?[\])}>]", re.IGNORECASE)
    for opener in "[({<"
}
# The same before collapsing: any whitespace where the collapsed text has one space.
_RAW_BRACKET_HINTS = {
    opener: re.compile(re.escape(opener) + r"\s*(?:at|dot|punkt|@|\.)\s*[\])}>]", re.IGNORECASE)
    for opener in "[({<"
}
# "name at example dot com": only with at least one " dot " and an alphabetic last label.
_SPELLED = re.compile(
    r"(?<![\w.+-])([a-z0-9][a-z0-9._%+-]{0,63}) at ([a-z0-9-]{1,63}(?: dot [a-z0-9-]{1,63}){1,4})\b",
    re.IGNORECASE,
)
_SPELLED_STOP = frozenset(
    {"look", "us", "me", "them", "him", "her", "it", "find", "visit", "here", "there", "now"}
)
# An "@" between a local-part character and a domain character. The "@" comes first so `re` can
# jump to it; the lookbehind then checks the character before it.
_AT = re.compile(r"@(?<=[a-z0-9._%+-]@)(?=[a-z0-9])", re.IGNORECASE)
_LOCAL_REVERSED = re.compile(r"[a-z0-9._%+-]{1,64}", re.IGNORECASE)  # matched right to left
_DOMAIN_HEAD = re.compile(r"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}", re.IGNORECASE)
_TLD = re.compile(r"[a-z]{2,24}|xn--[a-z0-9-]{1,59}")
_RETINA = re.compile(r"\d(?:\.\d)?x$")  # logo@2x.png, icon@1.5x.webp
ASSET_EXTENSIONS = frozenset(
    {
        *("png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", "tif", "tiff"),
        *("css", "js", "mjs", "map", "json", "woff", "woff2", "ttf", "otf", "eot"),
        *("mp4", "webm", "mp3", "wav", "ogg", "php", "html", "htm", "aspx"),
    }
)
TRACKING_DOMAINS = ("sentry.io", "wixpress.com")  # and their subdomains: error-tracker DSNs
_HEX_KEY = re.compile(r"[0-9a-f]{32}")


def deobfuscate(text: str) -> str:
    """Undo the simple obfuscations: "[at]", "(at)", "{dot}" and "name at example dot com"."""
    return _deobfuscated(collapse(text))  # collapsed: the patterns cannot backtrack on spaces


def _may_be_obfuscated(raw: str, raw_ascii: bytes) -> bool:
    """Whether `_deobfuscated` may change the collapsed `raw`: a bracket hint with any whitespace,
    or "dot" in any letter case (only ASCII letters lower-case to d, o and t, so the ASCII twin
    lower-cased says it as raw.lower() would, without a lower-cased copy of the str)."""
    if any(o in raw and p.search(raw) for o, p in _RAW_BRACKET_HINTS.items()):
        return True
    return b"dot" in raw_ascii.lower()


def _deobfuscated(text: str) -> str:
    """`text` (collapsed) with the obfuscations undone, each only when its cheap hint is there."""
    if any(o in text and p.search(text) for o, p in _BRACKET_HINTS.items()):
        text = _BRACKET_DOT.sub(".", _BRACKET_AT.sub("@", text))
    if " dot " in text.lower():
        text = _SPELLED.sub(_unspell, text)
    return text


def _unspell(match: re.Match[str]) -> str:
    local, domain = match.group(1), match.group(2)
    if local.lower() in _SPELLED_STOP:
        return match.group(0)
    return f"{local}@{re.sub(r' dot ', '.', domain, flags=re.IGNORECASE)}"


def clean_email(address: str) -> str | None:
    """A lower-cased address, or None for asset names, tracking addresses and malformed ones."""
    address = address.strip().strip(".").lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or len(address) > 254:
        return None
    if local.startswith(".") or local.endswith(".") or ".." in local or ".." in domain:
        return None
    labels = domain.split(".")
    if len(labels) < 2 or any(not label or label[0] == "-" or label[-1] == "-" for label in labels):
        return None
    if not _TLD.fullmatch(labels[-1]) or labels[-1] in ASSET_EXTENSIONS:
        return None
    if _RETINA.search(local) or re.match(r"\d(?:\.\d)?x\.", domain):
        return None
    if any(domain == d or domain.endswith("." + d) for d in TRACKING_DOMAINS):
        return None
    if _HEX_KEY.fullmatch(local):  # error-tracker DSN keys
        return None
    return address


def emails_in_mailto(href: str) -> list[str]:
    """Addresses of a mailto: link ("mailto:a@x.com,b@x.com?subject=…")."""
    target = href.strip()[len("mailto:") :].split("?", 1)[0]
    return unique(e for part in unquote(target).split(",") if (e := clean_email(part)))


# --- phone numbers ----------------------------------------------------------------------------

_PHONE_LABEL = re.compile(
    r"(?P<fax>\b(?:tele)?fax\b)|(?P<tel>\b(?:tel(?:efon|ephone|éfono|efone)?|phone|fon|"
    r"mobile?|mobil|cell|call(?: us)?|hotline|whatsapp)\b|\b[tp] ?:|☎|📞|✆)",
    re.IGNORECASE,
)
_PHONE_RUN = re.compile(r"(?<![\w+])(?:\+|\(\+?)?\d[\d ().\-/]{4,24}\d(?![\w])")
_LABEL_WINDOW = 24
_LISTED_GAP = 8
_E164 = phonenumbers.PhoneNumberFormat.E164
# ASCII digits → b"0", every other byte → b"."; then runs of b"0" are found like a fixed string
# (b"00*", not b"0+": `re` only jumps ahead to a pattern's leading literal, not to a repeat's).
_DIGIT_MARKS = bytes(ord("0") if 0x30 <= byte <= 0x39 else ord(".") for byte in range(256))
_DIGIT_RUN = re.compile(rb"00*")


def _run_marks() -> bytes:
    """For _may_hold_phone_run: digits → b"0"; "().-/", ASCII whitespace and "?" (a character
    outside ASCII, which may be whitespace such as a no-break space) → b" "; the rest → b"x"."""
    table = bytearray(b"x" * 256)
    table[0x30:0x3A] = b"0" * 10
    for byte in b"().-/? \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f":
        table[byte] = ord(" ")
    return bytes(table)


_RUN_MARKS = _run_marks()
_MARKED_RUN = re.compile(rb"0[0 ]*")
# \d outside ASCII (a digit, not 0-9): 670 characters, all from U+0660 on. The UTF-8 lead bytes
# they start with rule most texts out with a memchr each (Latin, Greek, Cyrillic, CJK ideographs
# and punctuation have none of them); test_non_ascii_digit_lead_bytes_are_complete checks the list.
_NON_ASCII_DIGIT = re.compile(r"[^\D0-9]")
_DIGIT_LEADS = (b"\xd9", b"\xdb", b"\xdf", b"\xe0", b"\xe1", b"\xea", b"\xef", b"\xf0")


def _has_non_ascii_digit(text: str) -> bool:
    data = text.encode("utf-8", "replace")
    return any(lead in data for lead in _DIGIT_LEADS) and _NON_ASCII_DIGIT.search(text) is not None


def normalize_phone(raw: str, region: str) -> str | None:
    """E.164 for a valid number (national formats read in `region`), else None."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, _E164)


def phone_in_tel(href: str, region: str) -> str | None:
    target = href.strip().split(":", 1)[-1].split(";", 1)[0]
    return normalize_phone(unquote(target), region)

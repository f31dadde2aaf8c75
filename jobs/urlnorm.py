"""Normalise one submitted URL, or say why it is refused (the rules intake applies to every line).

Pure functions, no Django: add https:// to bare domains, lower-case scheme and host, IDNA hosts,
drop fragments and default ports, strip one trailing slash from a bare path.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import string
from urllib.parse import quote, urlsplit

try:
    import idna
except ImportError:  # pragma: no cover - idna is usually present, but it is not our dependency
    idna = None

MAX_URL_LENGTH = 2048

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# "foo:bar" is a scheme only for these (or when it cannot be host:port / user:pass@host), so that
# `example.com:8080` and `user:pass@example.com` are read as bare hosts, not as odd schemes.
_KNOWN_SCHEMES = frozenset(
    (  # noqa: SIM905 - a word list reads better than 32 quoted lines
        "about blob chrome data file ftp ftps git gopher imap irc ircs javascript ldap magnet mailto "
        "news nntp sftp sip sips smb sms ssh tel telnet urn vbscript view-source ws wss xmpp"
    ).split()
)
# The shape nearly every submitted URL has; it skips urlsplit and the bare-host guesswork, and must
# agree with the general path (tests compare both).
_SIMPLE_URL_RE = re.compile(
    r"(?:(?P<scheme>(?i:https?))://)?"
    r"(?P<host>[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})+)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<rest>[/?#].*)?\Z",
    re.DOTALL,
)
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PORT_LIKE_RE = re.compile(r"\d*(?:[/?#]|\Z)")
_HOST_RE = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\Z")
_LABEL_CHAR_RE = re.compile(r"[^a-z0-9_-]")
# A dotless number (decimal, hex or octal IPv4 form): syntactically a host; fetch decides.
_NUMERIC_HOST_RE = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)\Z")
_IDN_DOTS_RE = re.compile("[.\u3002\uff0e\uff61]")
CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
# Every printable ASCII character stays as it is; only non-ASCII is percent-encoded (as browsers do).
_SAFE_ASCII = string.ascii_letters + string.digits + string.punctuation


class InvalidURL(ValueError):
    """One input is not an acceptable URL; str(exc) and .reason say why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- normalising one URL ---------------------------------------------------------------------


def normalise_url(raw: str) -> str:
    """The canonical form of one submitted URL; raises InvalidURL with a reason for people."""
    if not isinstance(raw, str):
        raise InvalidURL("not a string")
    text = raw.strip()
    if not text:
        raise InvalidURL("empty")
    _check_characters(text)
    simple = _SIMPLE_URL_RE.match(text)
    url = _from_simple(simple) if simple else _from_parts(text)
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"longer than {MAX_URL_LENGTH} characters")
    return url


def _from_simple(match: re.Match[str]) -> str:
    scheme = (match["scheme"] or "https").lower()
    host = match["host"].lower()
    if len(host) > 253:
        raise InvalidURL("invalid host: longer than 253 characters")
    port = _normalise_port(match["port"], scheme)
    # Split the way urlsplit does: the fragment first, then the query.
    path, _, query = (match["rest"] or "").partition("#")[0].partition("?")
    return _join(scheme, host, port, path, query)


def _from_parts(text: str) -> str:
    try:
        parts = urlsplit(_with_scheme(text))
    except ValueError as exc:  # urlsplit refuses e.g. unbalanced IPv6 brackets
        raise InvalidURL("invalid IPv6 address" if "IPv6" in str(exc) else "invalid host") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise InvalidURL(f'unsupported scheme "{scheme}" (only http and https)')
    if "@" in parts.netloc:
        raise InvalidURL("credentials in URL are not allowed")
    host_text, port_text = _split_host_port(parts.netloc)
    host = _normalise_host(host_text)
    port = _normalise_port(port_text, scheme)
    return _join(scheme, host, port, parts.path, parts.query)


def _join(scheme: str, host: str, port: int | None, path: str, query: str) -> str:
    netloc = host if port is None else f"{host}:{port}"
    if path in ("", "/"):
        # `example.com/` and `example.com` are one page; before a query the slash stays, so
        # that `example.com?q=1` and `example.com/?q=1` meet on `example.com/?q=1`.
        path = "/" if query else ""
    url = f"{scheme}://{netloc}{_ascii(path)}"
    return f"{url}?{_ascii(query)}" if query else url


def _check_characters(text: str) -> None:
    if text.isprintable() and " " not in text:
        return
    for char in text:
        if char.isspace():
            raise InvalidURL("contains spaces")
        if not char.isprintable():
            raise InvalidURL("contains control characters")


def _with_scheme(text: str) -> str:
    """`text` with https:// in front when it is a bare host (`example.com/a`, `host:8080`)."""
    if text.startswith("//"):
        return "https:" + text
    match = _SCHEME_RE.match(text)
    if match and _is_scheme(match.group(1), text[match.end() :]):
        return text
    return "https://" + text


def _is_scheme(candidate: str, rest: str) -> bool:
    lowered = candidate.lower()
    if lowered in _KNOWN_SCHEMES or rest.startswith("//"):
        return True
    if _PORT_LIKE_RE.match(rest) or lowered == "localhost" or "." in candidate:
        return False  # host:port, or a dotted name followed by a bad port
    return "@" not in rest.split("/", 1)[0]  # user:pass@host is a bare host with credentials


def _split_host_port(netloc: str) -> tuple[str, str | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidURL("invalid IPv6 address")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidURL("invalid host")
        return host, rest[1:] if rest else None
    host, colon, port = netloc.rpartition(":")
    if not colon:
        return netloc, None
    if ":" in host:
        if _is_ipv6(netloc):
            raise InvalidURL("IPv6 addresses must be in brackets")
        raise InvalidURL(f'invalid port "{shorten(netloc.partition(":")[2], 20)}"')
    return host, port


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _normalise_port(port_text: str | None, scheme: str) -> int | None:
    if not port_text:  # "example.com:" means the default port, as in browsers
        return None
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 10:
        raise InvalidURL(f'invalid port "{shorten(port_text, 20)}"')
    port = int(port_text)
    if not 0 < port <= 65535:
        raise InvalidURL(f'invalid port "{port_text}"')
    return None if port == DEFAULT_PORTS[scheme] else port


def _normalise_host(host: str) -> str:
    if host.startswith("["):
        return _normalise_ipv6(host[1:-1])
    if host.endswith("."):
        host = host[:-1]  # the fully qualified form names the same host
    if not host:
        raise InvalidURL("no host")
    host = host.lower() if host.isascii() else _encode_idn(host)
    if not _HOST_RE.match(host):
        raise InvalidURL(_host_problem(host))
    if len(host) > 253:
        raise InvalidURL("invalid host: longer than 253 characters")
    if "." not in host and host != "localhost" and not _NUMERIC_HOST_RE.match(host):
        raise InvalidURL("host needs a dot (e.g. example.com)")
    return host


def _normalise_ipv6(text: str) -> str:
    if "%" in text:  # zone ids only mean something on the machine that wrote them
        raise InvalidURL("invalid IPv6 address")
    try:
        return f"[{ipaddress.IPv6Address(text).compressed}]"
    except ValueError:
        raise InvalidURL("invalid IPv6 address") from None


def _host_problem(host: str) -> str:
    for label in host.split("."):
        if not label:
            return "invalid host: empty label"
        if len(label) > 63:
            return "invalid host: label longer than 63 characters"
        bad = _LABEL_CHAR_RE.search(label)
        if bad:
            return f'invalid host: "{bad.group()}" is not allowed'
    return "invalid host"


@functools.lru_cache(maxsize=4096)  # batches often hold many pages of one IDN host; idna is slow
def _encode_idn(host: str) -> str:
    """ASCII (punycode) form of a host with non-ASCII labels; ASCII labels are checked later."""
    try:
        if idna is not None:
            mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
            labels = mapped.split(".")
            encode = _alabel_2008
        else:  # pragma: no cover - only without the idna package
            labels = _IDN_DOTS_RE.split(host)
            encode = _alabel_2003
        return ".".join(label.lower() if label.isascii() else encode(label) for label in labels)
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        raise InvalidURL("invalid international domain name") from None


def _alabel_2008(label: str) -> str:
    return idna.alabel(label).decode("ascii")


def _alabel_2003(label: str) -> str:  # pragma: no cover - only without the idna package
    from encodings.idna import ToASCII

    return ToASCII(label).decode("ascii")


def _ascii(part: str) -> str:
    return part if part.isascii() else quote(part, safe=_SAFE_ASCII)


def shorten(text: str, limit: int = 200) -> str:
    # A pasted megabyte of junk should not be echoed back whole.
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Checks on short-link targets and codes; failures are FieldErrors."""

import ipaddress
import re
import secrets
import unicodedata
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

import idna

from graphql_api.core.errors import ErrorCode, FieldError

MAX_URL_BYTES = 2048
# No look-alikes (0/O, 1/l/I): a code can be read out and typed back.
CODE_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
RANDOM_CODE_LENGTH = 7
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,64}")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Kept as they are when non-ASCII is percent-encoded: reserved and unreserved characters, '%'.
URL_SAFE = "!#$%&'()*+,/:;=?@[]~-._"


def random_code(length: int = RANDOM_CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


LOOPBACK = "loopback"
# "This network" (RFC 1122): Linux and macOS connect 0.0.0.0 to the machine itself.
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_IPV4_NUMBER = re.compile(r"0[xX](?P<hex>[0-9a-fA-F]*)|0(?P<oct>[0-7]+)|(?P<dec>0|[1-9][0-9]*)")


def _ipv4_number(label: str) -> int | None:
    match = _IPV4_NUMBER.fullmatch(label)
    if match is None:
        return None
    if match["dec"] is not None:
        return int(match["dec"])
    return int(match["oct"], 8) if match["oct"] is not None else int(match["hex"] or "0", 16)


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a browser reads in `host` (the URL Standard's IPv4 parser: `127.1`,
    `0x7f.1`, `0177.0.0.1`, `2130706433`, `0x` ...), or None for a name."""
    numbers: list[int] = []
    for label in host.split("."):
        if (number := _ipv4_number(label)) is None:
            return None
        numbers.append(number)
    *first, last = numbers
    if len(numbers) > 4 or any(n > 255 for n in first) or last >= 256 ** (5 - len(numbers)):
        return None
    return ipaddress.IPv4Address(sum(n << 8 * (3 - i) for i, n in enumerate(first)) + last)


def host_key(host: str) -> str:
    """A host in a comparable form: punycode, lower case, IP addresses in their one
    spelling; every loopback or unspecified address and the whole `.localhost` domain
    (RFC 6761) are one key, LOOPBACK: wherever it is opened, such a link leads back to
    the machine that opens it, this server's when it is the one following it."""
    host = host.strip("[]").lower().rstrip(".")
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return host
        address = address.ipv4_mapped or address
    else:
        address = _ipv4(host)
    if address is None:
        name = host if host.isascii() else idna.encode(host, uts46=True).decode("ascii")
        return LOOPBACK if name == "localhost" or name.endswith(".localhost") else name
    if address.is_loopback or address.is_unspecified or address in _THIS_NETWORK:
        return LOOPBACK
    return str(address)


def _has_hidden_characters(value: str) -> bool:
    """Whitespace, control and format characters: the stuff of header and display tricks."""
    return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)


_BRACKETED = re.compile(r"(?:[^@]*@)?\[([^\]]*)\](?::\d*)?")


def _ascii_host(parts: SplitResult) -> str:
    if parts.netloc.lstrip().startswith("[") or "[" in parts.netloc:
        # An IPv6 literal, exactly: no zone ID, no IPvFuture, nothing after the bracket.
        match = _BRACKETED.fullmatch(parts.netloc)
        if match is None or "%" in match[1]:
            raise ValueError(parts.netloc)
        return f"[{ipaddress.IPv6Address(match[1]).compressed}]"
    return idna.encode(parts.hostname or "", uts46=True).decode("ascii")


def check_target_url(
    url: str, errors: list[FieldError], *, own_hosts: frozenset[str], field: str = "url"
) -> str:
    """The URL in canonical form (punycode host), or the input with an error appended."""
    url = url.strip()

    def refuse(code: ErrorCode, message: str) -> str:
        errors.append(FieldError((field,), code, message))
        return url

    if not url:
        return refuse(ErrorCode.REQUIRED, "url must not be empty.")
    if len(url.encode()) > MAX_URL_BYTES:
        return refuse(ErrorCode.TOO_LONG, f"url is at most {MAX_URL_BYTES} bytes.")
    if _has_hidden_characters(url):
        return refuse(ErrorCode.INVALID, "url must not contain whitespace or control characters.")
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            return refuse(ErrorCode.INVALID, "url must start with http:// or https://.")
        if parts.username is not None or parts.password is not None:
            return refuse(ErrorCode.INVALID, "url must not contain a user name or password.")
        if not parts.hostname:
            return refuse(ErrorCode.INVALID, "url must name a host.")
        port = parts.port
        host = _ascii_host(parts)
    except (ValueError, idna.IDNAError, UnicodeError):
        return refuse(ErrorCode.INVALID, "url has an invalid host or port.")
    key = host_key(host)
    if key == LOOPBACK:
        return refuse(
            ErrorCode.NOT_ALLOWED,
            "url must not point at localhost or a loopback or unspecified address "
            "(127.0.0.0/8, ::1, 0.0.0.0): such a link leads back to the machine that opens it.",
        )
    if key in own_hosts:
        return refuse(ErrorCode.NOT_ALLOWED, "url must not point at this server's short links.")
    netloc = host if port is None else f"{host}:{port}"
    path, query, fragment = (
        quote(p, safe=URL_SAFE) for p in (parts.path or "/", parts.query, parts.fragment)
    )
    canonical = urlunsplit((scheme, netloc, path, query, fragment))
    if not canonical.isascii():
        return refuse(ErrorCode.INVALID, "url has characters that cannot be sent in a redirect.")
    if len(canonical.encode()) > MAX_URL_BYTES:
        return refuse(ErrorCode.TOO_LONG, f"url is at most {MAX_URL_BYTES} bytes.")
    return canonical


def check_code(code: str, errors: list[FieldError], *, reserved: frozenset[str]) -> str:
    if not CODE_PATTERN.fullmatch(code):
        errors.append(
            FieldError(
                ("code",),
                ErrorCode.INVALID,
                "code has 3 to 64 characters from A-Z, a-z, 0-9, '_' and '-'.",
            )
        )
    elif code.lower() in reserved:
        errors.append(FieldError(("code",), ErrorCode.NOT_ALLOWED, f"code '{code}' is reserved."))
    return code

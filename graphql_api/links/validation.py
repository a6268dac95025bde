"""Checks on short-link targets and codes; failures are FieldErrors."""

import ipaddress
import re
import secrets
import socket
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


def host_key(host: str) -> str:
    """A host in a comparable form: punycode, lower case, IP addresses in their one
    spelling (`127.1`, `2130706433` and `::ffff:127.0.0.1` are all 127.0.0.1)."""
    host = host.strip("[]").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # the loose IPv4 forms browsers accept
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return idna.encode(host, uts46=True).decode("ascii") if not host.isascii() else host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return "loopback" if address.is_loopback else str(address)


def is_own_host(host: str, own_hosts: frozenset[str]) -> bool:
    """Whether `host` is this server, on any port or scheme ("localhost" is loopback)."""
    key = "loopback" if host.lower().rstrip(".") == "localhost" else host_key(host)
    return key in own_hosts


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
    if is_own_host(host, own_hosts):
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

"""Checks on short-link targets and codes; failures are FieldErrors."""

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


def host_key(host: str, port: int | None, scheme: str = "http") -> str:
    """A comparable `host:port` (IDN hosts in punycode, default port filled in)."""
    return f"{host.lower().rstrip('.')}:{port or DEFAULT_PORTS.get(scheme, 80)}"


def _has_hidden_characters(value: str) -> bool:
    """Whitespace, control and format characters: the stuff of header and display tricks."""
    return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)


def _ascii_host(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if host.startswith("[") or ":" in host:  # an IPv6 literal
        return f"[{host.strip('[]')}]"
    return idna.encode(host, uts46=True).decode("ascii")


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
    if host_key(host, port, scheme) in own_hosts:
        return refuse(ErrorCode.NOT_ALLOWED, "url must not point at this server's short links.")
    netloc = host if port is None else f"{host}:{port}"
    path, query, fragment = (
        quote(p, safe=URL_SAFE) for p in (parts.path or "/", parts.query, parts.fragment)
    )
    canonical = urlunsplit((scheme, netloc, path, query, fragment))
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

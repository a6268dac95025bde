"""Which hosts a target may name, whatever the server's own public URL."""

import pytest

from graphql_api.core.errors import FieldError
from graphql_api.links.validation import LOOPBACK, check_target_url, host_key

OWN_HOSTS = frozenset({host_key("sho.rt")})


def fullwidth(text: str) -> str:
    """The look-alike forms IDNA maps back to ASCII (U+FF01..U+FF5E)."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch != "." else ch for ch in text)


# Each names this very machine, as a browser or HTTP client reads it (the URL Standard).
LOOPBACK_TARGETS = [
    "http://localhost/",
    "http://LOCALHOST.:8000/",
    "http://anything.localhost:8000/",
    f"http://{fullwidth('localhost')}/",
    "http://127.0.0.1/",
    "http://127.255.255.254:9/",
    "http://127.1/",
    "http://127.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://0x7f.1/",
    "http://0X7F.0.0.1/",
    "http://0177.0.0.1/",
    "http://127.0.0.1./",
    f"http://{fullwidth('127.0.0.1')}/",
    "http://127\u30020\u30020\u30021/",  # ideographic full stops
    "http://0.0.0.0:8000/",
    "http://0:8000/",
    "http://0.0/",
    "http://0x/",
    "http://0x.0x.0x.0x/",
    "http://0.1.2.3/",  # "this network", 0.0.0.0/8
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]:8000/",
    "http://[::]:8000/",
    "http://[::0]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:0.0.0.0]/",
]
# Near misses that are other machines.
ELSEWHERE = [
    "http://localhost.example.com/",
    "http://notlocalhost/",
    "http://localhost-1/",
    "http://1.0.0.127/",
    "http://128.0.0.1/",
    "http://192.168.0.1/",
    "http://1.2.3.08/",  # not a number a browser reads: a name
    "http://[::2]/",
]


def check(url: str) -> list[tuple[str, str]]:
    errors: list[FieldError] = []
    check_target_url(url, errors, own_hosts=OWN_HOSTS)
    return [(e.code.value, e.message) for e in errors]


@pytest.mark.parametrize("url", LOOPBACK_TARGETS)
def test_every_loopback_or_unspecified_target_is_refused(url: str) -> None:
    ((code, message),) = check(url)
    assert code == "NOT_ALLOWED"
    assert "loopback" in message


@pytest.mark.parametrize("url", ["https://sho.rt/abc", "http://SHO.RT.:8080/abc"])
def test_the_servers_own_host_is_refused(url: str) -> None:
    assert check(url) == [("NOT_ALLOWED", "url must not point at this server's short links.")]


@pytest.mark.parametrize("url", ELSEWHERE)
def test_other_hosts_are_allowed(url: str) -> None:
    assert check(url) == []


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0", "x.localhost"]
)
def test_a_loopback_public_url_is_one_key(host: str) -> None:
    assert host_key(host) == LOOPBACK

"""What a User-Agent says: bot or not, browser, operating system, kind of device."""

from dataclasses import dataclass
from functools import lru_cache

from crawlerdetect import CrawlerDetect
from ua_parser import parse

_crawlers = CrawlerDetect()
_MOBILE_OS = {"Android", "iOS", "Windows Phone", "KaiOS", "BlackBerry OS"}


@dataclass(frozen=True, slots=True)
class Agent:
    is_bot: bool
    browser: str | None
    os: str | None
    device: str  # desktop | mobile | tablet | bot | other


# The detectors' regular expressions cost more the longer the string (~6 ms at 500
# characters); every real User-Agent says what it is well before this many.
DETECT_CHARS = 256


@lru_cache(maxsize=8192)
def is_bot(user_agent: str | None) -> bool:
    """Crawlers, link unfurlers and scripts; an empty User-Agent counts as a bot too."""
    return not user_agent or bool(_crawlers.isCrawler(user_agent[:DETECT_CHARS]))


@lru_cache(maxsize=8192)
def classify(user_agent: str | None) -> Agent:
    """Parse a User-Agent (cached: the same few strings come again and again)."""
    bot = is_bot(user_agent)
    if not user_agent:
        return Agent(is_bot=True, browser=None, os=None, device="bot")
    parsed = parse(user_agent[:DETECT_CHARS])
    browser = parsed.user_agent.family if parsed.user_agent else None
    os = parsed.os.family if parsed.os else None
    family = (parsed.device.family if parsed.device else "") or ""
    if bot:
        device = "bot"
    elif (
        "ipad" in family.lower()
        or "tablet" in user_agent.lower()
        or (os == "Android" and "mobile" not in user_agent.lower())
    ):
        device = "tablet"
    elif os in _MOBILE_OS:
        device = "mobile"
    elif os is not None and os != "Other":
        device = "desktop"
    else:
        device = "other"
    return Agent(is_bot=bot, browser=_known(browser), os=_known(os), device=device)


def _known(name: str | None) -> str | None:
    return None if name in (None, "Other") else name[:64]

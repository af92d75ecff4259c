"""Content safety: a chain of checks, configured in order; each passes, refuses or sends to review.

A refusal (`ContentRefused`, answered 422 by functions/error_map.py) never echoes the offending words. A
provider that cannot answer follows
MODERATION_FAILURE (refuse by default: unchecked text must not be spoken in a real person's voice). A
"review" verdict is logged for a human and, per MODERATION_REVIEW, passes (default) or refuses.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Protocol

from ..text.markup import Markup, parse_markup

log = logging.getLogger(__name__)


class ContentRefused(Exception):
    """A provider refused the text (`under_review`: it asked for a human's review and reviews refuse)."""

    def __init__(self, detail: str, *, under_review: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.under_review = detail, under_review


class ModerationUnavailable(Exception):
    """A provider could not give a verdict (raised by the chain when MODERATION_FAILURE=refuse)."""


@dataclass(frozen=True)
class Verdict:
    outcome: str  # pass | refuse | review
    provider: str
    label: str = ""


@dataclass(frozen=True)
class Subject:
    """What is checked, and for whom (WeChat checks need the user's openid)."""

    text: str
    identity_method: str
    subject: str
    scene: int = 1  # WeChat: 1 profile, 2 comment, 3 forum, 4 social log

    @functools.cached_property
    def markup(self) -> Markup:
        """The text's markup, parsed leniently: what is not valid markup stays text and is checked."""
        return parse_markup(self.text, strict=False)

    @property
    def spoken(self) -> str:
        """The text without markup: what providers judge (`违[breath]禁` is `违禁`)."""
        return self.markup.plain


class Provider(Protocol):
    name: str
    local: bool  # cheap enough to run on every request, cache hits included

    def check(self, item: Subject) -> Verdict: ...


class ModerationChain:
    def __init__(self, providers: list[Provider], *, on_failure: str = "refuse", on_review: str = "pass") -> None:
        self.providers, self.on_failure, self.on_review = providers, on_failure, on_review

    def check_local(self, item: Subject) -> list[Verdict]:
        """The cheap local checks: run on every request, cache hits included (a list update applies at once)."""
        return self._run([p for p in self.providers if p.local], item)

    def check_remote(self, item: Subject) -> list[Verdict]:
        """The cloud checks: they cost a call, so they run once per new text (cache misses)."""
        return self._run([p for p in self.providers if not p.local], item)

    def _run(self, providers: list[Provider], item: Subject) -> list[Verdict]:
        verdicts = []
        for provider in providers:
            try:
                verdict = provider.check(item)
            except ModerationUnavailable as exc:
                log.warning("moderation provider %s unavailable: %s", provider.name, exc)
                if self.on_failure == "refuse":
                    raise ModerationUnavailable(f"{provider.name}: {exc}") from exc
                verdicts.append(Verdict("pass", provider.name, "unavailable"))
                continue
            verdicts.append(verdict)
            if verdict.outcome == "refuse":
                raise ContentRefused(f"{provider.name}:{verdict.label}")
            if verdict.outcome == "review":
                log.warning("moderation review requested by %s (%s)", provider.name, verdict.label)
                if self.on_review == "refuse":
                    raise ContentRefused(f"{provider.name}:{verdict.label}", under_review=True)
        return verdicts


def build_chain(settings) -> ModerationChain:
    providers: list[Provider] = []
    for name in filter(None, (n.strip() for n in settings.moderation.split(","))):
        if name == "keywords":
            from .keywords import KeywordFilter

            providers.append(KeywordFilter.from_settings(settings))
        elif name == "wechat":
            from .wechat import WeChatMsgSecCheck

            providers.append(WeChatMsgSecCheck.from_settings(settings))
        elif name == "tencent":
            from .tencent_tms import TencentTextModeration

            providers.append(TencentTextModeration.from_settings(settings))
        else:
            raise ValueError(f"unknown moderation provider {name!r} (keywords, wechat, tencent)")
    return ModerationChain(providers, on_failure=settings.moderation_failure, on_review=settings.moderation_review)

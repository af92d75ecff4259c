"""The consent statement itself (functions/voices/consent.py): the two accepted statements pass through
unchanged, anything else is refused with the notice that tells the caller exactly what to declare."""

from __future__ import annotations

import pytest

from functions.errors import BadRequest
from functions.voices.consent import BASES, require_consent

# The notice the regulation asks for: the caller is told which two statements exist and how to send each.
NOTICE = "克隆声音需要你的声明：这是你本人的声音（consent=self），或你已取得声音本人的单独同意（consent=authorized）"


@pytest.mark.parametrize("value", ["self", "authorized"])
def test_an_accepted_statement_is_kept_as_given(value):
    assert require_consent(value) == value


def test_exactly_two_statements_are_accepted():
    assert set(BASES) == {"self", "authorized"}


@pytest.mark.parametrize("value", [None, "", "Self", " self", "authorised", "yes", True, ["self"]])
def test_anything_else_is_refused_with_the_notice(value):
    with pytest.raises(BadRequest) as refused:
        require_consent(value)
    assert refused.value.status == 400 and refused.value.code == "consent_required"
    assert refused.value.message == NOTICE
    assert "consent=self" in refused.value.message and "consent=authorized" in refused.value.message

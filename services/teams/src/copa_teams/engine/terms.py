"""The words the team engine speaks: spelled as the contracts spell them (a test checks)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Literal

Gender = Literal["M", "F"]
ResultStatus = Literal["OK", "DNS", "DNF", "DQ"]
PublicationStatus = Literal["provisional", "official"]
ParticipantId = uuid.UUID
TeamId = uuid.UUID

GENDERS: tuple[Gender, ...] = ("M", "F")
GENDER_WORDS: dict[Gender, str] = {"M": "men's", "F": "women's"}


class EngineError(ValueError):
    """Input the engine cannot score (a programming or data error, never a user's mistake)."""


_SPACE = re.compile(r"\s+")


def name_tokens(name: str) -> tuple[str, ...]:
    """A full name as comparable tokens: case, accents of Latin letters, `ё`/`е`, hyphens,
    dots and word order do not matter ("Nurlanovna  Aigerim" matches "aigerim nurlanovna").

    The regulations ask for the full name on the team form (reg 4.2.4) and people write it in
    either order; the BIB identifies the runner, the name only confirms it.
    """
    text = unicodedata.normalize("NFKD", name.casefold().replace("ё", "е"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[-.,'’`]", " ", text)
    return tuple(sorted(token for token in _SPACE.split(text) if token))

"""The service's handlers on its real database, without the broker: what is recorded for whom,
in which language, for the 3000 m qualification (reg 4.2.3), a postponement (reg 16.1) and an
announcement, relay teams included (RULES §8)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import text

from copa_notifications.api import AnnouncementIn, announce

LANGUAGES = ("ru", "kk", "en")
# reg 4.2.3: an organizer checks the result first, and payment opens after that...
CHECK_FIRST = (
    "сначала организатор проверит ваши доказательства",
    "алдымен ұйымдастырушы дәлелдеріңізді тексереді",
    "an organizer checks your evidence first",
)
NOTHING_DUE = (
    "Платить пока ничего не нужно",
    "Әзірге ештеңе төлеудің қажеті жоқ",
    "Nothing is due yet",
)
# ... and never the company's bank transfer of reg 7.2.
COMPANY = ("банковским переводом", "банктік аударыммен", "bank transfer")
# The 30-minute hold from the acceptance, 2024-03-10 06:00 UTC: 11:30 in Almaty (UTC+5).
PAY_BY = (
    "до 10 марта 2024 г., 11:30",
    "2024 ж. 10 наурыз, 11:30 дейін",
    "by March 10, 2024, 11:30",
)


def flat(value: str) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", value)


async def recorded(db, template: str) -> list[Any]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            text(
                "SELECT recipient, language, participant_id, subject, body_text, body_html "
                "FROM deliveries WHERE template = :template ORDER BY recipient"
            ),
            {"template": template},
        )
        return list(rows.all())


async def test_3000m_applicant_hears_the_check_comes_first_not_a_company_transfer(db, notif):
    run = uuid.uuid4().hex[:8]
    people = [
        notif.Person(lang, f"{run}-q{n}", distance="3000m") for n, lang in enumerate(LANGUAGES)
    ]
    # An event from before `awaiting` existed: no deadline and a qualification still means
    # the qualification check.
    legacy = notif.Person("en", f"{run}-legacy", distance="3000m")
    old_event = legacy.applied(qualification=True).model_copy(update={"awaiting": None})
    await notif.consume(db, *(p.applied(qualification=True) for p in people), old_event)

    rows = {row.recipient: row for row in await recorded(db, "application-received")}
    assert len(rows) == 4
    for n, person in enumerate([*people, legacy]):
        n = min(n, 2)
        row = rows[person.email]
        for body in (flat(row.body_text), flat(row.body_html)):
            assert CHECK_FIRST[n] in body, (person.language, body)
            assert NOTHING_DUE[n] in body, (person.language, body)
            assert COMPANY[n] not in body, (person.language, body)
            assert ("9 000 ₸" if n < 2 else "9,000 KZT") in body


async def test_accepted_qualification_says_until_when_the_fee_is_due(db, notif):
    run = uuid.uuid4().hex[:8]
    people = [
        notif.Person(lang, f"{run}-a{n}", distance="3000m") for n, lang in enumerate(LANGUAGES)
    ]
    await notif.consume(db, *(p.qualification_accepted() for p in people))
    rows = {row.recipient: row for row in await recorded(db, "qualification-accepted")}
    for n, person in enumerate(people):
        for body in (flat(rows[person.email].body_text), flat(rows[person.email].body_html)):
            assert PAY_BY[n] in body, (person.language, body)
            assert person.number in body
            assert "Asia/Almaty" in body


async def test_postponement_reaches_relay_captains_once_in_their_language(db, notif):
    run = uuid.uuid4().hex[:8]
    runner = notif.Person("ru", f"{run}-solo")
    team = notif.relay_team("kk", f"{run}-captain")  # "Almaty Runners", a Kazakh captain
    # A runner who also captains a relay team hears it once, with the team named.
    own_team = notif.relay_team("ru", f"{run}-both").model_copy(
        update={"contact": runner.contact, "team_name": "Kaspi Relay", "bib": 5013}
    )
    await notif.consume(db, runner.applied(), runner.paid(), team, own_team, notif.postponed())

    rows = {row.recipient: row for row in await recorded(db, "edition-postponed")}
    assert set(rows) == {runner.email, team.contact.email}
    captain = rows[team.contact.email]
    assert captain.language == "kk"
    assert captain.participant_id is None
    assert captain.subject == "Жарыс 2024 ж. 24 наурыз күніне ауыстырылды"
    assert "Almaty Runners эстафета командаңызға да қатысты" in flat(captain.body_text)
    assert "Almaty Runners" in captain.body_html
    both = rows[runner.email]
    assert both.participant_id == runner.id
    assert "вашей эстафетной команды Kaspi Relay" in flat(both.body_text)


async def test_announcement_to_everyone_or_the_relay_reaches_relay_captains(db, notif):
    run = uuid.uuid4().hex[:8]
    runner = notif.Person("ru", f"{run}-ann")
    team = notif.relay_team("en", f"{run}-ann-captain")
    await notif.consume(db, runner.applied(), runner.paid(), team)

    async def send(audience: dict[str, Any]) -> int:
        body = AnnouncementIn.model_validate(
            {"audience": audience, "messages": {"en": {"subject": "Parking", "body": "East gate."}}}
        )
        async with db.unit_of_work() as session:
            answer = await announce(session, None, body)  # type: ignore[arg-type]
        return answer.audience_size

    assert await send({"kind": "all"}) == 2
    assert await send({"kind": "distance", "distance": "relay"}) == 1
    assert await send({"kind": "distance", "distance": "100m"}) == 1
    assert await send({"kind": "all", "gender": "F"}) == 1  # a relay team is mixed
    to_captain = [
        r for r in await recorded(db, "announcement") if r.recipient == team.contact.email
    ]
    assert len(to_captain) == 2
    assert all("Hello, Anna!" in r.body_text and "East gate." in r.body_text for r in to_captain)

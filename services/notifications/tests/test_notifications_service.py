"""Notifications as production runs it: its own process, real PostgreSQL, the real broker,
a real SMTP server. Every trigger reaches its participant in their language, once (issue 7)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from copa_contracts.ranking import RaceResultsCorrected, RaceResultsOfficial, RaceResultsProvisional

LANGUAGES = ("ru", "kk", "en")

# Words of each language's subject line, per template: the message is in the right language.
SUBJECTS = {
    "application-received": ("Заявка принята", "Өтінім қабылданды", "Application received"),
    "participant-paid": (
        "Оплата подтверждена: стартовый номер 17",
        "Төлем расталды: старттық нөмір 17",
        "Payment confirmed: BIB 17",
    ),
    "kit-issued": ("Стартовый пакет получен", "Старттық пакет алынды", "Starter kit collected"),
    "start-list": (
        "Ваш старт: забег 7 в 09:15",
        "Стартыңыз: 7-жарыс, сағат 09:15",
        "Your start: race 7 at 9:15",
    ),
    "result-provisional": (
        "Ваш предварительный результат: 100 м",
        "Алдын ала нәтижеңіз: 100 м",
        "Your provisional result: 100 m",
    ),
    "result-official": ("Ваш официальный результат", "Ресми нәтижеңіз", "Your official result"),
    "result-corrected": (
        "Ваш результат исправлен",
        "Нәтижеңіз түзетілді",
        "Your result was corrected",
    ),
    "team-standings": ("Командный зачёт", "Командалық есеп", "Team classification"),
    "protest-received": (
        "Ваш протест получен",
        "Наразылығыңыз қабылданды",
        "Your protest was received",
    ),
    "protest-answered": ("Ответ на ваш протест", "Наразылығыңызға жауап", "Answer to your protest"),
    "edition-postponed": (
        "Соревнование перенесено на 24 марта 2024",
        "Жарыс 2024 ж. 24 наурыз күніне ауыстырылды",
        "The competition is postponed to March 24, 2024",
    ),
    "hold-expired": ("Место освобождено", "Орын босатылды", "Your slot was released"),
    "application-refused": (
        "Заявка отклонена",
        "Өтінім қабылданбады",
        "Your application was refused",
    ),
    "free-slot-granted": (
        "Бесплатный слот предоставлен",
        "Тегін орын берілді",
        "Free slot granted",
    ),
    "free-slot-refused": (
        "В бесплатном слоте отказано",
        "Тегін орын берілмеді",
        "Free slot refused",
    ),
    "qualification-accepted": (
        "Квалификационный результат принят",
        "Біліктілік нәтижесі қабылданды",
        "Qualifying result accepted",
    ),
    "qualification-refused": (
        "Квалификационный результат не принят",
        "Біліктілік нәтижесі қабылданбады",
        "Qualifying result not accepted",
    ),
    "distance-changed": (
        "Дистанция изменена: ваш новый стартовый номер 1204",
        "Қашықтық өзгертілді: жаңа старттық нөміріңіз 1204",
        "Distance changed: your new BIB is 1204",
    ),
    "participant-banned": (
        "Запрет на участие",
        "Келесі жарыстарға қатысуға тыйым",
        "You may not enter the next editions",
    ),
    "relay-team-registered": (
        "Эстафетная команда зарегистрирована: Almaty Runners",
        "Эстафета командасы тіркелді: Almaty Runners",
        "Relay team registered: Almaty Runners",
    ),
}
# Data each message must carry, per language (spaces normalised).
BODIES = {
    "participant-paid": ("5 000 ₸", "5 000 ₸", "5,000 KZT"),
    "kit-issued": ("(п. 8.5)", "(8.5-тармақ)", "(reg. 8.5)"),
    "start-list": ("Ваша дорожка: 1.", "Сіздің жолағыңыз: 2.", "Your lane: 3."),
    "result-provisional": ("Время: 12.34.", "Уақыт: 12.34.", "Time: 12.34."),
    "result-official": (
        "Место в категории 18-34: 5.",
        "18-34 санатындағы орын: 5.",
        "Place in category 18-34: 5.",
    ),
    "result-corrected": ("Время: 12.50.", "Уақыт: 12.50.", "Time: 12.50."),
    "team-standings": ("41 очко", "41 ұпаймен 2-орында", "placed 2 with 41 points"),
    "edition-postponed": ("Heavy snowfall.", "Heavy snowfall.", "Heavy snowfall."),
    "distance-changed": ("всего 3 000 ₸", "барлығы 3 000 ₸", "3,000 KZT in all"),
    "qualification-refused": ("больше 3 лет", "3 жылдан асты", "more than 3 years old"),
    "relay-team-registered": (
        "В команде 4 бегуна:",
        "Командада 4 жүгіруші:",
        "The team has 4 runners:",
    ),
    "application-refused": ("не осталось мест", "бос орын қалмады", "no places left"),
}
# A 3000 m applicant (no hold yet, reg 4.2.3) hears the organizer checks first, never that a
# company pays (reg 7.2); once accepted, until when to pay (06:30 UTC is 11:30 in Almaty).
QUALIFICATION_FIRST = (
    "сначала организатор проверит",
    "алдымен ұйымдастырушы дәлелдеріңізді тексереді",
    "an organizer checks your evidence first",
)
COMPANY = ("банковским переводом", "банктік аударыммен", "bank transfer")
HELD_UNTIL = ("сохраняется до", "дейін сақталады", "held until")
PAY_BY = (
    "до 10 марта 2024 г., 11:30",
    "2024 ж. 10 наурыз, 11:30 дейін",
    "by March 10, 2024, 11:30",
)
# The postponement reaches each relay team's captain, for the team (reg 16.1, RULES §8).
TEAM_TOLD = (
    "вашей эстафетной команды Almaty Runners",
    "Almaty Runners эстафета командаңызға да қатысты",
    "your relay team Almaty Runners",
)
# The relay (15:00 local) in each language: start time and the time of the team (4:11.00).
RELAY_WORDS = (
    ("комбинированная эстафета", "4:11.00"),
    ("аралас эстафета", "4:11.00"),
    ("medley relay", "4:11.00"),
)
MAIN = {
    "application-received",
    "participant-paid",
    "kit-issued",
    "protest-received",
    "protest-answered",
    "start-list",
    "result-provisional",
    "result-official",
    "result-corrected",
    "team-standings",
    "edition-postponed",
}
SIDE = {
    "application-received",
    "hold-expired",
    "application-refused",
    "free-slot-granted",
    "free-slot-refused",
    "qualification-accepted",
    "qualification-refused",
    "distance-changed",
    "participant-banned",
}


def flat(text: str) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", text)


def by_template(mails) -> dict[str, object]:
    found: dict[str, object] = {}
    for mail in mails:
        template = mail.message["X-Copa-Template"]
        assert template not in found, f"{template} sent twice to {mail.rcpt_tos}"
        found[template] = mail
    return found


async def test_every_trigger_reaches_its_participant_once_in_their_language(
    service_process, smtp_sink, fast_env, bus, notif
):
    fast_env(smtp_sink.url)
    service_process("notifications", role="all")
    run = uuid.uuid4().hex[:8]
    runners = {
        lang: notif.Person(lang, f"{run}-a{n}", bib=17 + n) for n, lang in enumerate(LANGUAGES)
    }
    # Only the Russian runner has BIB 17: the subjects above expect it, the others differ.
    for n, lang in enumerate(LANGUAGES):
        runners[lang].bib = 17 if lang == "ru" else 40 + n
    others = {
        lang: notif.Person(lang, f"{run}-b{n}", distance="3000m")
        for n, lang in enumerate(LANGUAGES)
    }
    captains = {lang: notif.relay_team(lang, f"{run}-c{n}") for n, lang in enumerate(LANGUAGES)}

    # Registration's events (reg 7, 8, 17).
    first = []
    for lang in LANGUAGES:
        a, b = runners[lang], others[lang]
        first += [a.applied(), a.paid(), a.kit_issued(), a.protest_received(), a.protest_answered()]
        first += [b.applied(qualification=True), b.hold_expired(), b.refused()]
        first += [b.free_slot_granted(), b.free_slot_refused(), b.qualification_accepted()]
        first += [b.qualification_refused(), b.distance_changed(), b.banned(), captains[lang]]
    sent = await bus.publish(*first)
    for lang in LANGUAGES:
        await notif.wait_for_mails(smtp_sink, runners[lang].email, 5, settle_s=0)
        await notif.wait_for_mails(smtp_sink, others[lang].email, len(SIDE), settle_s=0)
        await notif.wait_for_mails(smtp_sink, captains[lang].contact.email, 1, settle_s=0)

    # Ranking's events (reg 11): places per category and gender, the draw, the results.
    people = [runners[lang] for lang in LANGUAGES]
    race_id = uuid.uuid4()
    start_list = notif.race(people, race_id)
    await bus.publish(
        notif.standings(people, category=True), notif.standings(people, category=False)
    )
    await bus.publish(start_list, notif.results(RaceResultsProvisional, people, race_id))
    # The relay's start and result go to each team's captain (RULES §8).
    teams = [captains[lang] for lang in LANGUAGES]
    relay_id = uuid.uuid4()
    await bus.publish(notif.relay_race(teams, relay_id), notif.relay_results(teams, relay_id))
    for person in people:
        await notif.wait_for_mails(smtp_sink, person.email, 7, settle_s=0)
    official = notif.results(
        RaceResultsOfficial,
        people,
        race_id,
        confirmed_by="chief",
        confirmed_at=start_list.scheduled_start_at,
    )
    # A provisional result published again (a judge's change) is not mailed again (reg 11.1).
    await bus.publish(
        official, notif.results(RaceResultsProvisional, people, race_id, first_time_us=12_360_000)
    )
    for person in people:
        await notif.wait_for_mails(smtp_sink, person.email, 8, settle_s=0)
    corrected = notif.results(
        RaceResultsCorrected,
        people,
        race_id,
        first_time_us=12_500_000,
        reason="Protest upheld",
        protest_id=None,
        corrected_by="chief",
        corrected_at=start_list.scheduled_start_at,
    )
    await bus.publish(corrected, notif.team_standings(people))
    for person in people:
        await notif.wait_for_mails(smtp_sink, person.email, 10, settle_s=0)
    # The postponement goes to everyone entered and to the relay captains (reg 16.1); the
    # banned person is not entered.
    await bus.publish(notif.postponed())

    # Redelivery: the same events again (same ids), and the same start list revised with
    # nothing changed for anyone, send nothing.
    same_list = notif.race(people, race_id, revision=2)
    await bus.publish(*sent, start_list, same_list)

    for n, lang in enumerate(LANGUAGES):
        main = by_template(await notif.wait_for_mails(smtp_sink, runners[lang].email, len(MAIN)))
        side = by_template(
            await notif.wait_for_mails(smtp_sink, others[lang].email, len(SIDE), settle_s=0)
        )
        relay = by_template(
            await notif.wait_for_mails(smtp_sink, captains[lang].contact.email, 4, settle_s=0)
        )
        assert set(main) == MAIN
        assert set(side) == SIDE
        assert set(relay) == {
            "relay-team-registered",
            "start-list",
            "result-provisional",
            "edition-postponed",
        }
        for template, mail in [*main.items(), *side.items(), *relay.items()]:
            subject, body = flat(mail.subject), flat(mail.text())
            if mail in (relay.get("start-list"), relay.get("result-provisional")):
                continue  # checked below
            if template in SUBJECTS and not (template == "participant-paid" and lang != "ru"):
                assert SUBJECTS[template][n] in subject, (lang, template, subject)
            if template in BODIES:
                assert BODIES[template][n] in body, (lang, template, body)
            assert mail.message["Content-Language"] == lang
            assert mail.message.get_body(preferencelist=("html",)) is not None
            # Nothing of anyone else (RULES §10): no other person's address or name.
            for other in [*people, *others.values()]:
                if other.email not in mail.rcpt_tos:
                    assert other.email not in flat(mail.raw.decode("utf-8", "replace"))
                    assert other.contact.last_name not in body
        applied_3000 = flat(side["application-received"].text())
        assert QUALIFICATION_FIRST[n] in applied_3000, applied_3000
        assert COMPANY[n] not in applied_3000
        assert HELD_UNTIL[n] not in applied_3000
        applied_100 = flat(main["application-received"].text())
        assert HELD_UNTIL[n] in applied_100, applied_100
        assert COMPANY[n] not in applied_100
        accepted = flat(side["qualification-accepted"].text())
        assert PAY_BY[n] in accepted, accepted
        assert TEAM_TOLD[n] in flat(relay["edition-postponed"].text())
        relay_start = flat(relay["start-list"].text())
        assert RELAY_WORDS[n][0] in relay_start, relay_start
        assert "5012" in relay_start
        relay_result = flat(
            relay["result-provisional"].subject + relay["result-provisional"].text()
        )
        assert RELAY_WORDS[n][1] in relay_result, relay_result
        # Dates and times in Almaty time (RULES §1): the 100 m heat starts 04:15 UTC.
        assert "09:15" in flat(main["start-list"].text()) or "9:15" in main["start-list"].text()
    addresses = [p.email for p in [*people, *others.values()]]
    addresses += [c.contact.email for c in captains.values()]
    message_ids = [m.message["Message-ID"] for a in addresses for m in notif.mails_to(smtp_sink, a)]
    assert len(message_ids) == len(set(message_ids))


async def test_a_changed_start_is_sent_again_and_an_unchanged_one_is_not(
    service_process, smtp_sink, fast_env, bus, notif
):
    fast_env(smtp_sink.url)
    service_process("notifications", role="all")
    run = uuid.uuid4().hex[:8]
    people = [notif.Person(lang, f"{run}-s{n}", bib=17 + n) for n, lang in enumerate(LANGUAGES)]
    ru, kk, en = people
    await bus.publish(*(event for p in people for event in (p.applied(), p.paid())))
    for person in people:
        await notif.wait_for_mails(smtp_sink, person.email, 2, settle_s=0)

    race_id = uuid.uuid4()
    first = notif.race(people, race_id)  # lanes 1, 2, 3; 04:15 UTC, 09:15 in Almaty
    await bus.publish(first)
    for person in people:
        await notif.wait_for_mails(smtp_sink, person.email, 3, settle_s=0)

    def revised(event, revision: int, **changes):
        lanes = changes.pop("lanes", {})
        entries = tuple(
            entry.model_copy(update={"lane": lanes.get(entry.participant_id, entry.lane)})
            for entry in event.entries
        )
        return event.model_copy(update={"revision": revision, "entries": entries, **changes})

    # The same list delivered again, and republished as a new revision with nothing changed
    # for anyone: nothing is sent. Then the English runner moves to lane 8 (reg 11.3).
    moved = revised(first, 3, lanes={en.id: 8})
    await bus.publish(first, revised(first, 2), moved)
    (*_, lane_mail) = await notif.wait_for_mails(smtp_sink, en.email, 4)
    assert len(notif.mails_to(smtp_sink, ru.email)) == 3
    assert len(notif.mails_to(smtp_sink, kk.email)) == 3
    assert flat(lane_mail.subject) == "Your start has changed: race 7 at 9:15 AM"
    assert "Your lane: 8." in lane_mail.text()
    assert "this message replaces the previous one" in lane_mail.text()

    # The race moves 15 minutes later: everyone hears it once, though the list comes twice;
    # the older revision arriving after it changes nothing.
    later = revised(moved, 4, scheduled_start_at=first.scheduled_start_at + timedelta(minutes=15))
    await bus.publish(later, later, moved)
    ru_mails = await notif.wait_for_mails(smtp_sink, ru.email, 4)
    kk_mails = await notif.wait_for_mails(smtp_sink, kk.email, 4, settle_s=0)
    en_mails = await notif.wait_for_mails(smtp_sink, en.email, 5, settle_s=0)
    assert (len(ru_mails), len(kk_mails), len(en_mails)) == (4, 4, 5)
    assert ru_mails[-1].subject == "Ваш старт изменился: забег 7 в 09:30"
    assert "Ваша дорожка: 1." in ru_mails[-1].text()
    assert kk_mails[-1].subject == "Стартыңыз өзгерді: 7-жарыс, сағат 09:30"
    assert "Your lane: 8." in en_mails[-1].text()
    assert "9:30" in en_mails[-1].subject
    for mails in (ru_mails, kk_mails, en_mails):
        assert all(m.message["X-Copa-Template"] == "start-list" for m in mails[2:])

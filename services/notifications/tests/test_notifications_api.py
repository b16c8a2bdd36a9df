"""The organizers' side over real HTTP: the delivery log with filters and pages, previews in
each language, resending one message, announcements to an audience (issue 7)."""

from __future__ import annotations

import uuid

import httpx


async def test_organizer_sees_the_log_previews_resends_and_announces(
    service_process, smtp_sink, fast_env, bus, notif
):
    fast_env(smtp_sink.url)
    service = service_process("notifications", role="all")
    run = uuid.uuid4().hex[:8]
    sprinter = notif.Person("ru", f"{run}-api1")  # paid, 100 m
    miler = notif.Person("kk", f"{run}-api2", distance="1000m", bib=1001)  # paid, 1000 m
    waiting = notif.Person("en", f"{run}-api3")  # applied, unpaid, 100 m
    await bus.publish(
        sprinter.applied(), sprinter.paid(), miler.applied(), miler.paid(), waiting.applied()
    )
    await notif.wait_for_mails(smtp_sink, sprinter.email, 2, settle_s=0)
    await notif.wait_for_mails(smtp_sink, miler.email, 2, settle_s=0)
    await notif.wait_for_mails(smtp_sink, waiting.email, 1, settle_s=0)

    async with httpx.AsyncClient(base_url=service.base_url) as anonymous:
        denied = await anonymous.get("/deliveries")
        assert denied.status_code == 401
        assert denied.headers["content-type"] == "application/problem+json"
        judge = {"Authorization": f"Bearer {service.token('judge')}"}
        assert (await anonymous.get("/deliveries", headers=judge)).status_code == 403

    headers = {"Authorization": f"Bearer {service.token('organizer')}"}
    async with httpx.AsyncClient(base_url=service.base_url, headers=headers) as client:

        async def all_sent() -> bool:
            page = (await client.get("/deliveries", params={"status": "pending"})).json()
            return page["total"] == 0

        await notif.eventually(all_sent)
        # The log: who, what, when, outcome; filtered and paged.
        mine = (await client.get("/deliveries", params={"participant_id": str(sprinter.id)})).json()
        assert mine["total"] == 2
        assert {i["template"] for i in mine["items"]} == {
            "application-received",
            "participant-paid",
        }
        assert all(
            i["status"] == "sent" and i["recipient"] == sprinter.email for i in mine["items"]
        )
        assert all(i["sent_at"] and i["attempts"] == 1 for i in mine["items"])
        pages = [
            (await client.get("/deliveries", params={"limit": 2, "offset": offset})).json()
            for offset in (0, 2, 4)
        ]
        assert [p["total"] for p in pages] == [5, 5, 5]
        ids = [i["delivery_id"] for p in pages for i in p["items"]]
        assert len(ids) == len(set(ids)) == 5
        paid = (
            await client.get(
                "/deliveries",
                params={"template": "participant-paid", "since": "2020-01-01T00:00:00+05:00"},
            )
        ).json()
        naive = await client.get("/deliveries", params={"since": "2020-01-01T00:00:00"})
        assert naive.status_code == 422
        future = await client.get("/deliveries", params={"since": "2099-01-01T00:00:00Z"})
        assert future.json()["total"] == 0
        assert {i["recipient"] for i in paid["items"]} == {sprinter.email, miler.email}
        one = (await client.get(f"/deliveries/{paid['items'][0]['delivery_id']}")).json()
        assert "<html" in one["body_html"]
        assert one["body_text"]
        missing = await client.get(f"/deliveries/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"

        # Previews with sample data, in each language.
        names = (await client.get("/templates")).json()
        assert {"kit-reminder", "result-official", "announcement"} <= set(names)
        for language, words in (
            ("ru", "Стартовые пакеты выдаются"),
            ("kk", "Старттық пакеттер"),
            ("en", "Starter kits are issued on"),
        ):
            shown = await client.get(
                "/templates/kit-reminder/preview", params={"language": language}
            )
            assert shown.status_code == 200, shown.text
            assert words in shown.json()["text"]
            assert "111 Nauryzbay Batyr St" in shown.json()["html"]
        assert (await client.get("/templates/nope/preview")).status_code == 404
        assert (
            await client.get("/templates/kit-reminder/preview", params={"language": "de"})
        ).status_code == 422

        # Resend one message: a new delivery with the same content.
        original = next(i for i in mine["items"] if i["template"] == "participant-paid")
        resent = await client.post(f"/deliveries/{original['delivery_id']}/resend")
        assert resent.status_code == 202
        assert resent.json()["delivery_id"] != original["delivery_id"]
        again = await notif.wait_for_mails(smtp_sink, sprinter.email, 3)
        assert [m.subject for m in again].count(original["subject"]) == 2

        # Announcements: the audience comes from the projection; wording per language.
        unpaid = {
            "audience": {"kind": "unpaid"},
            "messages": {
                "ru": {"subject": "Оплатите взнос", "body": "Осталось мало мест."},
                "en": {"subject": "Please pay", "body": "Few places are left.\n\nHurry."},
            },
            "include_results_link": True,
        }
        answer = await client.post("/announcements", json=unpaid)
        assert answer.status_code == 202, answer.text
        assert answer.json()["audience_size"] == 1
        (note,) = [
            m
            for m in await notif.wait_for_mails(smtp_sink, waiting.email, 2)
            if m.subject == "Please pay"
        ]
        assert "Few places are left." in note.text()
        assert "https://copa.run/results/2024" in note.text()
        assert "Hello, Anna!" in note.text()
        # Retrying the same announcement records nothing twice.
        retry = {**unpaid, "announcement_id": answer.json()["announcement_id"]}
        assert (await client.post("/announcements", json=retry)).json()["recorded"] == 0

        by_distance = {
            "audience": {"kind": "distance", "distance": "100m"},
            "messages": {"ru": {"subject": "Забег 100 м", "body": "Разминка в 08:00."}},
        }
        answer = await client.post("/announcements", json=by_distance)
        assert answer.json()["audience_size"] == 2  # the sprinter and the unpaid applicant
        everyone = {
            "audience": {"kind": "category", "distance": "1000m", "age_category": "18-34"},
            "messages": {"ru": {"subject": "Категория 18-34", "body": "Награждение в 16:00."}},
        }
        answer = await client.post("/announcements", json=everyone)
        assert answer.json()["audience_size"] == 1
        (kazakh,) = [
            m
            for m in await notif.wait_for_mails(smtp_sink, miler.email, 3)
            if m.subject == "Категория 18-34"
        ]
        # The Kazakh reader gets the only wording given, inside a Kazakh greeting.
        assert "Сәлеметсіз бе" in kazakh.text()
        assert "Награждение в 16:00." in kazakh.text()
        bad = await client.post(
            "/announcements",
            json={"audience": {"kind": "distance"}, "messages": unpaid["messages"]},
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"

    await notif.wait_for_mails(smtp_sink, sprinter.email, 4)
    await notif.wait_for_mails(smtp_sink, waiting.email, 3)
    for person in (sprinter, miler, waiting):
        # Nobody's message names anybody else.
        for mail in notif.mails_to(smtp_sink, person.email):
            for other in (sprinter, miler, waiting):
                if other is not person:
                    assert other.email not in mail.raw.decode("utf-8", "replace")

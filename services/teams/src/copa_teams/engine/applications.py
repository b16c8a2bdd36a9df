"""Checking a team application against the registered participants (reg 4.2.4, RULES §7).

A team application names, for one classification, its entries: full name, BIB and declared
distance. The check says, for every entry that cannot stand, which entry and why; and for the
team as a whole whether it has exactly ``men`` men's and ``women`` women's results.

Two kinds of finding:

* a **refusal** (``Finding.blocking``): the application cannot be stored as it is (an unknown
  BIB, a name or distance that does not match, a person already in another team, more results
  of a gender than a team counts, the deadline passed);
* a **shortfall**: fewer results of a gender than a team counts. The application is stored
  (a team may complete it until the deadline) but is *incomplete*: not classified.

The same check runs again whenever the participants change (a distance change gives a new
BIB, reg 7.6): an application accepted earlier can become *invalid*, and organizers see it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from copa_contracts.edition import Edition
from copa_teams.engine.terms import GENDER_WORDS, GENDERS, Gender, ParticipantId, name_tokens


@dataclass(frozen=True)
class ClassificationRules:
    """One team classification of an edition (reg 4.2.4): what counts and until when."""

    code: str
    name: str
    distances: tuple[str, ...]
    men: int
    women: int
    penalty_extra_points: int
    applications_until: dt.datetime
    """Last instant (UTC) an application may be made or corrected."""

    @classmethod
    def of(cls, edition: Edition, code: str) -> ClassificationRules:
        teams = edition.teams
        for classification in teams.classifications:
            if classification.code == code:
                return cls(
                    code=classification.code,
                    name=classification.name,
                    distances=classification.distances,
                    men=teams.men_per_team,
                    women=teams.women_per_team,
                    penalty_extra_points=teams.penalty_extra_points,
                    applications_until=edition.to_utc(teams.applications_until_local),
                )
        raise KeyError(code)

    def per_gender(self, gender: Gender) -> int:
        return self.men if gender == "M" else self.women


@dataclass(frozen=True)
class Participant:
    """A paid entry (reg 7.3) as the teams service knows it from registration's events.

    One person on one distance; a person entered on two distances is two participants with
    the same ``person_key`` (a keyed digest of who they are, never their e-mail).
    """

    participant_id: ParticipantId
    bib: int
    distance: str
    gender: Gender
    full_name: str
    person_key: str


@dataclass(frozen=True)
class EntryDeclaration:
    """One line of a team application form (reg 4.2.4: full name, BIB, declared distance)."""

    full_name: str
    bib: int
    distance: str
    gender: Gender | None = None
    """Optional: when given it must match the registered gender."""


FindingCode = Literal[
    "deadline_passed",
    "unknown_bib",
    "duplicate_bib",
    "name_mismatch",
    "distance_mismatch",
    "distance_not_in_classification",
    "gender_mismatch",
    "in_another_team",
    "too_many_results",
    "too_few_results",
]


@dataclass(frozen=True)
class Finding:
    """Why an entry (``entry``: 1-based line of the form) or the team cannot stand."""

    code: FindingCode
    reason: str
    clause: str = "4.2.4"
    entry: int | None = None
    bib: int | None = None
    blocking: bool = True


ApplicationState = Literal["complete", "incomplete", "refused"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one application."""

    findings: tuple[Finding, ...]
    members: tuple[Participant | None, ...]
    """The participant each entry resolved to, in form order (None where it did not)."""

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    @property
    def state(self) -> ApplicationState:
        if self.refusals:
            return "refused"
        return "incomplete" if self.findings else "complete"


def check_application(
    rules: ClassificationRules,
    entries: Sequence[EntryDeclaration],
    participants_by_bib: Mapping[int, Participant],
    persons_in_other_teams: Mapping[str, str],
    *,
    now: dt.datetime | None,
) -> Verdict:
    """Check an application at ``now`` (UTC); ``now=None`` re-checks a stored one, deadline
    aside. ``persons_in_other_teams`` maps person keys to the name of the other team of this
    classification that holds them (reg 4.2.4: a person runs for one team per classification).
    """
    findings: list[Finding] = []
    if now is not None and now > rules.applications_until:
        findings.append(
            Finding(
                "deadline_passed",
                "Team applications closed at "
                f"{rules.applications_until.isoformat()} (reg 4.2.4: before 03 March).",
            )
        )
    members: list[Participant | None] = []
    seen_bibs: set[int] = set()
    counted: dict[Gender, int] = {"M": 0, "F": 0}
    for line, entry in enumerate(entries, start=1):

        def refuse(code: FindingCode, reason: str, clause: str = "4.2.4") -> None:
            findings.append(Finding(code, reason, clause, entry=line, bib=entry.bib))  # noqa: B023

        if entry.bib in seen_bibs:
            refuse("duplicate_bib", f"BIB {entry.bib} is already on this application.")
            members.append(None)
            continue
        seen_bibs.add(entry.bib)
        if entry.distance not in rules.distances:
            refuse(
                "distance_not_in_classification",
                f"{entry.distance} does not count in {rules.name} ({', '.join(rules.distances)}).",
            )
        runner = participants_by_bib.get(entry.bib)
        if runner is None:
            refuse(
                "unknown_bib",
                f"BIB {entry.bib} is not a paid participant (reg 7.3), or it was given up "
                "on a change of distance (reg 7.6).",
                "7.3",
            )
            members.append(None)
            continue
        problems_before = len(findings)
        if name_tokens(entry.full_name) != name_tokens(runner.full_name):
            refuse(
                "name_mismatch",
                f"BIB {entry.bib} is registered to another name than {entry.full_name!r}.",
            )
        if runner.distance != entry.distance:
            refuse(
                "distance_mismatch",
                f"BIB {entry.bib} is entered in {runner.distance}, not in the declared "
                f"{entry.distance}.",
            )
        if entry.gender is not None and entry.gender != runner.gender:
            refuse(
                "gender_mismatch",
                f"BIB {entry.bib} is registered as {GENDER_WORDS[runner.gender]} entry, "
                f"not {GENDER_WORDS[entry.gender]}.",
            )
        other_team = persons_in_other_teams.get(runner.person_key)
        if other_team is not None:
            refuse(
                "in_another_team",
                f"The runner of BIB {entry.bib} already runs for team {other_team!r} in "
                f"{rules.name}; a person belongs to one team per classification.",
            )
        if len(findings) > problems_before:
            members.append(None)
            continue
        members.append(runner)
        counted[runner.gender] += 1
        wanted = rules.per_gender(runner.gender)
        if counted[runner.gender] > wanted:
            refuse(
                "too_many_results",
                f"This is the {_ordinal(counted[runner.gender])} {GENDER_WORDS[runner.gender]} "
                f"result; a team counts exactly {wanted} (reg 4.2.4).",
            )
    if not any(f.blocking for f in findings):
        for gender in GENDERS:
            wanted = rules.per_gender(gender)
            if counted[gender] < wanted:
                findings.append(
                    Finding(
                        "too_few_results",
                        f"{counted[gender]} {GENDER_WORDS[gender]} results of the {wanted} a "
                        "team needs (reg 4.2.4); the team is not classified until complete.",
                        blocking=False,
                    )
                )
    return Verdict(tuple(findings), tuple(members))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"

"""The ranking engine: the rules of RULES.md §5, §6 and §8 as pure functions (no I/O).

It imports the standard library and the contracts' configuration types only: no web
framework, database or broker (ARCHITECTURE.md). Every number comes from the edition's
configuration (`copa_contracts.edition`), passed in; every duration is integer microseconds.

Modules, in the order a race day uses them:

* :mod:`.groups` race groups (distance, gender, age category) and entrants;
* :mod:`.draw` division of a group into races (reg 11.3.2-11.3.6), the draw, the final's list;
* :mod:`.lanes` lanes of the 100 m (lot in round 1, the lane table for the final);
* :mod:`.schedule` the day's programme and what does not fit;
* :mod:`.crossings` raw reads to crossings to finishes, and the judges' exceptions;
* :mod:`.times` rounding, gun and net time, sources of a time (manual > photo > chip);
* :mod:`.places` places within a race; :mod:`.advancement` Q and q; :mod:`.standings`;
* :mod:`.relay` the medley relay; :mod:`.judges` the exceptions for the judges.
"""

from copa_ranking.engine.advancement import (
    Advancement,
    AdvancementRule,
    Lot,
    Qualifier,
    select_qualifiers,
)
from copa_ranking.engine.crossings import (
    FINISH_POINT,
    START_POINT,
    ChipFinish,
    ChipOwner,
    ChipTrace,
    Crossing,
    CrossingSort,
    FinishDetection,
    FinishRule,
    Passing,
    RaceWindow,
    assign_crossings,
    collapse_reads,
    detect_finishes,
)
from copa_ranking.engine.draw import (
    DrawnRace,
    GroupDraw,
    GroupFormat,
    Seeding,
    StartPosition,
    balanced_sizes,
    draw_final,
    draw_group,
    plan_group,
)
from copa_ranking.engine.groups import (
    Entrant,
    NoCategoryError,
    RaceGroup,
    category_among,
    category_for,
    full_age,
    race_group,
)
from copa_ranking.engine.judges import JudgesException
from copa_ranking.engine.lanes import draw_final_lanes, draw_lanes_by_lot, lanes_by_preference
from copa_ranking.engine.places import (
    RaceLine,
    RaceResult,
    competition_places,
    confirm,
    place_race,
)
from copa_ranking.engine.relay import (
    RELAY_GENDER,
    draw_relay,
    relay_chips,
    relay_division,
    relay_finish_rule,
    relay_group,
    team_ruling,
)
from copa_ranking.engine.schedule import (
    DaySchedule,
    Overrun,
    ScheduledRace,
    build_schedule,
    group_order_key,
    slot_minutes,
)
from copa_ranking.engine.standings import (
    StandingEntry,
    Standings,
    TimeBasis,
    gender_standings,
    group_standings,
    rank_by_time,
    winners,
)
from copa_ranking.engine.terms import (
    WRONG_RACE_RULE,
    Bib,
    EngineError,
    ExceptionKind,
    PublicationStatus,
    QualifierMark,
    RaceId,
    RoundKind,
    RuledStatus,
    status_text,
)
from copa_ranking.engine.times import (
    DurationForm,
    ManualTime,
    Performance,
    PhotoFinish,
    PhotoPlacing,
    Resolution,
    Ruling,
    duration_form,
    format_duration,
    from_instant_us,
    instant_us,
    official_time_us,
    parse_duration_us,
    resolve_performances,
    round_up,
    tie_key_us,
)

__all__ = [
    "FINISH_POINT",
    "RELAY_GENDER",
    "START_POINT",
    "WRONG_RACE_RULE",
    "Advancement",
    "AdvancementRule",
    "Bib",
    "ChipFinish",
    "ChipOwner",
    "ChipTrace",
    "Crossing",
    "CrossingSort",
    "DaySchedule",
    "DrawnRace",
    "DurationForm",
    "EngineError",
    "Entrant",
    "ExceptionKind",
    "FinishDetection",
    "FinishRule",
    "GroupDraw",
    "GroupFormat",
    "JudgesException",
    "Lot",
    "ManualTime",
    "NoCategoryError",
    "Overrun",
    "Passing",
    "Performance",
    "PhotoFinish",
    "PhotoPlacing",
    "PublicationStatus",
    "Qualifier",
    "QualifierMark",
    "RaceGroup",
    "RaceId",
    "RaceLine",
    "RaceResult",
    "RaceWindow",
    "Resolution",
    "RoundKind",
    "RuledStatus",
    "Ruling",
    "ScheduledRace",
    "Seeding",
    "StandingEntry",
    "Standings",
    "StartPosition",
    "TimeBasis",
    "assign_crossings",
    "balanced_sizes",
    "build_schedule",
    "category_among",
    "category_for",
    "collapse_reads",
    "competition_places",
    "confirm",
    "detect_finishes",
    "draw_final",
    "draw_final_lanes",
    "draw_group",
    "draw_lanes_by_lot",
    "draw_relay",
    "duration_form",
    "format_duration",
    "from_instant_us",
    "full_age",
    "gender_standings",
    "group_order_key",
    "group_standings",
    "instant_us",
    "lanes_by_preference",
    "official_time_us",
    "parse_duration_us",
    "place_race",
    "plan_group",
    "race_group",
    "rank_by_time",
    "relay_chips",
    "relay_division",
    "relay_finish_rule",
    "relay_group",
    "resolve_performances",
    "round_up",
    "select_qualifiers",
    "slot_minutes",
    "status_text",
    "team_ruling",
    "tie_key_us",
    "winners",
]

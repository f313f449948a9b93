"""The shapes of reports_api's answers, for the OpenAPI document (Swagger UI, ReDoc, generated clients).

The routes build their answers as plain dicts (bionicflow.reports) and send them as they are:
these models document them, they do not re-validate every answer on the way out (that would
cost each report the time of a second build). tests/unit/reports/test_openapi.py validates
real answers against them, so the document cannot drift from what is sent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeriodOut(_Doc):
    from_: str = Field(alias="from", description="Start, inclusive (ISO date-time, UTC)",
                       examples=["2026-11-01T00:00:00"])
    to: str = Field(description="End, exclusive (ISO date-time, UTC)", examples=["2026-12-01T00:00:00"])


class Freshness(_Doc):
    max_saved_ts: str | None = Field(description="The schema's newest event (`saved_ts`); null when it has none")
    lag_seconds: float | None = Field(description="How old that newest event is, in seconds")
    last_load: str | None = Field(None, description="`default` only: when the batch road last loaded it")
    load_age_seconds: float | None = Field(None, description="`default` only: seconds since that load")


class Profile(_Doc):
    name: str
    country: str | None
    age: int | None
    gender: str | None


class Amplitude(_Doc):
    avg: float | None
    min: float | None
    max: float | None


class Frequency(_Doc):
    avg: float | None


class Duration(_Doc):
    avg: float | None
    total: int | float | None


class Breakdown(_Doc):
    events: int
    avg_amplitude: float | None
    avg_frequency: float | None
    avg_duration: float | None


class ByProsthesisType(Breakdown):
    prosthesis_type: str


class ByMuscleGroup(Breakdown):
    muscle_group: str


class Day(_Doc):
    date: str = Field(examples=["2026-11-03"])
    events: int
    avg_amplitude: float | None


class UserReport(_Doc):
    """The brief's user report from one schema."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "user_uuid": "0190bd7f-67fa-7a1b-8ad9-c7caa42cd65d", "schema": "debezium",
        "period": {"from": "2026-11-01T00:00:00", "to": "2026-12-01T00:00:00"},
        "profile": {"name": "Pedro Miguel da Paz", "country": "PT", "age": 41, "gender": "male"},
        "events_total": 2, "active_days": 1,
        "signal_amplitude": {"avg": 0.75, "min": 0.5, "max": 1.0}, "signal_frequency": {"avg": 250.0},
        "signal_duration": {"avg": 1500.0, "total": 3000},
        "by_prosthesis_type": [{"prosthesis_type": "arm", "events": 2, "avg_amplitude": 0.75, "avg_frequency": 250.0,
                                "avg_duration": 1500.0}],
        "by_muscle_group": [{"muscle_group": "biceps", "events": 2, "avg_amplitude": 0.75, "avg_frequency": 250.0,
                             "avg_duration": 1500.0}],
        "daily": [{"date": "2026-11-03", "events": 2, "avg_amplitude": 0.75}], "computed_from": "snapshot",
        "freshness": {"max_saved_ts": "2026-12-01T09:59:58", "lag_seconds": 1.2},
        "generated_at": "2026-12-01T10:00:00+00:00"}})

    user_uuid: str
    schema_: str = Field(alias="schema", description="default (batch) or debezium (CDC)")
    period: PeriodOut
    profile: Profile
    events_total: int
    active_days: int
    signal_amplitude: Amplitude
    signal_frequency: Frequency
    signal_duration: Duration
    by_prosthesis_type: list[ByProsthesisType]
    by_muscle_group: list[ByMuscleGroup]
    daily: list[Day]
    computed_from: Literal["snapshot", "tables"] = Field(
        description="snapshot: the user's precomputed row, current as of the schema's last change to the user; "
                    "tables: the schema's tables (the user changed since the row was built, or has none yet)")
    freshness: Freshness
    generated_at: str


class Totals(_Doc):
    events: int
    users_with_events: int
    users: int
    avg_amplitude: float | None
    avg_frequency: float | None
    avg_duration: float | None


class ByCountry(_Doc):
    country: str | None
    events: int
    users: int


class OverviewEntry(_Doc):
    events: int
    users: int
    avg_amplitude: float | None


class OverviewByType(OverviewEntry):
    prosthesis_type: str


class OverviewByMuscle(OverviewEntry):
    muscle_group: str


class TopUser(_Doc):
    user_uuid: str
    name: str | None
    events: int


class Overview(_Doc):
    """All users of a period from one schema (analysts)."""

    schema_: str = Field(alias="schema")
    period: PeriodOut
    totals: Totals
    by_country: list[ByCountry]
    by_prosthesis_type: list[OverviewByType]
    by_muscle_group: list[OverviewByMuscle]
    top_users: list[TopUser] = Field(description="The 10 users with the most events")
    freshness: Freshness
    generated_at: str


class Difference(BaseModel):
    """One field that differs; its value in each schema under the schema's name (`default`, `debezium`)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "field": "events_total", "default": 24, "debezium": 30}})

    field: str = Field(
        description="Path of the field, list items named by their first field: `daily[2026-11-01].events`")
    note: str | None = Field(None, description="Why a whole report differs (not found in one schema)")


class Comparison(_Doc):
    """The same report from both schemas, field by field."""

    schemas: list[str] = Field(examples=[["default", "debezium"]])
    identical: bool
    differences: list[Difference]
    freshness: dict[str, Freshness | None] = Field(description="Each schema's freshness")
    default_behind_seconds: float | None = Field(
        description="When the schemas differ: seconds since `default`'s last batch load (the differences are "
                    "what changed since); null when identical or never loaded")
    only_in_debezium: bool = Field(
        False, description="The user is in `debezium` and not yet in `default` (written since its last batch load): "
                           "lag, not a mismatch")
    reports: dict[str, UserReport | Overview | None] = Field(description="Each schema's report; null where absent")


class Health(_Doc):
    status: str = Field(examples=["ok"])
    version: str


class Token(_Doc):
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds")


CSV = {"text/csv": {"schema": {"type": "string"},
                    "example": "field,value\nevents_total,2\nsignal_amplitude.avg,0.75\n"}}


def report_responses(model: type[BaseModel]) -> dict:
    """The 200 answer of a report route: JSON as ``model`` describes, or CSV with `fmt=csv`."""
    return {200: {"model": model, "description": "The report (JSON), or field,value rows with `fmt=csv`",
                  "content": CSV}}

"""Settings of the monthly cost and capacity summary."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from watchdog.config.sections import Section


class ReportSettings(Section):
    """When and where the monthly summary is posted."""

    enabled: bool = Field(True, description="Post the monthly summary.")
    day: int = Field(
        1, ge=1, le=28, description="Day of the month the summary for the previous month is posted."
    )
    time: dt.time = Field(
        dt.time(9, 0), description="Local time of day (HH:MM) the summary is posted, in the report time zone."
    )
    timezone: str = Field("UTC", description="IANA time zone of the posting time, such as 'Europe/Berlin'.")
    channel: str | None = Field(
        None,
        description="Channel (or 'webhook:NAME') for the summary; unset means slack.default_channel.",
    )
    top_services: int = Field(5, ge=1, le=20, description="How many services the summary lists by cost.")
    inference_services: list[str] = Field(
        default_factory=list,
        description="Cost Explorer service names whose cost counts toward the cost per 1,000 inferences; "
        "empty means every service.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from None
        return value

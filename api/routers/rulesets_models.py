"""Request and response bodies of the rule set endpoints (`api/routers/rulesets.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.models import Body, Written

RuleSetName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["kyiv"])]
#: What a queue or ballot opening takes to name a published rule set (docs/domain.md "City-owned rule sets").
RuleSetReference = Annotated[
    str | None,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="One of the city's published rule sets for this kind (`GET /v1/rule-sets`), frozen into the "
        "opening event. Required once the city has published one for this kind: rules written inline are then "
        "refused (422 `custom-rules-refused`).",
    ),
]
RuleSetVersion = Annotated[int | None, Field(ge=1, le=1_000_000, description="Its version; the latest when omitted.")]


class RuleSetRef(BaseModel):
    """A published rule set's name and version, as an opening event froze it (``rule_set``)."""

    name: str
    version: int


#: What a view of a petition, queue, register or ballot shows of the rule set its opening named.
FrozenFrom = Annotated[
    RuleSetRef | None,
    Field(description="The published rule set (`{name, version}`) its rules were frozen from at opening; null when "
          "they were written inline (logs from before the city published rule sets for its kind)."),
]  # fmt: skip


class PublishRuleSet(Body):
    ruleset: RuleSetName
    version: Annotated[
        int, Field(ge=1, le=1_000_000, description="Each version is published once; a change is the next.")
    ]
    applies_to: Literal["petition", "kindergarten", "housing", "ballot"]
    rules: Annotated[
        dict[str, Any], Field(description="The rules (docs/domain.md), validated and frozen as published.")
    ]
    source: Annotated[
        str,
        Field(
            min_length=1,
            max_length=500,
            description="The statute the rules implement (title, number, date), as the city cites it.",
        ),
    ]


class RuleSetPublished(Written):
    ruleset: str
    version: int


class RuleSet(BaseModel):
    ruleset: str
    version: int
    applies_to: str
    rules: dict[str, Any]
    source: str
    published_at: str

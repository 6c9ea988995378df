"""Request and response bodies of the housing register endpoints (`api/routers/housing.py`)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.models import Body, FlatData, PersonalData, Written
from api.routers.queue_common import Applicant, Code, CodeRow
from api.routers.rulesets_models import FrozenFrom, RuleSetReference, RuleSetVersion

#: The lists of a register (domain.housing.rules.HOUSING_LISTS); `general` holds every active entry.
ListName = Literal["general", "first_priority", "out_of_turn"]
#: The lists an entry is included in on a legal basis.
SpecialList = Literal["first_priority", "out_of_turn"]
#: Why an entry leaves a special list (domain.housing.rules.LIST_EXCLUSION_REASONS).
ExclusionReason = Literal["basis_ended", "granted_in_error", "document_invalid"]
Year = Annotated[int, Field(ge=1900, le=2200, examples=[2026])]


class HousingListBases(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_priority: Annotated[list[CodeRow], Field(min_length=1, max_length=100)]
    out_of_turn: Annotated[list[CodeRow], Field(min_length=1, max_length=100)]


class OpenHousingRegister(Body):
    name: Annotated[str, Field(min_length=1, max_length=200, examples=["Квартирний облік м. Городок"])]
    rule_set: RuleSetReference = None
    rule_set_version: RuleSetVersion = None
    removal_reasons: Annotated[
        list[CodeRow] | None,
        Field(
            max_length=100,
            description="Legal grounds for removal (Housing Code art. 40 style); default: the shipped example",
            examples=[
                [
                    {
                        "code": "art40.2",
                        "title": "Moved to another permanent place of residence",
                        "statute": "Housing Code of Ukraine, art. 40 (2)",
                    }
                ]
            ],
        ),
    ] = None
    list_bases: Annotated[
        HousingListBases | None,
        Field(description="Bases for the first-priority and out-of-turn lists; default: the shipped example"),
    ] = None


class HousingRegisterOpened(Written):
    register_id: UUID


class RegisterHousingEntry(Body):
    household_data: Annotated[
        FlatData,
        Field(
            description="The household's personal data for the vault; the log holds only its commitment",
            examples=[{"address": "вул. Шевченка, 1, кв. 2", "members": 4}],
        ),
    ]
    applicant: Annotated[Applicant | None, Field(description="When a service registers for a citizen")] = None


class HousingEntryRegistered(Written):
    entry: str


class IncludeInList(Body):
    list: Annotated[SpecialList, Field(examples=["first_priority"])]
    code: Annotated[Code, Field(description="A basis code of that list", examples=["art45.combatant"])]
    document: Annotated[
        FlatData,
        Field(
            description="The supporting document (vault); the log holds its commitment",
            examples=[{"doc": "УБД-123456"}],
        ),
    ]


class IncludedInList(Written):
    document_commitment: str


class ExcludeFromList(Body):
    reason: Annotated[ExclusionReason, Field(examples=["basis_ended"])]


class ReregisterHousingEntry(Body):
    year: Annotated[Year, Field(description="The year of the annual re-registration (from the registration year)")]


class ProposeHousingRemovals(Body):
    year: Annotated[Year, Field(description="Propose removing every entry not re-registered for this year")]


class HousingRemovalsProposed(Written):
    entries: list[str] = Field(description="The entries proposed for removal, in general-list order")


class RemoveHousingEntry(Body):
    reason_code: Annotated[Code, Field(examples=["art40.2"])]


class AllocateDwelling(Body):
    list: Annotated[ListName, Field(examples=["general"])]
    dwelling: Annotated[
        str,
        Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$", examples=["bud-7/kv-12"]),
    ]
    entry: Annotated[str | None, Field(max_length=64, description="Optional: must be the first entry of the list")] = (
        None
    )


class DwellingAllocated(Written):
    entry: str = Field(description="The entry the dwelling went to (the first of the list)")


class HousingRegister(BaseModel):
    id: UUID
    name: str
    removal_reasons: list[CodeRow]
    list_bases: HousingListBases
    rule_set: FrozenFrom = None
    registrations: int
    active: int
    allocated: int
    lists: dict[str, int] = Field(description="Number of active entries per list")


class HousingListedEntry(BaseModel):
    position: int
    entry: str
    registered_at: str
    included_at: str | None = Field(description="Time of inclusion in the list (null for the general list)")
    removal_proposed: bool = Field(description="A removal was proposed (missed re-registration) and not resolved")


class HousingPosition(BaseModel):
    entry: str
    status: str = Field(description="active | allocated | removed")
    registered_at: str
    positions: dict[str, int] = Field(description="1-based position per list the entry is in (active entries)")
    included_at: dict[str, str] = Field(description="Time of inclusion per special list")
    reregistered: list[int] = Field(description="Years of annual re-registration")
    removal_proposed: list[int] = Field(description="Years with a pending removal proposal")
    removal_reason: str | None = Field(default=None, description="Reason code, when removed")
    allocated_from: str | None = Field(default=None, description="The list the dwelling was allocated from")
    dwelling: str | None = Field(default=None, description="The dwelling, when allocated")
    personal_data: PersonalData = Field(
        default_factory=lambda: PersonalData(status="kept"), description="The household's data: kept, or erased"
    )

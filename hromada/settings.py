"""The settings tree: every HROMADA_* variable, read once and validated once, when a command starts.

    HromadaSettings
    ├── production   HROMADA_PRODUCTION (ledger.config.Production), handed down to the parts that refuse things
    ├── ledger       ledger.config.Settings              HROMADA_<FIELD>        database, keys, vault, checkpoints
    ├── api          api.settings.ApiSettings            HROMADA_<FIELD>        listen address, auth, limits, serving
    ├── anchoring    anchoring.config.AnchorerSettings   HROMADA_ANCHOR_<FIELD> the anchorer's policy
    ├── chain        anchoring.config.ChainSettings      HROMADA_CHAIN_<FIELD>  the chain to anchor to
    └── witnesses    ledger.witnesses.WitnessSettings    HROMADA_<FIELD>        the witnesses checkpoints go to

Each part is a plain pydantic model that belongs to its package and reads no environment; this module is the one
place that does (`load`). The names are the part's field names, upper-cased, after the part's prefix (checked
unique when this module is imported), so no part can shadow another. Why not pydantic-settings' own nesting: it
would name the variables HROMADA_LEDGER__DATA_DIR; keeping the flat names would take a custom source doing all
of the reading anyway, and a plain model can be handed to a child process as it is (`hromada serve --fronts N`
gives its fronts and its worker their parts on stdin, already validated) without reading the environment again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from anchoring.config import AnchorerSettings, ChainSettings
from api.settings import ApiSettings
from ledger.config import Production
from ledger.config import Settings as LedgerSettings
from ledger.witnesses import WitnessSettings

#: part -> (its model, the prefix of its variables)
PARTS: dict[str, tuple[type[BaseModel], str]] = {
    "ledger": (LedgerSettings, "HROMADA_"),
    "api": (ApiSettings, "HROMADA_"),
    "anchoring": (AnchorerSettings, "HROMADA_ANCHOR_"),
    "chain": (ChainSettings, "HROMADA_CHAIN_"),
    "witnesses": (WitnessSettings, "HROMADA_"),
}
#: Fields the root sets on the parts that have them (defined once, on the root).
HANDED_DOWN = ("production",)


class HromadaSettings(BaseModel):
    """The whole tree. Build it with `load()` (the environment) or directly (tests: parts as dicts or models)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    production: Production = False
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    anchoring: AnchorerSettings = Field(default_factory=AnchorerSettings)
    chain: ChainSettings = Field(default_factory=ChainSettings)
    witnesses: WitnessSettings = Field(default_factory=WitnessSettings)

    @model_validator(mode="before")
    @classmethod
    def _hand_down(cls, data: Any) -> Any:
        """The root's `production` goes to every part that has the field, whatever the part was given."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        production = data.get("production", False)
        for part, (model, _) in PARTS.items():
            handed = {name: production for name in HANDED_DOWN if name in model.model_fields}
            if not handed:
                continue
            given = data.get(part, {})
            values = given.model_dump() if isinstance(given, BaseModel) else dict(given)
            data[part] = {**values, **handed}
        return data


def variables() -> dict[str, tuple[str | None, str]]:
    """Every variable of the tree: HROMADA_<NAME> -> (part or None for the root, field)."""
    names: dict[str, tuple[str | None, str]] = {"HROMADA_" + name.upper(): (None, name) for name in HANDED_DOWN}
    for part, (model, prefix) in PARTS.items():
        for field in model.model_fields:
            if field in HANDED_DOWN:
                continue
            name = prefix + field.upper()
            if name in names:
                raise RuntimeError(f"{name} would set both {names[name]} and {(part, field)}")
            names[name] = (part, field)
    return names


VARIABLES = variables()  # checked unique at import


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> HromadaSettings:
    """Read the tree's variables from `environ` (default: the process environment) once, apply `overrides`
    (`ledger={"data_dir": ...}`: a part's fields, as the CLI's options give them) and validate the whole tree.

    Names match regardless of case, as pydantic-settings matched them. Errors are those of the parts:
    `ledger.errors.ConfigurationError`, `anchoring.errors.ChainConfigError` or a pydantic `ValidationError`."""
    env = os.environ if environ is None else environ
    found = {k.upper(): v for k, v in env.items() if k.upper().startswith("HROMADA_")}
    data: dict[str, Any] = {part: {} for part in PARTS}
    for name, (part, field) in VARIABLES.items():
        if name not in found:
            continue
        if part is None:
            data[field] = found[name]
        else:
            data[part][field] = found[name]
    for part, values in overrides.items():
        if part in PARTS:
            data[part].update(values)
        else:
            data[part] = values
    return HromadaSettings.model_validate(data)

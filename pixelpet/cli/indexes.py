"""The indexes the code declares (on its Beanie documents) against those the database has."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from pixelpet.storage.documents import DOCUMENT_MODELS

# The options that change what an index does; the rest (version, namespace) are the server's business.
_MEANINGFUL = ("key", "unique", "partialFilterExpression", "sparse", "expireAfterSeconds")

State = Literal["ok", "missing", "different", "extra"]


@dataclass(frozen=True)
class IndexState:
    collection: str
    name: str
    state: State
    keys: str


def declared() -> dict[str, list[IndexModel]]:
    """Each collection's indexes as the code declares them."""
    return {model.Settings.name: list(getattr(model.Settings, "indexes", [])) for model in DOCUMENT_MODELS}


async def index_states(database: AsyncDatabase[dict[str, Any]]) -> list[IndexState]:
    """Every declared index (ok, missing or different) and every index the code does not declare (extra)."""
    states: list[IndexState] = []
    for collection, models in declared().items():
        existing = {index["name"]: index async for index in await database[collection].list_indexes()}
        for model in models:
            wanted = model.document
            name = wanted["name"]
            found = existing.pop(name, None)
            state: State = "missing" if found is None else ("ok" if _same(wanted, found) else "different")
            states.append(IndexState(collection, name, state, _keys(wanted)))
        existing.pop("_id_", None)
        states += [IndexState(collection, name, "extra", _keys(index)) for name, index in existing.items()]
    return states


async def index_differences(database: AsyncDatabase[dict[str, Any]]) -> list[IndexState]:
    """Declared indexes that are missing or different (extra ones harm nothing the code relies on)."""
    return [state for state in await index_states(database) if state.state in ("missing", "different")]


async def apply(database: AsyncDatabase[dict[str, Any]]) -> list[IndexState]:
    """Create the missing indexes and rebuild the different ones; returns what it changed."""
    changed = await index_differences(database)
    models = {
        (collection, model.document["name"]): model for collection, ms in declared().items() for model in ms
    }
    for state in changed:
        collection = database[state.collection]
        if state.state == "different":
            await collection.drop_index(state.name)
        await collection.create_indexes([models[(state.collection, state.name)]])
    return changed


def _same(wanted: Mapping[str, Any], found: Mapping[str, Any]) -> bool:
    def meaning(index: Mapping[str, Any]) -> dict[str, Any]:
        result = {option: index[option] for option in _MEANINGFUL if option in index}
        result["key"] = list(dict(index["key"]).items())
        if not result.get("unique"):
            result.pop("unique", None)
        return result

    return meaning(wanted) == meaning(found)


def _keys(index: Mapping[str, Any]) -> str:
    return ", ".join(f"{field} {direction}" for field, direction in dict(index["key"]).items())

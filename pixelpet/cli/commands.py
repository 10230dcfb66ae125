"""The operator commands that fit in a few lines each: doctor, db indexes, db recount, drain, chaos."""

from dataclasses import asdict, dataclass
from typing import Any

import httpx
from pymongo.errors import PyMongoError
from rich.markup import escape

from pixelpet.cli import doctor as checks
from pixelpet.cli import indexes as index_tools
from pixelpet.cli.context import database, load_settings
from pixelpet.cli.errors import FAILED, OK, USAGE, CommandError, unreachable
from pixelpet.cli.output import Output, Styled, status
from pixelpet.settings import Environment
from pixelpet.storage.documents import OwnerDocument, PetDocument

# doctor ------------------------------------------------------------------------------------


async def doctor(out: Output) -> int:
    results = await checks.run_checks()
    if out.as_json:
        out.json([check.as_dict() for check in results])
    else:
        out.table(
            "pixelpet doctor",
            ("check", "", "detail", "fix"),
            ((check.name, status(check.ok), check.detail, check.hint) for check in results),
        )
    return OK if all(check.ok for check in results) else FAILED


# db indexes --------------------------------------------------------------------------------


async def indexes(out: Output, *, apply: bool) -> int:
    settings = load_settings()
    async with database(settings) as client:
        db = client[settings.mongo.database]
        changed = await index_tools.apply(db) if apply else []
        states = await index_tools.index_states(db)
    if out.as_json:
        out.json(
            {"indexes": [asdict(state) for state in states], "changed": [asdict(state) for state in changed]}
        )
    else:
        out.table(
            f"indexes in {settings.mongo.database}",
            ("collection", "index", "keys", "state"),
            ((s.collection, s.name, s.keys, _index_cell(s.state)) for s in states),
        )
        for state in changed:
            out.line(
                f"{'rebuilt' if state.state == 'different' else 'created'} {state.collection}.{state.name}"
            )
    wrong = [state for state in states if state.state in ("missing", "different")]
    if wrong and not out.as_json:
        out.line("Run [bold]pixelpet db indexes --apply[/] to create or rebuild them.")
    return FAILED if wrong else OK


def _index_cell(state: str) -> Styled:
    styles = {"ok": "[green]ok[/]", "extra": "[yellow]extra (not in the code)[/]"}
    return Styled(styles.get(state, f"[bold red]{state}[/]"))


# db recount --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    owner: str
    stored: int
    actual: int


async def recount(out: Output, *, apply: bool) -> int:
    """Per-owner counts against the pets; with ``apply``, each drifted count is set to the pets counted,
    only if it still holds the value read (a create or delete meanwhile wins; run it again)."""
    settings = load_settings()
    async with database(settings) as client:
        db = client[settings.mongo.database]
        pets = db[PetDocument.Settings.name]
        owners = db[OwnerDocument.Settings.name]
        actual = {
            row["_id"]: row["n"]
            async for row in await pets.aggregate([{"$group": {"_id": "$owner", "n": {"$sum": 1}}}])
        }
        stored = {row["_id"]: row.get("pet_count", 0) async for row in owners.find({}, {"pet_count": 1})}
        owners_seen = sorted(set(actual) | set(stored))
        drift = [
            Drift(owner, stored.get(owner, 0), actual.get(owner, 0))
            for owner in owners_seen
            if stored.get(owner, 0) != actual.get(owner, 0)
        ]
        repaired = 0
        if apply:
            for row in drift:
                result = await owners.update_one(
                    {"_id": row.owner, "pet_count": row.stored}
                    if row.owner in stored
                    else {"_id": row.owner},
                    {"$set": {"pet_count": row.actual}},
                    upsert=row.owner not in stored,
                )
                repaired += 1 if (result.modified_count or result.upserted_id is not None) else 0
    if out.as_json:
        out.json(
            {
                "owners": len(owners_seen),
                "drift": [asdict(d) for d in drift],
                "repaired": repaired,
            }
        )
    else:
        if drift:
            out.table(
                "per-owner pet counts that drifted",
                ("owner", "stored", "pets"),
                ((d.owner, d.stored, d.actual) for d in drift),
            )
        out.line(
            f"{len(drift)} of {len(owners_seen)} owners drifted"
            + (f"; repaired {repaired}" if apply else ("; run with --apply to repair" if drift else ""))
        )
    if apply and repaired < len(drift):
        raise CommandError(f"{len(drift) - repaired} counts changed while repairing; run it again")
    return FAILED if drift and not apply else OK


# drain / undrain ---------------------------------------------------------------------------


async def drain(out: Output, url: str, *, drained: bool) -> int:
    settings = load_settings()
    if settings.admin_token is None:
        raise CommandError("set PIXELPET_ADMIN_TOKEN to the instance's admin token", exit_code=USAGE)
    path = "/admin/drain" if drained else "/admin/undrain"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            response = await http.post(
                path, headers={"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
            )
    except httpx.HTTPError as error:
        raise unreachable(f"the service at {url}", error) from error
    if response.status_code == 404:
        raise CommandError(
            f"{url} has no admin endpoint: it runs without PIXELPET_ADMIN_TOKEN", exit_code=USAGE
        )
    if response.status_code in (401, 403):
        raise CommandError(f"{url} refused the admin token ({response.status_code})", exit_code=USAGE)
    if response.status_code != 200:
        raise CommandError(f"{url} answered {response.status_code}: {response.text[:200]}")
    body: dict[str, Any] = response.json()
    if out.as_json:
        out.json(body)
    else:
        out.line(
            f"{escape(url)}: drained, /readyz fails until `pixelpet undrain`"
            if body["drained"]
            else f"{escape(url)}: back in rotation (readiness follows its checks again)"
        )
    return OK


# chaos -------------------------------------------------------------------------------------

_MODES = {"close-connection", "block", "error"}


@dataclass(frozen=True)
class Failure:
    mode: str
    commands: list[str]
    error_code: int
    block_ms: int
    times: int | None

    def failpoint(self, app_name: str) -> dict[str, Any]:
        # Only the service's connections (its appname): this command's own connection, and `clear`, work on.
        data: dict[str, Any] = {"failCommands": self.commands, "appName": app_name}
        if self.mode == "close-connection":
            data["closeConnection"] = True
        elif self.mode == "block":
            data.update(blockConnection=True, blockTimeMS=self.block_ms)
        else:
            data["errorCode"] = self.error_code
        mode: Any = {"times": self.times} if self.times else "alwaysOn"
        return {"configureFailPoint": "failCommand", "mode": mode, "data": data}


async def chaos_arm(out: Output, failure: Failure) -> int:
    if failure.mode not in _MODES:
        raise CommandError(f"--mode must be one of {', '.join(sorted(_MODES))}", exit_code=USAGE)
    settings = load_settings()
    await _configure(failure.failpoint(settings.mongo.app_name))
    times = f"{failure.times} times" if failure.times else "until `pixelpet chaos clear`"
    out.line(f"armed: {failure.mode} on {', '.join(failure.commands)} from the service, {times}")
    return OK


async def chaos_clear(out: Output) -> int:
    await _configure({"configureFailPoint": "failCommand", "mode": "off"})
    out.line("cleared: the failCommand failpoint is off")
    return OK


async def _configure(command: dict[str, Any]) -> None:
    settings = load_settings()
    if settings.environment is not Environment.DEVELOPMENT:
        raise CommandError(
            f"chaos is for development and test databases only; this is {settings.environment.value}",
            exit_code=USAGE,
        )
    async with database(settings) as client:
        try:
            await client.admin.command(command)
        except PyMongoError as error:
            raise CommandError(
                f"the database refused the failpoint ({error}); it needs test commands enabled "
                "(SecantusDB: --test-commands; mongod: --setParameter enableTestCommands=1)"
            ) from error

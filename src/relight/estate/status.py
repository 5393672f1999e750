"""`relight estate status`: per environment one line, grouped by wave: whether the region
serves it (its serving marker there), what of it stands in the region, and the age of the
newest data a failover there would restore (relight.commands.status.region_state).

Only the recovery region is read, in each environment's own account: what the home region
serves is not asked (it may be the region that is lost); the recovery region's serving
marker is what says a failover happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from relight.estate.reads import Connect, read_each

if TYPE_CHECKING:
    from relight.commands.connection import Connection
    from relight.model.estate import LoadedEstate


@dataclass(frozen=True)
class EnvStatus:
    name: str
    wave: int
    account: str
    state: dict[str, Any] | None  # region_state's row; None when it could not be read
    error: str | None = None
    artifacts: int = 0  # how many artifacts the environment file declares

    @property
    def serving(self) -> bool:
        return bool(self.state and self.state.get("serving"))

    def line(self) -> str:
        """One line: who serves, what stands in the region, the newest data there."""
        from relight.model.times import human_age

        state = self.state or {}
        why = self.error or state.get("error")
        if why:
            return f"could not be read: {why.splitlines()[0]}"
        region = state["region"]
        marker = state.get("serving")
        if marker:
            since = str(marker.get("since"))[:19]  # to the second, as `relight status` says it
            said = f"serves from {region} ({marker.get('state')} since {since})"
            latched = [k for k, v in state.get("latches", {}).items() if v.startswith("latched")]
            if latched:
                said += ", latched"
        else:
            said = f"not failed over into {region} (its home region serves)"
        if state.get("failback"):
            said += "; a failback is in progress"
        stacks = ", ".join(f"{n} {k}" for k, n in state.get("stacks", {}).items() if n)
        said += f"; stands in {region}: {stacks or 'nothing'}"
        ages = state.get("data_age") or {}
        if ages:
            oldest = max(ages, key=lambda k: ages[k])
            said += (
                f"; newest data {human_age(ages[oldest])} old ({oldest}, the oldest of {len(ages)})"
            )
        elif "data_age" in state:
            said += "; no copy to restore from" if self.artifacts else "; restores no data"
        return said

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.name,
            "wave": self.wave,
            "account": self.account,
            "serving": self.serving,
            "line": self.line(),
            "state": self.state,
            "error": self.error,
        }


@dataclass
class EstateStatus:
    estate: str
    region: str
    at: datetime
    waves: list[list[str]]
    envs: dict[str, EnvStatus]  # in the estate's order

    def by_wave(self) -> list[list[EnvStatus]]:
        return [[self.envs[n] for n in wave if n in self.envs] for wave in self.waves]

    def as_dict(self) -> dict[str, Any]:
        return {
            "estate": self.estate,
            "region": self.region,
            "at": self.at.isoformat(),
            "serving": sorted(n for n, e in self.envs.items() if e.serving),
            "waves": [[e.as_dict() for e in wave] for wave in self.by_wave()],
        }


def estate_status(
    estate: LoadedEstate,
    region: str,
    *,
    connect: Connect | None = None,
    budgets: Any = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    say: Callable[[str], None] = lambda _: None,
    announce: Callable[[Connection], None] = lambda _: None,
) -> EstateStatus:
    """Each environment's state in `region`. Read only."""
    from relight.commands.status import region_state

    at = now()

    def read(name: str, conn: Connection) -> EnvStatus:
        state = region_state(estate.envs[name], conn, at)
        declared = len(estate.envs[name].env.artifacts)
        return EnvStatus(name, estate.wave_of(name), _account(estate, name), state, None, declared)

    found = read_each(
        estate,
        region,
        read,
        command="status",
        connect=connect,
        budgets=budgets,
        say=say,
        announce=announce,
    )
    envs = {
        name: got.value or EnvStatus(name, got.wave, got.account, None, got.error)
        for name, got in found.items()
    }
    return EstateStatus(estate.file.name, region, at, [list(w) for w in estate.waves], envs)


def _account(estate: LoadedEstate, name: str) -> str:
    return estate.file.environments[name].account

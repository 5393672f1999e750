"""Reading every environment of an estate at once: what the read-only estate commands
(plan, readiness, status) share.

Each environment is read with its own connection (its account, through its role:
`relight.estate.accounts.connect_env`), concurrently, every request taking a token of the
estate's budget for its account and region (relight.aws.budget), as a failover's do. A
read does not wait for the environments its environment comes `after:`: nothing is built,
so one environment's verdict never hides another's. An environment that cannot be
read (its role refused, an AWS failure, a preflight problem) is said on its own row; the
others are read all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from relight.errors import RelightError

if TYPE_CHECKING:
    from relight.commands.connection import Connection
    from relight.model.estate import LoadedEstate

T = TypeVar("T")
# The environment's name and its connection → what the command reads of it.
Read = Callable[[str, "Connection"], T]
# estate, environment, region → its connection (relight.estate.accounts.connect_env's shape)
Connect = Callable[..., "Connection"]
MAX_PARALLEL = 8  # environments read at once (each is a handful of describe calls at a time)


@dataclass(frozen=True)
class EnvRead(Generic[T]):
    """One environment's read: its value, or why it could not be read."""

    name: str
    wave: int
    account: str  # the account key of the estate file
    value: T | None = None
    error: str | None = None
    exit_code: int = 0  # the error's: 2 bad input (nothing could be asked), 1 otherwise


def read_each(
    estate: LoadedEstate,
    region: str,
    read: Read[T],
    *,
    command: str,
    connect: Connect | None = None,
    budgets: Any = None,
    max_parallel: int = MAX_PARALLEL,
    say: Callable[[str], None] = lambda _: None,
    announce: Callable[[Connection], None] = lambda _: None,
) -> dict[str, EnvRead[T]]:
    """`read` of every environment, in the estate's order (wave, then name); `announce` is
    told each connection as soon as it is made (where relight acts: the CLI's banner)."""
    from relight.aws.failures import is_aws_failure

    if connect is None:
        from relight.estate.accounts import connect_env

        connect = connect_env
    if budgets is None:  # the estate's one budget per account and region, shared by the reads
        from relight.aws.budget import Budgets

        budgets = Budgets(estate)
    names = estate.order()

    def one(name: str) -> EnvRead[T]:
        wave, account = estate.wave_of(name), _account_key(estate, name)
        try:
            conn = connect(
                estate, name, region, command=command, budgets=budgets, say=say, announce=announce
            )
            return EnvRead(name, wave, account, value=read(name, conn))
        except RelightError as exc:
            return EnvRead(name, wave, account, error=str(exc), exit_code=exc.exit_code)
        except Exception as exc:
            if not is_aws_failure(exc):
                raise
            return EnvRead(name, wave, account, error=f"{type(exc).__name__}: {exc}", exit_code=1)

    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(names)))) as pool:
        found = dict(zip(names, pool.map(one, names), strict=True))
    return {name: found[name] for name in names}


def _account_key(estate: LoadedEstate, name: str) -> str:
    return estate.file.environments[name].account

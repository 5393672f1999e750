"""`relight prepare`: before any disaster, stand up what a failover must find ready."""

from __future__ import annotations

from .common import _errors
from .failover import _deploy_command
from .options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_VERIFY,
    AcceptStaleOpt,
    ConcurrencyOpt,
    DataOpt,
    DebugOpt,
    EnvOpt,
    JsonOpt,
    ProfileOpt,
    RegionOpt,
    RoleOpt,
    StackTimeoutOpt,
    StandInOpt,
    StrategyOpt,
    YesOpt,
)


def prepare(
    env: EnvOpt,
    region: RegionOpt,
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    yes: YesOpt = False,
    accept_stale: AcceptStaleOpt = False,
    stack_timeout: StackTimeoutOpt = None,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Before a disaster, while every region is healthy: deploy in --region what a failover
    at the strategy finds ready (global stacks: IAM roles, DNS pair; the rung's standing
    stacks) and make relight's bucket there. Run it again after changing the environment."""
    with _errors(debug) as interruption:
        _deploy_command(
            env, region, None, yes, accept_stale, stack_timeout, concurrency, json_out,
            stand_in, profile, role_arn, [], DEFAULT_VERIFY,
            into_home=False, interruption=interruption, strategy=strategy, phase="prepare",
            data=data,
        )  # fmt: skip

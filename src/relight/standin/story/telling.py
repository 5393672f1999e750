"""The whole story (`Story.run`): the home build (home.py) deployed, backed up, the backups
copied to every recovery region by `relight replicate`'s code, and each recovery region
prepared as `relight prepare` does."""

from __future__ import annotations

from datetime import datetime

from relight.aws.cloudformation import Stacks
from relight.errors import InputError, StandInError
from relight.model.environment import ArtifactLookup
from relight.standin.story.home import HomeBuild
from relight.standin.story.secrets import tell_secrets
from relight.steps.deploy import deploy
from relight.steps.discovery import (
    Artifact,
    Discovery,
    choose_zones,
)
from relight.steps.render import build_plan
from relight.steps.replicate import Replicator, replicate
from relight.steps.stackset_stacks import left_to_stacksets


class Story(HomeBuild):
    """The story of one environment: the home build, then its recovery regions."""

    # 4. copies in the recovery regions, by the same code as `relight replicate` --------------

    def kms_keys(self) -> None:
        """The KMS keys the environment names for its regions exist in production."""
        from botocore.exceptions import ClientError

        for region, key in self.env.kms_keys.items():
            kms = self.aws.client("kms", region)
            try:
                kms.describe_key(KeyId=key)
            except ClientError:  # NotFoundException: make it
                made = kms.create_key(Description=f"relight stand-in: {key}")["KeyMetadata"]
                if key.startswith("alias/"):
                    kms.create_alias(AliasName=key, TargetKeyId=made["KeyId"])

    def copy(self) -> None:
        if not self.recovery:
            return
        account = self.aws.account_id(self.home)
        replicator = Replicator(
            self.loaded, self.aws, self.aws, source_account=account, target_account=account
        )
        try:
            results = replicate(replicator, self.home, self.recovery)
        except InputError as exc:  # what `relight replicate` would refuse on AWS too
            raise StandInError(
                f"story: copying the backups to {', '.join(self.recovery)}: {exc.message}",
                hint=f"relight replicate would refuse this on AWS too: fix {self.loaded.path} "
                "and rerun (the story is told again, and uses what it made so far)",
            ) from exc
        failed = [r for r in results if r.action == "failed"]
        if failed:
            raise StandInError(
                "story: copying the backups failed: "
                + "; ".join(f"{r.artifact} to {r.region}: {r.reason}" for r in failed)
            )

    # the whole story --------------------------------------------------------------------------

    def run(self, now: datetime, run_id: str) -> None:
        zones, _, _ = choose_zones(self.aws, self.home, self.env.zones)
        found, unlisted = self.existing()
        self.check_seedable(found, unlisted)
        if found:
            self.say(
                f"stand-in story for {self.env.name}: already in {self.home}, used as they are: "
                + ", ".join(f"{name} {art.id}" for name, art in sorted(found.items()))
            )
        if self.env.production is not None and len(found) == len(self.env.artifacts):
            # a captured production stands at home already (the file's `production:`), and
            # every lookup finds its backup there: no copy of it is built beside it, which
            # `relight capture --tag` and drift would then have to tell from production
            self.say(
                f"stand-in story for {self.env.name}: production stands in {self.home} "
                "(the file's production:); not built again"
            )
            self.kms_keys()
            tell_secrets(self.aws, self.env, self.recovery, self.say)
            self.copy()
            self.prepare(now, run_id)
            return
        if len(found) < len(self.env.artifacts):
            self.say(f"stand-in story for {self.env.name}: base images and data in {self.home}")
        base = {
            name: found.get(name)
            or self._made(name, lookup, self.base_artifact(name, lookup, zones[0].name, now), now)
            for name, lookup in self.env.artifacts.items()
        }
        self.hosted_zones()
        secrets = tell_secrets(self.aws, self.env, self.recovery, self.say)
        plan = build_plan(self.loaded, self.home, purpose="home", stand_in=True)
        inputs = Discovery(region=self.home, at=now, zones=zones, artifacts=base, secrets=secrets)
        self.say(f"stand-in story: building {self.env.name} in its home region {self.home}")
        stacks = Stacks(self.aws.client("cloudformation", self.home), timeout=120)
        autoscaling = self.aws.client("autoscaling", self.home)
        outcome = deploy(stacks, plan, inputs, run_id=run_id, autoscaling=autoscaling)
        if not outcome.ok:
            reasons = "; ".join(f"{r.name}: {r.reason}" for r in outcome.failed())
            raise StandInError(
                f"story: the home build in {self.home} failed: {reasons}",
                hint="fix the cause and rerun: the story is told again, using what it made",
            )
        regions = ", ".join(self.recovery)
        self.say(f"stand-in story: backing up and copying the backups to {regions or '(none)'}")
        for name, lookup in self.env.artifacts.items():
            if name not in found:
                self.back_up(plan, name, lookup, base[name].id, now)
        self.check_backups()
        self.kms_keys()
        self.copy()
        self.prepare(now, run_id)

    def _made(self, name: str, lookup: ArtifactLookup, ident: str, now: datetime) -> Artifact:
        return Artifact(
            name, lookup.kind, ident, self.home, now, 1,
            attributes=self._attributes(lookup.kind, ident),
        )  # fmt: skip

    def prepare(self, now: datetime, run_id: str) -> None:
        """What `relight prepare` does before a disaster, in each recovery region at the
        file's strategy: relight's bucket configured, the rung's standing stacks deployed."""
        from relight.aws.bucket import TemplateBucket
        from relight.steps.discovery import discover
        from relight.steps.preflight import instance_types

        account = self.aws.account_id(self.home)
        for region in self.recovery:
            # Replicas (data: replica) are the operator's `relight prepare --strategy ...` to
            # make: the story stands up the file's rung with every database from snapshots.
            plan = build_plan(self.loaded, region, stand_in=True, phase="prepare", data="snapshot")
            TemplateBucket(self.aws.client("s3", region), region, account).configure()
            if not plan.stacks:
                continue
            self.say(
                f"stand-in story: preparing {region} ({plan.strategy}): {', '.join(plan.stacks)}"
            )
            found = discover(
                self.aws,
                self.env,
                region,
                account_id=account,
                now=lambda: now,
                instance_types=instance_types(plan),
            )
            stacks = Stacks(self.aws.client("cloudformation", region), timeout=120)
            plan, _, ready = left_to_stacksets(plan, stacks)  # an estate's StackSet made them
            outcome = deploy(
                stacks, plan, found, run_id=run_id, ready=ready,
                autoscaling=self.aws.client("autoscaling", region),
            )  # fmt: skip
            if not outcome.ok:
                reasons = "; ".join(f"{r.name}: {r.reason}" for r in outcome.failed())
                raise StandInError(f"story: preparing {region} failed: {reasons}")

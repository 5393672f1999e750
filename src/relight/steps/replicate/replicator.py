"""`Replicator`: replication's AWS calls between a source and a target account: the newest
sources and the copies already made, what cannot be copied or shared, sharing and starting
copies and waiting for them, the Auto Scaling grant on the copies' key, and pruning."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from relight.aws.clients import Aws
from relight.aws.cloudformation import backoff
from relight.aws.grants import autoscaling_role_arn, ensure_autoscaling_grant
from relight.errors import AwsError
from relight.model.config import LoadedEnvironment
from relight.model.environment import NOUNS, ArtifactLookup
from relight.model.values import partition_of
from relight.steps.discovery import Candidate, Lister, hits_by_lookup, newest
from relight.steps.replicate.copies import (
    KEY_ACTIONS,
    CopyResult,
    _arn,
    _custom_option_group,
    copy_tags,
    key_policy_gaps,
    rds_copy_id,
)

COPYABLE = ("ami", "ebs_snapshot", "rds_snapshot", "rds_cluster_snapshot")
Progress = Callable[[str, str, str, str], None]  # (region, artifact, status, message)
T = TypeVar("T")

# What EC2 and RDS answer about a copy whose new id has not propagated yet.
NOT_YET_VISIBLE = frozenset(
    {
        "InvalidAMIID.NotFound",  # The image id '[ami-...]' does not exist
        "InvalidSnapshot.NotFound",  # The snapshot 'snap-...' does not exist.
        "DBSnapshotNotFound",  # the code RDS sends for DBSnapshotNotFoundFault
        "DBSnapshotNotFoundFault",
        "DBClusterSnapshotNotFoundFault",
    }
)


class Replicator:
    def __init__(
        self,
        loaded: LoadedEnvironment,
        source: Aws,
        target: Aws,
        *,
        source_account: str,
        target_account: str,
        on_progress: Progress = lambda *_: None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 6 * 3600.0,
        settle: float = 60.0,
    ) -> None:
        self.env = loaded.env
        self.source = source
        self.target = target
        self.source_account = source_account
        self.target_account = target_account
        self.on_progress = on_progress
        self.sleep = sleep
        self.timeout = timeout
        self.settle = settle  # how long a new copy may be "not found" (eventual consistency)
        self._shared: set[str] = set()

    # what to copy ---------------------------------------------------------------------------

    def _lookups(self) -> dict[str, ArtifactLookup]:
        return {n: lk for n, lk in self.env.artifacts.items() if lk.kind in COPYABLE}

    def newest_sources(self, region: str) -> tuple[dict[str, Candidate], list[str]]:
        lookups = self._lookups()
        hits = hits_by_lookup(Lister(self.source, region), lookups, self.source_account)
        found = {name: newest(found) for name, found in hits.items() if found}
        problems = [
            f"artifacts.{name}: no {lookups[name].describe()} in {region}"
            for name, found in hits.items()
            if not found
        ]
        return found, problems

    def existing_copies(self, region: str) -> dict[str, list[Candidate]]:
        """Per lookup, the candidates already in `region` (copies carry the lookup's tags),
        copies still in progress included (`ready` False): they must not be started twice."""
        lister = Lister(self.target, region, pending=True)
        return hits_by_lookup(lister, self._lookups(), self.target_account)

    # what cannot be copied -------------------------------------------------------------------

    def option_group(self, name: str, source: Candidate, target: str) -> str | None:
        """The option group a copy of `source` needs in `target` (None: it needs none, or the
        lookup names none there). A DB snapshot with a non-default option group cannot be
        copied across regions without naming one in the target region."""
        if not _custom_option_group(source):
            return None
        return self.env.artifacts[name].option_groups.get(target)

    def option_group_problems(
        self, sources: Mapping[str, Candidate], region: str, targets: list[str]
    ) -> list[str]:
        return [
            f"artifacts.{name}.option_groups.{target}: {source.id} in {region} uses option "
            f"group {source.option_group}, and a copy to another region needs an option group "
            f"there: create one in {target} with the same options and name it under "
            f"artifacts.{name}.option_groups.{target}"
            for name, source in sorted(sources.items())
            for target in targets
            if _custom_option_group(source) and target not in self.env.artifacts[name].option_groups
        ]

    def sharing_problems(self, sources: Mapping[str, Candidate], region: str) -> list[str]:
        """What AWS will not share with the recovery account, found before anything is shared:
        automated RDS snapshots, AWS managed keys, and customer managed keys whose key policy
        does not let the recovery account use them."""
        if self.target_account == self.source_account:
            return []
        problems = []
        verdicts: dict[str, str] = {}  # key → what is wrong with it ("" when nothing)
        for name, source in sorted(sources.items()):
            what = f"artifacts.{name}: {NOUNS[source.kind]} {source.id} in {region}"
            if source.automated:
                problems.append(
                    f"{what} is an automated snapshot, and AWS shares only manual snapshots: "
                    f"copy it to a manual snapshot in {region} and let the lookup match that"
                )
            for key in source.keys:
                if key not in verdicts:
                    verdicts[key] = self._key_problem(key, region)
                if verdicts[key]:
                    problems.append(f"{what}: {verdicts[key]}")
        return problems

    def _key_problem(self, key: str, region: str) -> str:
        """Why the recovery account cannot use `key` ("" when it can)."""
        from botocore.exceptions import BotoCoreError, ClientError

        account = self.target_account
        key_region = key.split(":")[3] if key.startswith("arn:") else region
        kms = self.source.client("kms", key_region)
        try:
            meta = kms.describe_key(KeyId=key)["KeyMetadata"]
            if meta.get("KeyManager") == "AWS":
                return (
                    f"encrypted with the AWS managed key {key}, and AWS cannot share what an "
                    f"AWS managed key protects with another account: copy it in {region} "
                    f"encrypted with a customer managed key whose key policy allows account "
                    f"{account}, and let the lookup match the copy"
                )
            policy = kms.get_key_policy(KeyId=meta.get("Arn", key), PolicyName="default")
            gaps = key_policy_gaps(policy["Policy"], account)
        except (ClientError, BotoCoreError, ValueError) as exc:
            return (
                f"its key {key} cannot be checked ({exc}): let these credentials call "
                "kms:DescribeKey and kms:GetKeyPolicy on it"
            )
        if not gaps:
            return ""
        root = f"arn:{partition_of(key_region)}:iam::{account}:root"
        return (
            f"encrypted with the customer managed key {key}, whose key policy does not allow "
            f"the recovery account {account} {', '.join(gaps)}: add a statement to the key "
            f"policy that allows {root} "
            + ", ".join(f"kms:{action}" for action in KEY_ACTIONS)
            + " (and kms:ReEncrypt*, kms:GenerateDataKey*)"
        )

    # copying ---------------------------------------------------------------------------------

    def _visible(self, call: Callable[[], T]) -> T:
        """`call`, about a copy just started: until its new id has propagated, EC2 and RDS can
        answer "not found" (eventual consistency). Asked again with a backoff for up to
        `settle` seconds; only then is "not found" believed."""
        from botocore.exceptions import ClientError

        delays = backoff(first=1.0, factor=2.0, ceiling=15.0)
        waited = 0.0
        while True:
            try:
                return call()
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in NOT_YET_VISIBLE or waited >= self.settle:
                    raise
            delay = min(next(delays), self.settle - waited)
            self.sleep(delay)
            waited += delay

    def _share(self, source: Candidate, region: str) -> None:
        """Let the recovery account read a source in another account (once per source)."""
        if source.id in self._shared:
            return
        self._shared.add(source.id)
        account = self.target_account
        if account == self.source_account:
            return
        if source.kind == "ami":
            ec2 = self.source.client("ec2", region)
            ec2.modify_image_attribute(
                ImageId=source.id, LaunchPermission={"Add": [{"UserId": account}]}
            )
            for snapshot in source.backing:
                ec2.modify_snapshot_attribute(
                    SnapshotId=snapshot,
                    Attribute="createVolumePermission",
                    OperationType="add",
                    UserIds=[account],
                )
        elif source.kind == "ebs_snapshot":
            self.source.client("ec2", region).modify_snapshot_attribute(
                SnapshotId=source.id,
                Attribute="createVolumePermission",
                OperationType="add",
                UserIds=[account],
            )
        elif source.kind == "rds_snapshot":
            self.source.client("rds", region).modify_db_snapshot_attribute(
                DBSnapshotIdentifier=source.id, AttributeName="restore", ValuesToAdd=[account]
            )
        else:
            self.source.client("rds", region).modify_db_cluster_snapshot_attribute(
                DBClusterSnapshotIdentifier=source.id,
                AttributeName="restore",
                ValuesToAdd=[account],
            )

    def _start(self, source: Candidate, src: str, dst: str, name: str) -> str:
        """Start one copy (of the source of artifact `name`); returns the copy's id."""
        key = self.env.kms_keys.get(dst)
        tags = copy_tags(source, src)
        encryption: dict[str, Any] = {"KmsKeyId": key} if key else {}
        if source.kind == "rds_cluster_snapshot" and not source.encrypted:
            encryption = {}  # CopyDBClusterSnapshot refuses a key for an unencrypted snapshot
        if source.kind == "ami":
            ec2 = self.target.client("ec2", dst)
            copy_id = str(
                ec2.copy_image(
                    SourceImageId=source.id,
                    SourceRegion=src,
                    Name=source.name,
                    Encrypted=True,
                    CopyImageTags=True,
                    Description=f"Copied {source.id} from {src} by relight",
                    **encryption,
                )["ImageId"]
            )
            # Carried even where AWS does not; without relight:copy, --prune never sees the copy.
            self._visible(lambda: ec2.create_tags(Resources=[copy_id], Tags=tags))
            return copy_id
        if source.kind == "ebs_snapshot":
            return str(
                self.target.client("ec2", dst).copy_snapshot(
                    SourceSnapshotId=source.id,
                    SourceRegion=src,
                    Encrypted=True,
                    Description=f"Copied {source.id} from {src} by relight",
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}],
                    **encryption,
                )["SnapshotId"]
            )
        rds = self.target.client("rds", dst)
        target_id = rds_copy_id(source.id, dst)
        arn = source.arn or _arn(source.kind, src, source.owner or self.source_account, source.id)
        if source.kind == "rds_snapshot":
            group = self.option_group(name, source, dst)
            rds.copy_db_snapshot(
                SourceDBSnapshotIdentifier=arn,
                TargetDBSnapshotIdentifier=target_id,
                SourceRegion=src,
                CopyTags=False,
                Tags=tags,
                **encryption,
                **({"OptionGroupName": group} if group else {}),
            )
        else:
            rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier=arn,
                TargetDBClusterSnapshotIdentifier=target_id,
                SourceRegion=src,
                CopyTags=False,
                Tags=tags,
                **encryption,
            )
        return target_id

    def _state(self, kind: str, region: str, copy_id: str) -> str:
        return self._visible(lambda: self._read_state(kind, region, copy_id))

    def _read_state(self, kind: str, region: str, copy_id: str) -> str:
        if kind == "ami":
            images = self.target.client("ec2", region).describe_images(ImageIds=[copy_id])
            return str(images["Images"][0]["State"]) if images["Images"] else "pending"
        if kind == "ebs_snapshot":
            snaps = self.target.client("ec2", region).describe_snapshots(SnapshotIds=[copy_id])
            return str(snaps["Snapshots"][0]["State"])
        rds = self.target.client("rds", region)
        if kind == "rds_snapshot":
            found = rds.describe_db_snapshots(DBSnapshotIdentifier=copy_id)["DBSnapshots"]
        else:
            found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=copy_id)[
                "DBClusterSnapshots"
            ]
        return str(found[0]["Status"])

    def _wait(self, kind: str, region: str, copy_id: str) -> None:
        started = time.monotonic()
        delays = backoff(first=1.0, ceiling=30.0)
        while True:
            state = self._state(kind, region, copy_id)
            if state in ("available", "completed"):
                return
            if state in ("failed", "error", "invalid", "deregistered"):
                raise AwsError(f"copy {copy_id} in {region} ended {state}")
            if time.monotonic() - started > self.timeout:
                raise AwsError(f"copy {copy_id} in {region} still {state} after the timeout")
            self.sleep(next(delays))

    def copy_one(
        self,
        name: str,
        source: Candidate,
        src: str,
        dst: str,
        wait: bool,
        in_progress: str | None = None,
    ) -> CopyResult:
        """Copy `source` to `dst` (or, given `in_progress`, the id of a copy an earlier run
        started, only wait for that one)."""
        from botocore.exceptions import BotoCoreError, ClientError

        result = CopyResult(name, source.kind, source.id, dst, "copied", in_progress or "")
        started = time.monotonic()
        try:
            if in_progress is None:
                self._share(source, src)
                result.copy_id = self._start(source, src, dst, name)
                self.on_progress(dst, name, "COPYING", f"{source.id} → {result.copy_id}")
            if wait:
                self._wait(source.kind, dst, result.copy_id)
            else:
                result.action = "started" if in_progress is None else "in-progress"
        except (ClientError, BotoCoreError, AwsError) as exc:
            result.action, result.reason = "failed", str(exc)
        result.seconds = time.monotonic() - started
        self.on_progress(dst, name, result.action.upper(), result.reason or result.copy_id)
        return result

    # Auto Scaling's use of the copies' key ---------------------------------------------------

    def grant_autoscaling(self, region: str) -> CopyResult | None:
        """Let Auto Scaling's service-linked role use the key the copies in `region` are
        encrypted with (grants.py): an Auto Scaling group launches from them through that
        role, which a customer managed key refuses without a grant or a policy statement.
        Made now, before any disaster, so a failover needs no KMS or IAM change."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.env.kms_keys.get(region)
        if not key:
            return None
        result = CopyResult("(kms key)", "autoscaling_grant", key, region, "grant-present")
        try:
            kms = self.target.client("kms", region)
            role = autoscaling_role_arn(partition_of(region), self.target_account)
            done = ensure_autoscaling_grant(kms, key, role)
            result.action = {"created": "grant-created", "aws-managed": "grant-not-needed"}.get(
                done, "grant-present"
            )
        except (ClientError, BotoCoreError, AwsError) as exc:
            result.action, result.reason = "failed", f"grant for Auto Scaling on {key}: {exc}"
        self.on_progress(region, "(kms key)", result.action.upper(), result.reason or key)
        return result

    # pruning ---------------------------------------------------------------------------------

    def prune(
        self,
        name: str,
        copies: list[Candidate],
        keep: int,
        region: str,
        in_use: Mapping[str, str] | None = None,
    ) -> list[CopyResult]:
        """Delete relight-made copies beyond the newest `keep`; nothing else is ever touched,
        and a copy a stack or an Auto Scaling group in the region still uses (`in_use`, id →
        by what: in_use.py) is kept and said so."""
        from botocore.exceptions import BotoCoreError, ClientError

        ours = sorted(
            (c for c in copies if c.relight_copy and c.ready),
            key=lambda c: (c.data_time, c.created, c.id),  # as discovery chooses (newest)
            reverse=True,
        )
        results = []
        for old in ours[keep:]:
            user = next((in_use[i] for i in (old.id, *old.backing) if in_use and i in in_use), None)
            if user is not None:
                result = CopyResult(
                    name, old.kind, old.source_id or "", region, "in-use", old.id,
                    reason=f"kept: still used by {user}",
                )  # fmt: skip
                self.on_progress(region, name, "IN-USE", f"{old.id} {result.reason}")
                results.append(result)
                continue
            result = CopyResult(name, old.kind, old.source_id or "", region, "pruned", old.id)
            try:
                self._delete(old, region)
            except (ClientError, BotoCoreError) as exc:
                result.action, result.reason = "failed", f"prune {old.id}: {exc}"
            self.on_progress(region, name, result.action.upper(), result.reason or old.id)
            results.append(result)
        return results

    def _delete(self, old: Candidate, region: str) -> None:
        if old.kind == "ami":
            ec2 = self.target.client("ec2", region)
            ec2.deregister_image(ImageId=old.id)
            for snapshot in old.backing:
                ec2.delete_snapshot(SnapshotId=snapshot)
        elif old.kind == "ebs_snapshot":
            self.target.client("ec2", region).delete_snapshot(SnapshotId=old.id)
        elif old.kind == "rds_snapshot":
            self.target.client("rds", region).delete_db_snapshot(DBSnapshotIdentifier=old.id)
        else:
            self.target.client("rds", region).delete_db_cluster_snapshot(
                DBClusterSnapshotIdentifier=old.id
            )

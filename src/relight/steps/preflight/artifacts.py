"""The artifacts to restore from (found, no older than the RPO, reporting what the stacks
take from them) and the KMS keys the stacks and the artifacts name, enabled in the target
region. `_KeyBook` asks KMS about each key once; the Auto Scaling check reads it too."""

from __future__ import annotations

from typing import Any

from relight.aws.failures import aws_failure, is_aws_failure, refused
from relight.model.data_modes import replica_only_artifacts
from relight.model.environment import ARTIFACT_ATTRIBUTES, ArtifactRef
from relight.model.plan import Plan
from relight.model.times import human_age
from relight.steps.discovery import Artifact, Discovery, stale
from relight.steps.preflight.templates import _literal_parameters


def _artifacts(
    plan: Plan, discovery: Discovery, accept_stale: bool
) -> tuple[list[str], list[Artifact]]:
    unused = replica_only_artifacts(plan)  # a promoted replica restores from none of them
    problems = [
        f"artifacts.{name}: {why}"
        for name, why in sorted(discovery.missing.items())
        if name not in unused
    ]
    rpo = plan.loaded.env.objectives.rpo
    old = [a for a in stale(discovery, rpo) if a.name not in unused]
    if not accept_stale:
        problems += [
            f"artifacts.{a.name}: {a.id} holds data {human_age(a.age(discovery.at))} old, "
            f"over the RPO of {human_age(rpo)}"
            for a in old
        ]
    return problems, old


class _KeyBook:
    """Each KMS key's DescribeKey, asked once per preflight (both key checks read it)."""

    def __init__(self, kms: Any, region: str) -> None:
        self.kms = kms
        self.region = region
        self._answers: dict[str, dict[str, Any] | Exception] = {}

    def describe(self, key_id: str) -> dict[str, Any]:
        """The key's KeyMetadata; raises the ClientError DescribeKey raised (again, from memory)
        when KMS refused (no such key, no access), AwsError when KMS itself failed."""
        if key_id not in self._answers:
            try:
                self._answers[key_id] = dict(self.kms.describe_key(KeyId=key_id)["KeyMetadata"])
            except Exception as exc:
                if refused(exc):  # no such key, no access: the checks say so
                    self._answers[key_id] = exc
                elif is_aws_failure(exc):  # no answer, an unreadable one, HTTP 5xx
                    what = f"cannot check KMS key {key_id} in {self.region}"
                    raise aws_failure(exc, what, self.kms) from exc
                else:
                    raise
        answer = self._answers[key_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _artifact_attributes(plan: Plan, discovery: Discovery) -> list[str]:
    """Every `{artifact: NAME.ATTRIBUTE}` a stack takes (an AMI's root device, say) is known:
    the artifact chosen reports it."""
    known = discovery.artifact_ids()
    problems = []
    for key, sp in plan.stacks.items():
        for name, value in sp.parameters.items():
            found = discovery.artifacts.get(getattr(value, "artifact", ""))
            if not isinstance(value, ArtifactRef) or not value.attribute or found is None:
                continue
            if value.key not in known:
                fix = (
                    "an AMI with an EBS root device reports it; an instance-store AMI cannot be "
                    "launched this way"
                    if found.kind == "ami"
                    else f"give {name} in stacks.{key}.params yourself"
                )
                problems.append(
                    f"stacks.{key}.params.{name}: takes {value.key}, which {found.id} does not "
                    f"report ({ARTIFACT_ATTRIBUTES[value.attribute]}): {fix}"
                )
    return problems


def _kms_keys(plan: Plan, book: _KeyBook, discovery: Discovery) -> list[str]:
    from botocore.exceptions import ClientError

    wanted = {
        value: f"stacks.{key}.params.KmsKeyId"
        for key, value in _literal_parameters(plan, "KmsKeyId").items()
    }
    for art in discovery.artifacts.values():
        if art.encrypted and art.kms_key:
            wanted.setdefault(art.kms_key, f"artifacts.{art.name} ({art.id} is encrypted with it)")
    problems = []
    for key_id, where in sorted(wanted.items()):
        try:
            state = book.describe(key_id)["KeyState"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            problems.append(f"{where}: KMS key {key_id} not usable in {plan.region} ({code})")
            continue
        if state != "Enabled":
            problems.append(f"{where}: KMS key {key_id} is {state} in {plan.region}, not Enabled")
    return problems

"""Room in the target region for what the plan launches: the DB instance classes offered for
their engines. (Zones that do not offer the instance types come from discovery, as its zone
problems; quotas are quotas.py's.)"""

from __future__ import annotations

import json
from typing import Any

from relight.aws.failures import aws_endpoint, aws_failure, is_aws_failure, refused
from relight.model.plan import Plan


def _db_classes(plan: Plan, aws: Any) -> tuple[list[str], list[str]]:
    """Every literal DBInstanceClass is offered for its engine in the target region (RDS
    DescribeOrderableDBInstanceOptions), with the close matches when it is not. The engine is
    the template's `Engine`, else the stack's `engine` option (a restore takes the snapshot's)."""
    import difflib

    wanted: dict[tuple[str, str], list[str]] = {}  # (engine, class) → stacks
    for key, sp in plan.stacks.items():
        option = plan.loaded.env.stacks[key].params_for(plan.stand_in).get("engine")
        for resource in json.loads(sp.body).get("Resources", {}).values():
            props = resource.get("Properties", {})
            klass, engine = props.get("DBInstanceClass"), props.get("Engine", option)
            is_db = resource.get("Type") == "AWS::RDS::DBInstance"
            if is_db and isinstance(klass, str) and isinstance(engine, str):  # else: not asked
                named = wanted.setdefault((engine, klass), [])
                if key not in named:  # an Aurora cluster's instances: one problem per stack
                    named.append(key)
    if plan.stand_in and wanted:
        return [], ["DB instance classes not checked on the stand-in (moto offers none)"]
    rds = aws.client("rds", plan.region)
    problems, notes = [], []
    for (engine, klass), stacks in sorted(wanted.items()):
        try:
            offered = rds.describe_orderable_db_instance_options(
                Engine=engine, DBInstanceClass=klass, MaxRecords=20
            )["OrderableDBInstanceOptions"]
            if offered:
                continue
            pages = rds.get_paginator("describe_orderable_db_instance_options").paginate(
                Engine=engine, PaginationConfig={"MaxItems": 2000}
            )
            classes = {
                o["DBInstanceClass"] for page in pages for o in page["OrderableDBInstanceOptions"]
            }
        except Exception as exc:
            if refused(exc):  # RDS said no (AccessDenied, say): a note, the run goes on
                notes.append(f"DB instance class {klass} for {engine} not checked ({exc})")
                continue
            if is_aws_failure(exc):  # the endpoint failed: the operation fails (exit 1)
                raise aws_failure(exc, f"cannot check DB instance class {klass}", rds) from exc
            raise
        if not classes and not aws_endpoint(str(rds.meta.endpoint_url)):
            # AWS lists classes for every engine it runs; an emulator may list none at all
            notes.append(
                f"DB instance class {klass} for {engine} not checked: the endpoint "
                f"{rds.meta.endpoint_url} is not AWS and lists no classes for {engine}"
            )
            continue
        close = difflib.get_close_matches(klass, sorted(classes), n=3, cutoff=0.6)
        guess = f"; did you mean {' or '.join(close)}?" if close else ""
        problems += [
            f"stacks.{key}.params.instance_class: {klass} is not offered for {engine} in "
            f"{plan.region}{guess}"
            for key in stacks
        ]
    return problems, notes

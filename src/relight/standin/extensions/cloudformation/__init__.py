"""CloudFormation as AWS plays it, where moto 5.2.5 does not (see extensions/__init__.py).

What was measured against moto 5.2.5 (shared/notes/local-stand-in.md), before these additions:

- a resource that failed made CreateStack itself answer with the service's error (HTTP 500 for
  moto's own crashes) and left the stack CREATE_IN_PROGRESS forever: no CREATE_FAILED, no
  rollback, no per-resource events (only the stack's own), `DisableRollback` and `OnFailure`
  ignored; UpdateStack refused the retry of a failed stack ("No updates are to be performed.");
- DeleteStack removed the stack from its listings first, then deleted its resources without
  removing route tables, routes, associations, gateway attachments, internet and NAT gateways,
  Elastic IPs, VPC endpoints, flow logs, volumes, target groups, listeners or health checks: the
  VPC's own delete then failed (DependencyViolation) and the VPC was orphaned with no stack left
  to retry; termination protection was neither settable (UpdateTerminationProtection: HTTP 500)
  nor enforced;
- DescribeStacks, ListStackResources and the stack's outputs created, as a side effect, any
  resource of the template not made yet (a failed stack's, a deleted stack's);
- an executed change set updated neither the stack's parameters nor, for a new stack, its
  outputs.

What the stand-in does instead, each the AWS behaviour named where its module does it:

- a stack operation creates, updates and deletes its resources one by one in dependency order
  (DependsOn, Ref, Fn::GetAtt, Fn::Sub), each with its own events (`*_IN_PROGRESS`,
  `*_COMPLETE`, `*_FAILED` with a ResourceStatusReason); CreateStack answers once the template
  is valid, and what a resource's failure does to the stack follows the stack's failure options;
- a fault (faults.py) can make a resource fail or hang; a hanging operation goes on when a later
  request finds its fault cleared (or its `seconds` passed);
- DeleteStack removes what each resource made, in reverse dependency order, and a stack whose
  delete failed stays DELETE_FAILED (with what is left) for a retry;
- throttles (faults.py) refuse calls before they run, as AWS does under load.

moto still runs each resource's own create, update and delete (its models, or those of
extensions/ec2.py and extensions/rds/, which win in moto's model map); this package only
decides when they run and what the stack records. Custom resources,
TimeoutInMinutes and rolling back a modified resource (only resources an update added are
removed by its rollback) stay as moto has them. Written against moto 5.2.5.

Its modules, each importing only those listed before it:

- `order`: the order a stack's resources are made and deleted in;
- `state`: what the stand-in records of a stack (its resources' states, the operation in
  progress, the events), and the stack's template, parameters and exports;
- `failure`: the fault injection hooks and how an operation ends (rollback, DisableRollback,
  OnFailure);
- `resources`: one resource at a time: its create, update or delete, with its events;
- `lifecycle`: CreateStack, UpdateStack and DeleteStack (termination protection), each an
  operation run step by step;
- `changesets`: ExecuteChangeSet;
- `api`: what moto's responses do not take or report, and how a stack is seen;
- `stacksets`: StackSet operations that take time (OperationInProgressException meanwhile),
  their stacks' parameters and tags, updates that reach the stacks (moto 5.2.6);

and `install()`, here, puts them in moto's place.
"""

from __future__ import annotations

from moto.cloudformation import models, parsing, responses
from moto.core.responses import BaseResponse

from relight.standin.extensions.cloudformation.api import (
    _create_stack_response,
    _outputs,
    _resources_of,
    _sealed,
    _stack_resources,
    _update_stack_response,
    _update_termination_protection_response,
)
from relight.standin.extensions.cloudformation.changesets import (
    _execute_change_set_response,
    execute_change_set,
)
from relight.standin.extensions.cloudformation.failure import _throttled
from relight.standin.extensions.cloudformation.lifecycle import (
    _advancing,
    create_stack,
    delete_stack,
    update_stack,
)
from relight.standin.extensions.cloudformation.stacksets import install as _stacksets

_installed: list[bool] = []


def install() -> None:
    """Install the additions of this package's modules (once per process), before the server's
    first request."""
    if _installed:
        return
    backend, stack, response = (
        models.CloudFormationBackend, models.Stack, responses.CloudFormationResponse
    )  # fmt: skip
    backend.create_stack = create_stack  # type: ignore[method-assign]
    backend.update_stack = update_stack  # type: ignore[method-assign]
    backend.execute_change_set = execute_change_set  # type: ignore[method-assign]
    backend.delete_stack = delete_stack  # type: ignore[method-assign]
    backend.describe_stacks = _advancing(backend.describe_stacks)  # type: ignore[method-assign]
    backend.get_stack = _advancing(backend.get_stack)  # type: ignore[method-assign]
    stack.outputs = _outputs(stack.outputs)  # type: ignore[method-assign,assignment]
    stack.stack_resources = property(_stack_resources)  # type: ignore[method-assign,assignment]
    parsing.ResourceMap.__getitem__ = _sealed(  # type: ignore[method-assign]
        parsing.ResourceMap.__getitem__
    )
    response.create_stack = _create_stack_response  # type: ignore[method-assign]
    response.update_stack = _update_stack_response  # type: ignore[method-assign]
    response.execute_change_set = _execute_change_set_response  # type: ignore[method-assign]
    response.update_termination_protection = (  # type: ignore[attr-defined]
        _update_termination_protection_response
    )
    response.list_stack_resources = _resources_of(  # type: ignore[method-assign]
        response.list_stack_resources, "StackResourceSummaries"
    )
    response.describe_stack_resources = _resources_of(  # type: ignore[method-assign]
        response.describe_stack_resources, "StackResources"
    )
    response.describe_stack_resource = _resources_of(  # type: ignore[method-assign]
        response.describe_stack_resource, "StackResourceDetail", one=True
    )
    BaseResponse.call_action = _throttled(BaseResponse.call_action)  # type: ignore[method-assign]
    _stacksets()  # StackSets' operations over time, their stacks' parameters and tags
    _installed.append(True)

"""Bad values given to blueprints: refused at render, before any AWS call, with the file, the
key path under the stack's params and the fix, never blaming the blueprint for the value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import MINIMAL
from relight.errors import ConfigError, RenderError
from relight.model.config import load_environment
from relight.steps.render import build_plan, lint_plan

WriteEnv = Callable[[str], Path]
PROFILE = "      InstanceProfileArn: arn:aws:iam::123456789012:instance-profile/web\n"
# compute takes its instance profile from the identity stack; MINIMAL's web stack gets a literal
# one here, added last so the line numbers the messages name stay MINIMAL's.
ENV = MINIMAL if "InstanceProfileArn" in MINIMAL else MINIMAL + PROFILE


def _refused(write_env: WriteEnv, text: str, lint: bool = False) -> tuple[str, int, Path]:
    path = write_env(text)
    with pytest.raises((ConfigError, RenderError)) as caught:
        plan = build_plan(load_environment(str(path), "us-west-2"), "us-west-2")
        if lint:
            lint_plan(plan)
    return str(caught.value), caught.value.exit_code, path


def test_a_misspelled_instance_type_names_the_key_and_the_close_match(write_env: WriteEnv) -> None:
    text = ENV.replace("      count: 2\n", "      count: 2\n      instance_type: t3.smal\n")
    message, code, path = _refused(write_env, text, lint=True)
    assert code == 2
    assert f"{path}: stacks.web.params.instance_type: stack shop-web" in message
    assert "'t3.smal' is not one of the" in message and "did you mean t3.small" in message
    assert len(message) < 800, "not cfn-lint's 22 KB list of every instance type"
    assert "fix the value in the environment file" in message


def test_a_port_out_of_range_is_the_users_value_not_the_blueprints_failure(
    write_env: WriteEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ENV.replace("port: 8080}]", "ports: [8080, 70000]}]")
    message, code, path = _refused(write_env, text)
    assert code == 2
    assert message.startswith(
        f"{path}:26: stacks.security.params.groups.web.ingress.0.ports.1: Input should be less "
        "than or equal to 65535"
    )
    assert "failed" not in message and "fix the blueprint" not in message
    assert capsys.readouterr().out == "", "nothing printed by troposphere on the way"


def test_a_port_range_whose_low_end_is_above_its_high_end_is_refused(write_env: WriteEnv) -> None:
    text = ENV.replace("port: 8080}]", "port_range: [9000, 8080]}]")
    message, _, _ = _refused(write_env, text)
    assert "stacks.security.params.groups.web.ingress.0: port_range [9000, 8080]" in message
    assert "write [8080, 9000]" in message


def test_an_error_of_the_options_as_a_whole_keeps_a_clean_key_path(write_env: WriteEnv) -> None:
    text = ENV.replace("      mode: instances\n", "      mode: asg\n      min_size: 9\n")
    message, _, path = _refused(write_env, text)
    assert f"{path}:30: stacks.web.params: min_size 9 <= desired 9 <= max_size 4" in message
    assert "(options)" not in message


def test_an_administrator_policy_for_an_instance_role_names_the_role(write_env: WriteEnv) -> None:
    identity = (
        "  identity:\n"
        "    blueprint: identity\n"
        "    params:\n"
        "      instance_roles:\n"
        "        web: {managed_policies: [AdministratorAccess]}\n"
    )
    message, code, path = _refused(write_env, ENV + identity)
    assert code == 2
    assert message.startswith(f"{path}:")
    assert (
        "stacks.identity.params.instance_roles.web.managed_policies: AdministratorAccess: "
        "instances get least privilege"
    ) in message


def test_a_refused_standby_value_names_standby_params_and_its_line(write_env: WriteEnv) -> None:
    """Issue 20: the message said `params`, with no line, for a value given in standby_params."""
    web = "  web:\n    blueprint: compute\n"
    fleet = "      mode: asg\n      min_size: 2\n      max_size: 4\n"
    text = (
        ENV.replace(web, web + "    stands: warm_standby\n")
        .replace("      mode: instances\n      count: 2\n", fleet)
        .replace(
            "  network:\n    blueprint: network\n",
            "  network:\n    blueprint: network\n    stands: pilot_light\n",
        )
        .replace(
            "  security:\n    blueprint: security\n",
            "  security:\n    blueprint: security\n    stands: pilot_light\n",
        )
        + "    standby_params:\n      desired: many\n"
    )
    path = write_env(text)
    line = text.splitlines().index("      desired: many") + 1
    loaded = load_environment(str(path), "us-west-2")
    with pytest.raises(ConfigError) as caught:
        build_plan(loaded, "us-west-2", strategy="warm_standby", phase="prepare")
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: stacks.web.standby_params.desired: "), message
    assert "valid integer" in message and caught.value.exit_code == 2

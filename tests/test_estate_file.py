"""The estate file: every problem named at once with file:line and key; the graph it describes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import MINIMAL
from relight.cli import app
from relight.errors import ConfigError
from relight.model.estate import (
    AccountAccess,
    EstateEnvironment,
    EstateFile,
    EstateObjectives,
    LoadedEstate,
    find_estate_file,
    load_estate,
)

ROLE = "arn:aws:iam::{id}:role/relight-estate"
GOOD = """\
name: corp
stand_in: true
administrator: platform
objectives: {rto: 2h}
accounts:
  platform: {id: "123456789012", role: "arn:aws:iam::123456789012:role/relight-estate"}
  shop:
    id: "210987654321"
    role: arn:aws:iam::210987654321:role/relight-estate
    external_id: corp-dr
budgets:
  default: {requests_per_second: 20, burst: 40, stack_operations: 8}
  shop/us-west-2: {stack_operations: 4}
environments:
  shared: {account: platform}
  demo: {account: platform, after: [shared]}
  storefront: {account: shop, after: [shared]}
"""


def env_text(name: str, account_id: str | None = None) -> str:
    text = MINIMAL.replace("name: shop", f"name: {name}")
    return text + (f'account_id: "{account_id}"\n' if account_id else "")


@pytest.fixture
def estate_dir(tmp_path: Path) -> Callable[..., Path]:
    """An estates/ and a stacks/ directory: write(estate text, env files) → the estate file."""

    def write(text: str, envs: dict[str, str] | None = None, name: str = "corp") -> Path:
        (tmp_path / "estates").mkdir(exist_ok=True)
        (tmp_path / "stacks").mkdir(exist_ok=True)
        for env, body in (
            envs or {e: env_text(e) for e in ("shared", "demo", "storefront")}
        ).items():
            (tmp_path / "stacks" / f"{env}.yaml").write_text(body, encoding="utf-8")
        path = tmp_path / "estates" / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def refused(path: Path, region: str | None = "us-west-2") -> str:
    with pytest.raises(ConfigError) as caught:
        load_estate(str(path), region)
    assert caught.value.exit_code == 2
    return str(caught.value)


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, 1) if needle in text)


def test_a_good_estate_loads_with_its_waves_accounts_and_budgets(
    estate_dir: Callable[..., Path],
) -> None:
    loaded = load_estate(str(estate_dir(GOOD)), "us-west-2")
    assert loaded.waves == [["shared"], ["demo", "storefront"]]
    assert loaded.order() == ["shared", "demo", "storefront"]
    assert loaded.predecessors("storefront") == {"shared"}
    assert loaded.dependents("shared") == {"demo", "storefront"}
    assert loaded.access("storefront").external_id == "corp-dr"
    assert loaded.budget_for("shop", "us-west-2").stack_operations == 4
    assert loaded.budget_for("shop", "eu-west-1").stack_operations == 8
    assert loaded.budget_for("platform", "us-west-2").burst == 40
    assert set(loaded.envs) == {"shared", "demo", "storefront"}
    assert loaded.envs["demo"].env.name == "demo"


def test_every_schema_and_graph_problem_is_named_at_once_with_its_line(
    estate_dir: Callable[..., Path],
) -> None:
    text = """\
name: corp
stand_in: true
administrator: hq
objectives: {rto: 2h}
colour: blue
accounts:
  platform: {id: "123456789012", role: "arn:aws:iam::123456789012:role/relight-estate"}
  shop: {id: "210987654321"}
budgets:
  default: {}
  nobody: {burst: 3}
  platform/us-wset-2: {burst: 3}
stacksets:
  permissions: service_managed
  max_concurrent_accounts: 2
  max_concurrent_percentage: 50
environments:
  shared: {account: platform, after: [storefront]}
  demo: {account: finance, after: [shared, ghost]}
  storefront: {account: shop, after: [demo]}
"""
    path = estate_dir(text)
    message = refused(path)
    expected = {
        "colour": "colour: unknown key; allowed: name, description, stand_in",
        "hq": "administrator: unknown account 'hq'",
        "shop: {": "accounts.shop.role: required key is missing: relight reaches every account",
        "nobody": "budgets.nobody: unknown account 'nobody'",
        "us-wset-2": "budgets.platform/us-wset-2: 'us-wset-2' is not an AWS region; did you mean",
        "service_managed": "stacksets: give max_concurrent_accounts or max_concurrent_percentage",
        "finance": "environments.demo.account: unknown account 'finance'",
        "ghost": "environments.demo.after: unknown environment 'ghost'",
    }
    for needle, problem in expected.items():
        line = line_of(path, needle) if needle != "service_managed" else line_of(path, "stacksets")
        assert f"line {line}: {problem}" in message, (needle, message)
    assert "organizational_units" in message  # service_managed without them
    # the cycle, named from its first name
    assert "environments.demo.after: cycle demo → storefront → shared → demo" in message
    # the account left out as invalid is not also "unknown"
    assert "unknown account 'shop'" not in message
    assert message.startswith(f"{path}: 9 problems")


def test_one_environment_in_two_waves_and_a_wave_before_its_after_are_refused(
    estate_dir: Callable[..., Path],
) -> None:
    path = estate_dir(GOOD + "waves: [[shared, storefront], [demo, storefront], [ghost]]\n")
    message = refused(path)
    line = line_of(path, "waves:")
    assert (
        f"line {line}: waves.1: storefront is in two waves (wave 1 and wave 2): keep it in one"
        in message
    )
    assert "waves.2: unknown environment 'ghost'" in message
    after = line_of(path, "storefront: {account: shop")
    assert (
        f"line {after}: environments.storefront.after: storefront is in wave 1, but it is after "
        "shared, in wave 1: move storefront to a later wave than shared"
    ) in message


def test_an_environment_in_no_wave_is_refused(estate_dir: Callable[..., Path]) -> None:
    message = refused(estate_dir(GOOD + "waves: [[shared], [demo]]\n"))
    assert "waves: storefront is in no wave: add it to one" in message


def test_environment_files_missing_broken_or_in_another_account_are_placed_under_their_key(
    estate_dir: Callable[..., Path],
) -> None:
    text = GOOD.replace("storefront: {account: shop,", "storefront: {account: shop, file: x.yaml,")
    broken = env_text("demo").replace("rto: 1h", "rto: soon")
    path = estate_dir(
        text,
        {"shared": env_text("shared", "111111111111"), "demo": broken},
    )
    message = refused(path)
    assert (
        f"line {line_of(path, 'storefront: {')}: environments.storefront.file: no environment "
        "file x.yaml"
    ) in message
    demo = line_of(path, "demo: {")
    assert f"line {demo}: environments.demo: ../stacks/demo.yaml does not load: " in message
    assert "objectives.rto: 'soon' is not a duration" in message  # the file's own problem
    assert "demo.yaml:" in message  # ... at its own file and line
    shared = line_of(path, "shared: {")
    assert (
        f"line {shared}: environments.shared.account: platform is account 123456789012, but "
        "shared.yaml says account_id: 111111111111"
    ) in message


def test_an_environment_whose_name_or_stand_in_differs_from_the_estate_is_refused(
    estate_dir: Callable[..., Path],
) -> None:
    envs = {
        "shared": env_text("hub"),
        "demo": env_text("demo").replace("stand_in: true", "stand_in: false"),
        "storefront": env_text("storefront"),
    }
    message = refused(estate_dir(GOOD, envs))
    assert "environments.shared: the file's name is 'hub', not 'shared'" in message
    assert "environments.demo: the estate runs on the stand-in (stand_in: true)" in message


def test_a_role_in_another_account_and_a_bad_external_id_are_refused(
    estate_dir: Callable[..., Path],
) -> None:
    text = GOOD.replace(
        "role: arn:aws:iam::210987654321:role/relight-estate",
        "role: arn:aws:iam::123456789012:role/relight-estate",
    )
    message = refused(estate_dir(text))
    assert (
        "accounts.shop: the role arn:aws:iam::123456789012:role/relight-estate is in account "
        "123456789012, not 210987654321"
    ) in message
    short = refused(estate_dir(GOOD.replace("external_id: corp-dr", "external_id: x")))
    assert "accounts.shop.external_id: String should have at least 2 characters" in short


def test_a_duplicate_key_and_an_empty_file_are_refused(estate_dir: Callable[..., Path]) -> None:
    path = estate_dir(GOOD + "administrator: shop\n")
    assert "administrator: duplicate key" in refused(path)


def test_find_estate_file_names_the_estates_it_knows(tmp_path: Path) -> None:
    (tmp_path / "estates").mkdir()
    (tmp_path / "estates" / "corp.yaml").write_text("name: corp\n", encoding="utf-8")
    assert find_estate_file("corp", tmp_path) == (tmp_path / "estates" / "corp.yaml").resolve()
    with pytest.raises(ConfigError) as caught:
        find_estate_file("crop", tmp_path)
    assert "--estate crop: no file estates/crop.yaml" in str(caught.value)
    assert "corp" in str(caught.value)


def test_the_cli_exits_2_naming_every_problem(estate_dir: Callable[..., Path]) -> None:
    path = estate_dir(GOOD.replace("account: shop,", "account: finance,") + "colour: blue\n")
    result = CliRunner().invoke(app, ["estate", "check", "--estate", str(path)])
    assert result.exit_code == 2, result.output
    assert "2 problems" in result.output
    assert "unknown account 'finance'" in result.output
    assert "colour: unknown key" in result.output


def test_the_cli_prints_the_waves_of_a_good_estate(estate_dir: Callable[..., Path]) -> None:
    result = CliRunner().invoke(app, ["estate", "check", "--estate", str(estate_dir(GOOD))])
    assert result.exit_code == 0, result.output
    assert "wave 2: demo, storefront" in result.output


# --- the graph, as properties over random estates (no files: the model alone) ---


@st.composite
def estates(draw: st.DrawFn) -> tuple[LoadedEstate, dict[str, float]]:
    """A random acyclic estate (an env is after some of those before it), with or without
    waves, and a duration per environment."""
    count = draw(st.integers(1, 9))
    names = [f"e{i}" for i in range(count)]
    after = {
        n: sorted(draw(st.sets(st.sampled_from(names[:i]), max_size=3)) if i else [])
        for i, n in enumerate(names)
    }
    depth: dict[str, int] = {}
    for n in names:
        depth[n] = 1 + max((depth[a] for a in after[n]), default=-1)
    waves: list[list[str]] = []
    if draw(st.booleans()):  # given waves: each env at least one wave later than its after:
        extra = {n: draw(st.integers(0, 2)) for n in names}
        wave_of: dict[str, int] = {}
        for n in names:
            wave_of[n] = max((wave_of[a] + 1 for a in after[n]), default=0) + extra[n]
        top = max(wave_of.values())
        waves = [sorted(n for n in names if wave_of[n] == k) for k in range(top + 1)]
        waves = [w for w in waves if w]
    file = EstateFile(
        name="corp",
        administrator="a",
        objectives=EstateObjectives(rto=3600),
        accounts={"a": AccountAccess(id="123456789012", role=ROLE.format(id="123456789012"))},
        environments={n: EstateEnvironment(account="a", after=after[n]) for n in names},
        waves=waves,
    )
    from relight.model.estate import computed_waves

    resolved = waves or computed_waves(after)
    loaded = LoadedEstate(path=Path("corp.yaml"), file=file, envs={}, waves=resolved)
    seconds = {n: draw(st.floats(0, 1000, allow_nan=False)) for n in names}
    return loaded, seconds


def chains(estate: LoadedEstate, end: str) -> list[list[str]]:
    """Every chain through predecessors ending at `end` (brute force)."""
    preds = estate.predecessors(end)
    if not preds:
        return [[end]]
    return [[*c, end] for p in sorted(preds) for c in chains(estate, p)]


@settings(max_examples=200, deadline=None)
@given(estates())
def test_dependents_are_exactly_the_environments_reachable_backwards(
    case: tuple[LoadedEstate, dict[str, float]],
) -> None:
    estate, _ = case
    names = estate.order()
    for name in names:
        reachable = {n for n in names if n != name and any(name in c for c in chains(estate, n))}
        assert estate.dependents(name) == reachable


@settings(max_examples=200, deadline=None)
@given(estates())
def test_the_order_is_topological_and_waves_hold_every_environment_once(
    case: tuple[LoadedEstate, dict[str, float]],
) -> None:
    estate, _ = case
    order = estate.order()
    assert sorted(order) == sorted(estate.file.environments)
    for name in order:
        for pred in estate.predecessors(name):
            assert order.index(pred) < order.index(name)
            assert estate.wave_of(pred) < estate.wave_of(name)


@settings(max_examples=200, deadline=None)
@given(estates())
def test_the_critical_path_is_the_longest_chain(
    case: tuple[LoadedEstate, dict[str, float]],
) -> None:
    estate, seconds = case
    total, path = estate.critical_path(seconds)
    every = [c for n in estate.order() for c in chains(estate, n)]
    longest = max(sum(seconds[n] for n in c) for c in every)
    assert total == pytest.approx(longest)
    assert all(total >= seconds[n] - 1e-9 for n in seconds)
    assert path in every  # a real chain through predecessors
    assert sum(seconds[n] for n in path) == pytest.approx(total)


def test_the_critical_path_breaks_ties_by_name(estate_dir: Callable[..., Path]) -> None:
    loaded = load_estate(str(estate_dir(GOOD)), None)
    total, path = loaded.critical_path({"shared": 10, "demo": 5, "storefront": 5})
    assert (total, path) == (15, ["shared", "demo"])


def test_the_demo_estate_is_found_by_name_from_anywhere_and_checks_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no estates/ here: the checkout's is searched next
    result = CliRunner().invoke(
        app, ["estate", "check", "--estate", "demo", "--region", "us-west-2", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert '"account_id": "210987654321"' in result.output


def test_stackset_settings_are_checked_and_the_administration_role_defaults_to_awss_name(
    estate_dir: Callable[..., Path],
) -> None:
    text = GOOD + (
        "stacksets:\n  permissions: service_managed\n  organizational_units: [corp]\n"
        "  administration_role: arn:aws:iam::123456789012:role/admin\n"
        "  failure_tolerance_count: 1\n  failure_tolerance_percentage: 10\n"
    )
    message = refused(estate_dir(text))
    assert "stacksets: give failure_tolerance_count or failure_tolerance_percentage" in message
    assert "administration_role is for self_managed permissions" in message
    assert "organizational_units: corp: an OU id starts ou- (the root r-)" in message
    loaded = load_estate(str(estate_dir(GOOD)), None)
    admin = loaded.file.accounts[loaded.file.administrator]
    assert loaded.file.stacksets.administration_role_arn(admin) == (
        "arn:aws:iam::123456789012:role/AWSCloudFormationStackSetAdministrationRole"
    )

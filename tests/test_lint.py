"""The cfn-lint cache: an unchanged template is never linted twice, anything that changes what
cfn-lint would say is linted again, a broken entry is never trusted, and findings come back
exactly as cfn-lint gave them."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import relight.steps.lint as lint
from conftest import MINIMAL
from relight.model.config import load_environment
from relight.steps.lint import Finding, LintCache, lint_template, lint_templates
from relight.steps.render import build_plan, lint_plan

BODY = json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}})
OTHER = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
MISSPELLED = json.dumps(
    {
        "Resources": {
            "Web": {
                "Type": "AWS::EC2::Instance",
                "Properties": {"InstanceType": "t3.smal", "ImageId": "ami-12345678"},
            }
        }
    }
)

# What a fake cfn-lint says: every field kind relight keeps, and text that JSON must carry
# exactly (quotes, backslashes, newlines, non-ASCII, a lone surrogate).
SAID = [
    Finding("E3012", "error", "Resources/Bucket/Properties/Name", "'x' is not a \"str\"\\n\n"),
    Finding("W2001", "warning", "Parameters/Unused", "Paramètre « inutilisé » ✓ \udcff 🚀"),
    Finding("E1001", "error", "(template)", "top level"),
]


class FakeLinter:
    """Counts its calls; says SAID for every template."""

    def __init__(self, said: Sequence[Finding] = SAID) -> None:
        self.said = list(said)
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []

    def __call__(self, body: str, region: str, ignore: Sequence[str]) -> list[Finding]:
        self.calls.append((body, region, tuple(ignore)))
        return list(self.said)


def cache_in(directory: Path, linter: FakeLinter, **kwargs: object) -> LintCache:
    return LintCache(directory, linter=linter, version="1.58.0", **kwargs)  # type: ignore[arg-type]


def test_a_second_lint_of_the_same_template_does_not_run_cfn_lint(tmp_path: Path) -> None:
    linter = FakeLinter()
    first = lint_template(BODY, "us-west-2", cache=cache_in(tmp_path, linter))
    again = cache_in(tmp_path, linter)  # a later run: a new cache object on the same directory
    second = lint_template(BODY, "us-west-2", cache=again)
    assert len(linter.calls) == 1
    assert again.runs == 0
    assert second == first == SAID


def test_findings_round_trip_exactly(tmp_path: Path) -> None:
    linter = FakeLinter()
    cache = cache_in(tmp_path, linter)
    cold = cache.lint(BODY, "us-west-2")
    warm = cache.lint(BODY, "us-west-2")
    assert len(linter.calls) == 1
    assert warm == cold == SAID
    assert [vars(f) for f in warm] == [
        vars(f) for f in SAID
    ]  # every field, character for character
    assert cache.get(BODY, "us-west-2") == SAID


def test_relights_view_is_applied_the_same_to_cached_findings(tmp_path: Path) -> None:
    allowed = ", ".join(
        f"'{t}'" for t in ["t3.small", "t3.medium", *[f"x{i}.large" for i in range(900)]]
    )
    said = [
        Finding(
            "E3030",
            "error",
            "Resources/Web/Properties/InstanceType",
            f"'t3.smal' is not one of [{allowed}]",
        ),
        Finding("I3011", "informational", "Resources/Web", "dropped"),
        Finding("W1020", "warning", "Resources/Web", "w" * 1000),
    ]
    linter = FakeLinter(said)
    cache = cache_in(tmp_path, linter)
    cold, warm = cache.lint(BODY, "us-west-2"), cache.lint(BODY, "us-west-2")
    assert len(linter.calls) == 1
    assert warm == cold
    assert [f.rule for f in warm] == ["E3030", "W1020"], "informational findings are dropped"
    assert (
        warm[0].message
        == "'t3.smal' is not one of the 902 values allowed in us-west-2; did you mean t3.small?"
    )
    assert warm[0].value == "t3.smal"
    assert len(warm[1].message) < 400
    assert cache.get(BODY, "us-west-2") == said, "the cache keeps what cfn-lint said"


@pytest.mark.parametrize(
    "change",
    ["template", "region", "cfn-lint version", "ignored rules"],
)
def test_anything_that_changes_what_cfn_lint_says_is_linted_again(
    tmp_path: Path, change: str
) -> None:
    linter = FakeLinter()
    cache_in(tmp_path, linter).lint(BODY, "us-west-2")
    body, region, version, ignore = BODY, "us-west-2", "1.58.0", None
    if change == "template":
        body = BODY.replace("Bucket", "Bucket2")
    elif change == "region":
        region = "eu-west-1"
    elif change == "cfn-lint version":
        version = "1.59.0"
    else:
        ignore = ["W2001"]
    changed = LintCache(tmp_path, linter=linter, version=version, ignore=ignore)
    changed.lint(body, region)
    assert len(linter.calls) == 2 and changed.runs == 1
    assert linter.calls[-1] == (body, region, tuple(ignore or ()))
    assert len(list(tmp_path.glob("*.json"))) == 2, "both kept"
    changed.lint(body, region)
    assert len(linter.calls) == 2


def test_the_version_is_cfn_lints_own_by_default(tmp_path: Path) -> None:
    from importlib import metadata

    assert LintCache(tmp_path).version == metadata.version("cfn-lint")


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"\xff\xfe not utf-8",
        b"[]",
        b'{"key": {}, "findings": []}',  # an entry for something else
        b"null",
    ],
    ids=["truncated", "empty", "not-utf8", "a-list", "another-key", "null"],
)
def test_a_corrupt_entry_is_linted_again_and_overwritten(tmp_path: Path, content: bytes) -> None:
    linter = FakeLinter()
    cache = cache_in(tmp_path, linter)
    cache.lint(BODY, "us-west-2")
    entry = cache.path(BODY, "us-west-2")
    entry.write_bytes(content)
    assert cache.lint(BODY, "us-west-2") == SAID
    assert len(linter.calls) == 2
    assert json.loads(entry.read_text(encoding="utf-8"))["findings"][0]["rule"] == "E3012"
    assert cache.lint(BODY, "us-west-2") == SAID
    assert len(linter.calls) == 2, "the rewritten entry is used"


def test_an_entry_with_fields_of_the_wrong_kind_is_not_trusted(tmp_path: Path) -> None:
    linter = FakeLinter()
    cache = cache_in(tmp_path, linter)
    cache.lint(BODY, "us-west-2")
    entry = cache.path(BODY, "us-west-2")
    stored = json.loads(entry.read_text(encoding="utf-8"))
    for broken in (
        [{"rule": 1, "severity": "error", "path": "p", "message": "m"}],
        [{"rule": "E1"}],
        "x",
    ):
        entry.write_text(json.dumps({**stored, "findings": broken}), encoding="utf-8")
        assert cache.lint(BODY, "us-west-2") == SAID
    assert len(linter.calls) == 4


def test_an_unreadable_entry_or_unwritable_directory_never_fails_the_lint(tmp_path: Path) -> None:
    linter = FakeLinter()
    cache = cache_in(tmp_path, linter)
    cache.path(BODY, "us-west-2").mkdir()  # neither readable nor replaceable as a file
    assert cache.lint(BODY, "us-west-2") == SAID
    assert cache.lint(BODY, "us-west-2") == SAID
    assert len(linter.calls) == 2

    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory", encoding="utf-8")
    nowhere = cache_in(blocked / "lint-cache", linter)
    assert nowhere.lint(BODY, "us-west-2") == SAID
    assert [p.name for p in tmp_path.glob(".*.tmp")] == [], "no temporary file left behind"


def test_the_cache_directory_is_made_when_missing(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "deeper" / "lint-cache"
    cache = cache_in(directory, FakeLinter())
    cache.lint(BODY, "us-west-2")
    entry = cache.path(BODY, "us-west-2")
    assert entry.parent == directory and entry.is_file()
    assert len(entry.stem) == 64 and int(entry.stem, 16) >= 0, "<sha256>.json"
    assert [p.name for p in directory.iterdir()] == [entry.name], "no temporary file left"


def test_the_default_directory_is_under_the_state_dir(state_dir: Path) -> None:
    cache = LintCache(linter=FakeLinter(), version="1.58.0")
    assert cache.directory == state_dir / "lint-cache"
    cache.lint(BODY, "us-west-2")
    assert cache.path(BODY, "us-west-2").parent == state_dir / "lint-cache"


def test_old_entries_and_those_beyond_the_limit_are_pruned_when_one_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lint, "MAX_ENTRIES", 3)
    linter = FakeLinter()
    cache = cache_in(tmp_path, linter)
    now = time.time()
    bodies = [BODY.replace("Bucket", f"Bucket{i}") for i in range(4)]
    for age, body in zip([40, 3, 2, 1], bodies, strict=True):  # days
        cache.lint(body, "us-west-2")
        when = now - age * 24 * 3600
        os.utime(cache.path(body, "us-west-2"), (when, when))
    stale_temp = tmp_path / ".left-by-a-dead-writer.tmp"
    stale_temp.write_text("{", encoding="utf-8")
    os.utime(stale_temp, (now - 7200, now - 7200))
    fresh_temp = tmp_path / ".being-written.tmp"
    fresh_temp.write_text("{", encoding="utf-8")

    cache.lint(OTHER, "us-west-2")  # a miss: written, then the directory pruned

    kept = {p.name for p in tmp_path.glob("*.json")}
    assert cache.path(bodies[0], "us-west-2").name not in kept, "older than 30 days"
    assert cache.path(bodies[1], "us-west-2").name not in kept, "the oldest beyond 3 entries"
    assert kept == {cache.path(b, "us-west-2").name for b in (bodies[2], bodies[3], OTHER)}
    assert not stale_temp.exists() and fresh_temp.exists()


def test_a_hit_keeps_an_entry_young(tmp_path: Path) -> None:
    linter = FakeLinter()
    cache = cache_in(tmp_path, linter)
    cache.lint(BODY, "us-west-2")
    entry = cache.path(BODY, "us-west-2")
    old = time.time() - 29 * 24 * 3600
    os.utime(entry, (old, old))
    cache.lint(BODY, "us-west-2")
    assert entry.stat().st_mtime > old + 24 * 3600
    assert cache.prune() == 0


def test_lint_templates_lints_only_what_is_not_cached_and_keeps_the_order(tmp_path: Path) -> None:
    linter = FakeLinter()
    cache = cache_in(tmp_path, linter)
    cache.lint(OTHER, "us-west-2")
    found = lint_templates([(BODY, "us-west-2"), (OTHER, "us-west-2"), (BODY, "eu-west-1")], cache)
    assert found == [SAID, SAID, SAID]
    assert [(body, region) for body, region, _ in linter.calls] == [
        (OTHER, "us-west-2"),
        (BODY, "us-west-2"),
        (BODY, "eu-west-1"),
    ]


def test_a_template_asked_for_twice_at_once_is_linted_once(tmp_path: Path) -> None:
    linter = FakeLinter()
    found = lint_templates([(BODY, "us-west-2"), (BODY, "us-west-2")], cache_in(tmp_path, linter))
    assert found == [SAID, SAID] and len(linter.calls) == 1


def test_worker_processes_say_what_cfn_lint_says_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[object] = []
    in_workers = lint._lint_in_workers

    def spy(*args: object) -> object:
        answered.append(in_workers(*args))  # type: ignore[arg-type]
        return answered[-1]

    monkeypatch.setattr(lint, "_lint_in_workers", spy)
    templates = [(BODY, "us-west-2"), (MISSPELLED, "us-west-2"), (OTHER, "eu-west-1")]
    pooled = LintCache(tmp_path / "pooled", workers=2)
    alone = LintCache(tmp_path / "alone", workers=1)
    found = pooled.lint_many(templates)
    assert len(answered) == 1 and answered[0] is not None, "the workers answered"
    assert found == alone.lint_many(templates)
    assert len(answered) == 1, "one worker is no pool"
    assert found[0] == [] and found[2] == []
    assert [f.severity for f in found[1]] == ["error"]
    assert found[1][0].message.startswith("'t3.smal' is not one of the ")
    assert "did you mean t3.small" in found[1][0].message
    assert pooled.runs == alone.runs == 3
    assert pooled.lint_many(templates) == found and pooled.runs == 3


def test_a_failing_worker_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lint, "_WORKER", "import sys; sys.stdout.write('[1, 2]\\n'); sys.exit(3)")
    cache = LintCache(tmp_path, version="1.58.0", workers=2)
    linter = FakeLinter()
    cache.linter = linter  # linted here instead, after the workers failed
    assert cache.lint_many([(BODY, "us-west-2"), (OTHER, "us-west-2")]) == [SAID, SAID]
    assert len(linter.calls) == 2


def test_an_injected_linter_runs_in_this_process() -> None:
    assert LintCache(Path("unused"), linter=FakeLinter(), workers=4).workers == 1


def test_workers_default_to_the_cpus_or_the_variable() -> None:
    import os

    cpus = len(os.sched_getaffinity(0))
    assert lint.default_workers({"RELIGHT_LINT_WORKERS": "3"}) == 3
    assert lint.default_workers({}) == cpus
    assert lint.default_workers({"RELIGHT_LINT_WORKERS": "0"}) == cpus
    assert lint.default_workers({"RELIGHT_LINT_WORKERS": "many"}) == cpus


def test_lint_plan_lints_an_unchanged_plan_once(
    write_env: Callable[[str], Path], state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = build_plan(load_environment(str(write_env(MINIMAL)), "us-west-2"), "us-west-2")
    first = lint_plan(plan)
    entries = sorted((state_dir / "lint-cache").glob("*.json"))
    assert len(entries) == len(plan.stacks)

    def no_cfn_lint(self: LintCache, templates: Sequence[tuple[str, str]]) -> list[list[Finding]]:
        raise AssertionError("cfn-lint ran for an unchanged template")

    monkeypatch.setattr(LintCache, "_lint", no_cfn_lint)
    assert lint_plan(plan) == first
    assert sorted((state_dir / "lint-cache").glob("*.json")) == entries

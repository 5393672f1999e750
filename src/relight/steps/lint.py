"""cfn-lint on every generated template, with its findings cached on disk.

Rules relight ignores are listed here, in one place, each with its reason.

cfn-lint takes about 0.4 s per small template, so its findings are kept in
`<state dir>/lint-cache/<sha256>.json`, keyed by the template body, the region, cfn-lint's
version, the ignored rules and the cache's own format: an unchanged template is never linted
twice. The cache keeps cfn-lint's own messages (informational findings included); what relight
makes of them (`readable`, dropping informational findings) is applied on every read, so a
change to that mapping needs no new cache. An entry that cannot be read or parsed is linted
again and overwritten; an entry that cannot be written is just not cached. Entries are written
atomically (a temporary file, then a rename) and pruned when one is written: older than
MAX_AGE (a hit refreshes an entry's age) or beyond MAX_ENTRIES, the oldest first. Delete the
directory to empty the cache.

Templates not in the cache are linted in worker processes, as many as there are CPUs and
templates (cfn-lint is CPU-bound Python: threads would not help), each a fresh `python -c` that
imports cfn-lint and is given the next template (the biggest first) whenever it answers the
last, in JSON lines; a single template is linted in this process. On 2 CPUs this takes the
demo's 6 templates from about 3.1 s to 2.1 s, each worker's start and cfn-lint import
included (bench/lint_cache.py). `RELIGHT_LINT_WORKERS=1` keeps it all in this process. When a
worker fails, none is trusted: the templates are linted here, where cfn-lint's own error shows.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import json
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relight.errors import RenderError
from relight.model.plan import MAX_BODY, MAX_OUTPUTS, MAX_PARAMETERS, MAX_RESOURCES

# rule id → why relight does not apply it. Keep this list short and every reason true.
IGNORED_RULES: dict[str, str] = {}

CACHE_FORMAT = 1  # bump when what an entry holds, or how its key is made, changes
MAX_AGE = 30 * 24 * 3600.0  # seconds since an entry was written or last used
MAX_ENTRIES = 2000
_STALE_TEMP = 3600.0  # a temporary file this old was left by a writer that died
WORKERS_VARIABLE = "RELIGHT_LINT_WORKERS"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "error", "warning" or "informational"
    path: str  # e.g. Resources/Vpc/Properties/CidrBlock
    message: str

    def __str__(self) -> str:
        return f"{self.rule} {self.path}: {self.message}"

    @property
    def value(self) -> str | None:
        """The value the finding is about, when its message quotes one ('t3.smal' is ...)."""
        quoted = re.match(r"^'([^']*)' ", self.message)
        return quoted.group(1) if quoted else None


# cfn-lint's "'t3.smal' is not one of ['a1.2xlarge', ... 800 more]": one line of 22 KB.
_NOT_ONE_OF = re.compile(
    r"^'(?P<value>[^']*)' is not one of \[(?P<allowed>.*)\](?: in '[^']*')?$", re.S
)
MAX_MESSAGE = 300


def readable(message: str, region: str) -> str:
    """A finding's message as a person can read it: a long list of allowed values becomes its
    count and the closest matches; anything else over MAX_MESSAGE characters is cut."""
    listed = _NOT_ONE_OF.match(message)
    if listed:
        allowed = re.findall(r"'([^']*)'", listed.group("allowed"))
        value = listed.group("value")
        close = difflib.get_close_matches(value, allowed, n=3, cutoff=0.6)
        guess = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"{value!r} is not one of the {len(allowed)} values allowed in {region}{guess}"
    if len(message) > MAX_MESSAGE:
        return message[:MAX_MESSAGE] + f"… ({len(message) - MAX_MESSAGE} more characters)"
    return message


# body, region, rules to ignore → cfn-lint's findings as it gives them: every severity
# (lower case), cfn-lint's own message.
Linter = Callable[[str, str, Sequence[str]], list[Finding]]


def run_cfn_lint(body: str, region: str, ignore: Sequence[str]) -> list[Finding]:
    """cfn-lint itself, on one template body (JSON) for one region."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(body, config=ManualArgs(regions=[region], ignore_checks=list(ignore)))
    return [
        Finding(
            str(match.rule.id),
            str(match.rule.severity).lower(),
            "/".join(str(p) for p in getattr(match, "path", None) or []) or "(template)",
            str(match.message),
        )
        for match in matches
    ]


@functools.cache
def cfn_lint_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("cfn-lint")
    except metadata.PackageNotFoundError:
        from cfnlint.version import __version__

        return str(__version__)


def default_cache_dir() -> Path:
    from relight.model.paths import state_dir

    return state_dir() / "lint-cache"


def _relight_view(raw: Sequence[Finding], region: str) -> list[Finding]:
    """What relight reports of cfn-lint's findings: no informational ones, readable messages."""
    return [
        Finding(f.rule, f.severity, f.path, readable(f.message, region))
        for f in raw
        if not f.severity.startswith("info")
    ]


class LintCache:
    """cfn-lint's findings by template content, region, cfn-lint version and ignored rules.

    `directory` defaults to `<state dir>/lint-cache` (made when first written); `linter` and
    `version` are there for tests. `workers`: how many processes lint the templates not in
    the cache (default: $RELIGHT_LINT_WORKERS, else the CPUs this process may use; always 1
    with a `linter` of one's own, which runs in this process). `runs` counts the templates
    this cache had linted."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        linter: Linter = run_cfn_lint,
        version: str | None = None,
        ignore: Sequence[str] | None = None,
        workers: int | None = None,
    ) -> None:
        self.directory = default_cache_dir() if directory is None else Path(directory)
        self.linter = linter
        self._version = version
        self.ignore = tuple(sorted(IGNORED_RULES if ignore is None else ignore))
        self.workers = (
            1 if linter is not run_cfn_lint else default_workers() if workers is None else workers
        )
        self.runs = 0

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = cfn_lint_version()
        return self._version

    def _stamp(self, body: str, region: str) -> dict[str, Any]:
        """What an entry is for: kept in the entry, and its hash is the entry's name."""
        return {
            "format": CACHE_FORMAT,
            "cfn_lint": self.version,
            "region": region,
            "ignore": list(self.ignore),
            "body_sha256": hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
        }

    def _path(self, stamp: dict[str, Any]) -> Path:
        name = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()
        return self.directory / f"{name}.json"

    def path(self, body: str, region: str) -> Path:
        """Where the entry for this template and region is (or would be)."""
        return self._path(self._stamp(body, region))

    def lint(self, body: str, region: str) -> list[Finding]:
        """The template's findings as relight reports them, from the cache or from cfn-lint."""
        return self.lint_many([(body, region)])[0]

    def lint_many(self, templates: Sequence[tuple[str, str]]) -> list[list[Finding]]:
        """Findings for each (body, region), in order: the cached ones read, the others linted
        (in worker processes when there are several) and cached."""
        raw: list[list[Finding] | None] = [self.get(body, region) for body, region in templates]
        missing: dict[tuple[str, str], list[int]] = {}  # each template once, however often asked
        for i, found in enumerate(raw):
            if found is None:
                missing.setdefault(templates[i], []).append(i)
        if missing:
            for template, found in zip(missing, self._lint(list(missing)), strict=True):
                self.put(*template, found)
                for i in missing[template]:
                    raw[i] = found
        return [
            _relight_view(found or [], region)
            for found, (_, region) in zip(raw, templates, strict=True)
        ]

    def _lint(self, templates: Sequence[tuple[str, str]]) -> list[list[Finding]]:
        workers = min(self.workers, len(templates))
        pooled = _lint_in_workers(templates, self.ignore, workers) if workers > 1 else None
        self.runs += len(templates)
        if pooled is not None:
            return pooled
        return [self.linter(body, region, self.ignore) for body, region in templates]

    def get(self, body: str, region: str) -> list[Finding] | None:
        """cfn-lint's findings cached for this template, or None: not cached, unreadable,
        corrupt or made for something else (those are linted again and overwritten)."""
        stamp = self._stamp(body, region)
        path = self._path(stamp)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(entry, dict) or entry.get("key") != stamp:
                return None
            found = [Finding(**f) for f in entry["findings"]]
            if not all(isinstance(v, str) for f in found for v in vars(f).values()):
                return None
        except (OSError, ValueError, TypeError, KeyError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # in use: not pruned for its age
        return found

    def put(self, body: str, region: str, findings: Sequence[Finding]) -> None:
        """Keep the findings for this template (atomically); never fails the lint."""
        stamp = self._stamp(body, region)
        path = self._path(stamp)
        entry = {"key": stamp, "findings": [vars(f) for f in findings]}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(entry, out, separators=(",", ":"))  # ASCII: any str round-trips
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError:
            return  # a read-only or full disk costs the next run a lint, nothing more
        self.prune(keep=path)

    def prune(self, keep: Path | None = None, now: float | None = None) -> int:
        """Delete entries older than MAX_AGE and the oldest beyond MAX_ENTRIES (never `keep`);
        returns how many went. Other runs may prune at the same time: a file gone is fine."""
        now = time.time() if now is None else now
        entries: list[tuple[float, Path]] = []
        removed = 0
        try:
            listing = list(os.scandir(self.directory))
        except OSError:
            return 0
        for item in listing:
            try:
                mtime = item.stat().st_mtime
            except OSError:
                continue
            path = Path(item.path)
            if item.name.endswith(".tmp"):
                if now - mtime > _STALE_TEMP:
                    removed += _unlink(path)
            elif item.name.endswith(".json") and path != keep:
                if now - mtime > MAX_AGE:
                    removed += _unlink(path)
                else:
                    entries.append((mtime, path))
        excess = len(entries) + (keep is not None) - MAX_ENTRIES
        if excess > 0:
            for _, path in sorted(entries)[:excess]:  # the oldest first
                removed += _unlink(path)
        return removed


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except OSError:
        return 0
    return 1


def default_workers(environ: dict[str, str] | None = None) -> int:
    """$RELIGHT_LINT_WORKERS when it is a positive number, else the CPUs this process may use."""
    given = (os.environ if environ is None else environ).get(WORKERS_VARIABLE, "")
    if given.strip().isdigit() and int(given) > 0:
        return int(given)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_WORKER = "import relight.steps.lint as lint; lint.serve_worker()"


def _lint_in_workers(
    templates: Sequence[tuple[str, str]], ignore: Sequence[str], workers: int
) -> list[list[Finding]] | None:
    """cfn-lint's findings for each template, from `workers` processes, each given the next
    template (the biggest first) when it answers the last; None when that could not be done
    (no interpreter to start, a worker failed or answered nonsense)."""
    if not sys.executable:
        return None
    waiting = sorted(range(len(templates)), key=lambda i: -len(templates[i][0]))
    results: dict[int, list[Finding]] = {}
    busy: dict[int, int] = {}  # worker's pid → the template it is linting
    started: list[subprocess.Popen[bytes]] = []
    try:
        with selectors.DefaultSelector() as answers:
            for _ in range(workers):
                worker = _start_worker()
                started.append(worker)
                _give(worker, waiting, templates, ignore, busy)
                assert worker.stdout is not None
                answers.register(worker.stdout, selectors.EVENT_READ, worker)
            while busy:
                for ready, _ in answers.select():
                    worker = ready.data
                    answer = json.loads(worker.stdout.readline() or b"null")
                    if not isinstance(answer, list):
                        return None
                    results[busy.pop(worker.pid)] = [Finding(*map(str, f)) for f in answer]
                    if not _give(worker, waiting, templates, ignore, busy):
                        answers.unregister(worker.stdout)
        return [results[i] for i in range(len(templates))]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    finally:
        for worker in started:
            _stop_worker(worker, kill=worker.pid in busy)


def _start_worker() -> subprocess.Popen[bytes]:
    source = str(Path(__file__).resolve().parents[2])  # where relight is, for the worker
    path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-P", "-c", _WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # a failure is linted again in this process, and shows here
        env={**os.environ, "PYTHONPATH": path},
    )


def _stop_worker(worker: subprocess.Popen[bytes], kill: bool) -> None:
    """End the worker's input (it exits), or kill it when it is still busy (Ctrl-C, an error)."""
    with contextlib.suppress(OSError):
        if worker.stdin is not None:
            worker.stdin.close()
    if kill and worker.poll() is None:
        worker.kill()
    worker.wait()
    if worker.stdout is not None:
        worker.stdout.close()


def _give(
    worker: subprocess.Popen[bytes],
    waiting: list[int],
    templates: Sequence[tuple[str, str]],
    ignore: Sequence[str],
    busy: dict[int, int],
) -> bool:
    """Send the worker the next waiting template, or end its input when none waits."""
    assert worker.stdin is not None
    if not waiting:
        worker.stdin.close()  # it exits
        return False
    i = waiting.pop(0)
    body, region = templates[i]
    worker.stdin.write(json.dumps([body, region, list(ignore)]).encode() + b"\n")
    worker.stdin.flush()
    busy[worker.pid] = i
    return True


def serve_worker() -> None:
    """A lint worker: one JSON line [body, region, rules to ignore] at a time on stdin; for
    each, one JSON line on stdout: the findings as [rule, severity, path, message] lists.
    Ctrl-C is the parent's to handle: a worker ends when its stdin closes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin.buffer:
        body, region, ignore = json.loads(line)
        found = run_cfn_lint(body, region, ignore)
        answer = [[f.rule, f.severity, f.path, f.message] for f in found]
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def lint_template(body: str, region: str, cache: LintCache | None = None) -> list[Finding]:
    """Lint one template body (JSON) for one region; informational findings are dropped.

    Findings come from the lint cache (`<state dir>/lint-cache` unless `cache` says otherwise)
    when this template was linted before for this region and cfn-lint version."""
    return (LintCache() if cache is None else cache).lint(body, region)


def lint_templates(
    templates: Sequence[tuple[str, str]], cache: LintCache | None = None
) -> list[list[Finding]]:
    """`lint_template` for each (body, region), in order; those not cached linted in parallel."""
    return (LintCache() if cache is None else cache).lint_many(templates)


def check_limits(name: str, template: Any, body: str) -> None:
    """RenderError when a rendered template is past CloudFormation's limits (resources,
    parameters, outputs, the body's bytes)."""
    counts = [
        ("resources", len(template.resources), MAX_RESOURCES),
        ("parameters", len(template.parameters), MAX_PARAMETERS),
        ("outputs", len(template.outputs), MAX_OUTPUTS),
    ]
    for what, count, limit in counts:
        if count > limit:
            raise RenderError(
                f"stack {name}: {count} {what}, over CloudFormation's limit of {limit}",
                hint="split it into several stacks in the environment file",
            )
    size = len(body.encode())
    if size > MAX_BODY:
        raise RenderError(
            f"stack {name}: the template is {size:,} bytes, over CloudFormation's "
            f"{MAX_BODY:,}-byte limit",
            hint="split it into several stacks in the environment file",
        )

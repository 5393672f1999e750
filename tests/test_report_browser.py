"""report.html as headless Chromium shows it: the DOM it built and the pixels it painted.

The string tests in test_report.py prove what relight writes; these prove that a
browser reads it the same way (the SVG survives HTML parsing, the CSS colours
paint). Chromium is Debian's `chromium` package; .ci/run installs it, and
without it these tests skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from relight.dr.report import write_reports
from test_report import STACKS, make_report, parse_html

TIMEOUT = 60
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The CSS colours of the verdict banner and of ok and failed bars (templates/page.html.j2).
FAILED_BANNER = (0xB4, 0x23, 0x18)
OK_BAR = (0x2E, 0x9D, 0x55)
FAILED_BAR = (0xD9, 0x2D, 0x20)


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if found is None:
        pytest.skip(
            "headless Chromium not installed (Debian package chromium); .ci/run installs it"
        )
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A failed drill (db failed, RPO missed) written by write_reports, as a browser opens it."""
    report = make_report(ok=False)
    report["objectives"].update(rpo_seconds=3600, rpo_met=False)
    report["stacks"][2]["reason"] = "<script>document.title='owned'</script>"
    paths = write_reports(report, tmp_path_factory.mktemp("reports"))
    return next(p for p in paths if p.name == "report.html")


def _run_chromium(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = page.parent / "chromium-home"
    home.mkdir(exist_ok=True)
    command = [_chromium(), *FLAGS, f"--user-data-dir={home / 'profile'}", *args, page.as_uri()]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "HOME": str(home)},
        check=False,
    )
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def dom(page: Path) -> str:
    return _run_chromium(page, "--dump-dom").stdout


@pytest.fixture(scope="module")
def screenshot(page: Path) -> bytes:
    shot = page.parent / "shot.png"
    _run_chromium(page, f"--screenshot={shot}", "--window-size=1200,1600")
    return shot.read_bytes()


def test_browser_shows_the_failed_verdict(dom: str) -> None:
    summary = parse_html(dom).by_id("summary")
    assert [s.text() for s in summary.select("span", "verdict")] == ["FAILED"]
    assert "not AWS timings" in summary.by_id("stand-in").text()


def test_browser_shows_one_bar_per_stack_in_the_timeline(dom: str) -> None:
    timeline = parse_html(dom).by_id("timeline")
    bars = timeline.select("g", "bar")
    assert [b.attrs["data-stack"] for b in bars] == [key for key, *_ in STACKS]
    started = [b for b in bars if b.select("rect")]
    assert len(started) == len([s for s in STACKS if s[1] is not None])


def test_browser_shows_the_objectives_verdicts(dom: str) -> None:
    objectives = parse_html(dom).by_id("objectives")
    texts = [card.text() for card in objectives.select("div", "objective")]
    assert texts[0].startswith("RTO met")
    assert texts[1].startswith("RPO missed")


def test_browser_does_not_run_a_hostile_reason(dom: str) -> None:
    parsed = parse_html(dom)
    assert parsed.select("script") == []
    assert parsed.select("title")[0].text() != "owned"


def test_screenshot_paints_the_banner_and_the_bars(screenshot: bytes) -> None:
    assert screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    # A bar is hundreds of pixels wide and 18 high; the legend's swatches are 12 by 12.
    wanted = {FAILED_BANNER: 500, OK_BAR: 2000, FAILED_BAR: 2000}
    width, height, pixels = _png_pixels(screenshot, wanted)
    assert (width, height) == (1200, 1600)
    assert len(pixels) > 20, "the screenshot is (nearly) a single colour"
    for colour, least in wanted.items():
        assert _count_near(pixels, colour) >= least, f"too few pixels near #{bytes(colour).hex()}"


# --- a PNG reader, stdlib only -------------------------------------------------------------

Colour = tuple[int, int, int]


def _png_pixels(data: bytes, wanted: dict[Colour, int]) -> tuple[int, int, Counter[Colour]]:
    """Width, height and a count of each RGB colour, read top down until `wanted` is met."""
    header = next(body for _, body in _chunks(data, keep={b"IHDR"}))
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour_type in (2, 6), "unexpected PNG format"
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(body for _, body in _chunks(data, keep={b"IDAT"})))
    pixels: Counter[Colour] = Counter()
    for row, line in enumerate(_unfiltered_rows(raw, width * channels, height, channels)):
        pixels.update(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        if row % 50 == 49 and all(_count_near(pixels, c) >= n for c, n in wanted.items()):
            break
    return width, height, pixels


def _count_near(pixels: Counter[Colour], wanted: Colour) -> int:
    """Pixels within a few steps of `wanted` per channel (anti-aliased edges, colour rounding)."""
    near = (
        n for c, n in pixels.items() if all(abs(a - b) <= 8 for a, b in zip(c, wanted, strict=True))
    )
    return sum(near)


def _chunks(data: bytes, keep: set[bytes]) -> Iterator[tuple[bytes, bytes]]:
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind in keep:
            yield kind, data[pos + 8 : pos + 8 + length]
        pos += 12 + length


def _unfiltered_rows(raw: bytes, stride: int, height: int, bpp: int) -> Iterator[bytearray]:
    """Undo PNG's per-row filters (0 none, 1 sub, 2 up, 3 average, 4 Paeth)."""
    prev = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 2:  # the commonest filter in Chromium's screenshots: the fast path
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 4:
            _unpaeth(line, prev, bpp)
        elif kind in (1, 3):
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + (left if kind == 1 else (left + prev[i]) // 2)) & 0xFF
        yield line
        prev = line


def _unpaeth(line: bytearray, prev: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left, up = (line[i - bpp], prev[i]) if i >= bpp else (0, prev[i])
        upper_left = prev[i - bpp] if i >= bpp else 0
        guess = left + up - upper_left
        to_left, to_up, to_upper_left = abs(guess - left), abs(guess - up), abs(guess - upper_left)
        if to_left <= to_up and to_left <= to_upper_left:
            line[i] = (line[i] + left) & 0xFF
        elif to_up <= to_upper_left:
            line[i] = (line[i] + up) & 0xFF
        else:
            line[i] = (line[i] + upper_left) & 0xFF

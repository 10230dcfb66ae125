"""The /play page's files: small (a budget), self-contained (no CDN, no web font: it works offline),
labelled and readable (WCAG AA contrast for the colours the stylesheet pairs)."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pixelpet.play.routes import STATIC

# The whole page, uncompressed. Written down in docs/decisions/0016-play-page-and-graphql-over-http.md;
# raise it there, on purpose.
BUDGET_BYTES = 40 * 1024
FILES = sorted(path for path in STATIC.rglob("*") if path.is_file())


def test_the_page_fits_its_budget() -> None:
    total = sum(path.stat().st_size for path in FILES)
    assert {path.suffix for path in FILES} == {".html", ".css", ".js", ".svg"}, "no build step: plain files"
    assert total <= BUDGET_BYTES, f"{total} bytes, over the {BUDGET_BYTES}-byte budget"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_nothing_is_loaded_from_elsewhere(path: Path) -> None:
    text = path.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a download
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", text, re.IGNORECASE), path.name


class Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []  # ids of inputs and selects
        self.labelled: set[str] = set()
        self.in_label = 0
        self.wrapped: list[str] = []  # controls inside a <label>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if attributes.get("for"):
                self.labelled.add(attributes["for"] or "")
        if tag in ("input", "select", "textarea"):
            self.controls.append(attributes.get("id") or "")
            if self.in_label:
                self.wrapped.append(attributes.get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def test_every_control_has_a_label() -> None:
    parser = Controls()
    parser.feed((STATIC / "index.html").read_text())
    assert parser.controls, "the page has its forms"
    unlabelled = [
        control
        for control in parser.controls
        if control not in parser.labelled and control not in parser.wrapped
    ]
    assert unlabelled == []
    assert '<html lang="en">' in (STATIC / "index.html").read_text()


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_text_colours_meet_wcag_aa_contrast() -> None:
    css = (STATIC / "play.css").read_text()
    palette = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-f]{6})", css))
    pairs = {
        "text on the page": (palette["ink"], palette["paper"]),
        "muted text": (palette["muted"], palette["paper"]),
        "text on a card": (palette["ink"], palette["card"]),
        "button label": ("#ffffff", palette["accent"]),
        "danger button label": ("#ffffff", palette["danger"]),
        "error message": (palette["danger"], palette["paper"]),
        "disabled button label": ("#ffffff", "#6d6a78"),
    }
    failing = {name: round(contrast(*pair), 2) for name, pair in pairs.items() if contrast(*pair) < 4.5}
    assert failing == {}

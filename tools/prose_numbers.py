"""Every number in a chapter's prose is printed by one of its cells, or is a published constant with its source.

    python tools/prose_numbers.py              # each chapter's unbacked prose numbers, and a count
    python tools/prose_numbers.py 04 05        # only these chapters

A *measured-looking* number in a markdown cell (one with a decimal point, a thousands comma, a per cent
sign, a unit of time, a "×" or an exponent: "0.913", "3,560", "25.3 %", "35 s", "17.7×", "2e-4") must be
one of:

* **printed**: a number in the chapter's committed outputs (stdout, text, markdown or HTML results) that
  rounds to it at the prose's precision ("0.91" matches a printed 0.9143; "38.5 %" a printed 0.385 or 38.5 %);
  the chapter's own full-run time (from its cells' timestamps) counts as printed;
* **shown**: a number literal in the chapter's code (a setting the student sees: ``lr=2e-4``);
* **cited**: listed in the markdown cell's metadata, ``{"gan_lessons": {"cited": {"0.95": "https://..."}}}``,
  with the source's link written in that cell's text, so a student can open it.

Integers with no unit (layer counts, years, chapter numbers) are not checked, nor numbers inside code spans,
code blocks, maths or link targets, nor the opening's estimate of "N minutes to read". README.md's chapter map
is held to the same rule against each chapter.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import chapter_times  # noqa: E402

# Stripped before numbers are read: code blocks and spans, maths, link targets and bare addresses, HTML tags.
_NOT_PROSE = [re.compile(pattern, re.S) for pattern in (
    r"```.*?```", r"`[^`]*`", r"\$\$.*?\$\$", r"\$[^$\n]*\$", r"\]\([^)]*\)",
    r"https?://\S+", r"<[^>]+>", r"arXiv:\s*\d+\.\d+", r"\b\d{4}\.\d{4,5}\b",
    r"\d+(?: to \d+)? minutes to read")]  # a reading time is an estimate, not a measurement
_NUMBER = r"[-−]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-−+]?\d+)?"
_UNIT = r"\s?(?:%|×|x\b|s\b|ms\b|min\b|minutes?\b|seconds?\b|hours?\b|h\b|MB\b|GB\b|GFLOP|MFLOP)"
_CANDIDATE = re.compile(rf"(?<![\w.§#/-])({_NUMBER})({_UNIT})?")
_ANY_NUMBER = re.compile(_NUMBER)
_VERSION = re.compile(r"\b\d+\.\d+\.\d+\b")


@dataclass(frozen=True)
class ProseNumber:
    cell: int
    text: str  # as written, with its unit
    value: float
    decimals: int
    unit: str


def _value(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


def _decimals(text: str) -> int:
    mantissa = text.lower().split("e")[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def _strip(markdown: str) -> str:
    markdown = re.sub(r"^(?: {4}|\t).*$", " ", markdown, flags=re.M)  # indented code blocks (commands)
    for pattern in _NOT_PROSE:
        markdown = pattern.sub(" ", markdown)
    return _VERSION.sub(" ", markdown)


def prose_numbers(markdown: str, cell: int = 0) -> list[ProseNumber]:
    """The measured-looking numbers of one markdown cell's prose."""
    text = _strip(markdown)
    found = []
    for match in _CANDIDATE.finditer(text):
        number, unit = match.group(1), (match.group(2) or "").strip()
        if not (unit or "." in number or "," in number or "e" in number.lower()):
            continue
        if unit == "x" and "." not in number:  # "2x2" or "x" as a variable, not a ratio
            continue
        found.append(ProseNumber(cell, number + (f" {unit}" if unit else ""), _value(number), _decimals(number), unit))
    return found


def printed_values(cells: list[dict]) -> list[float]:
    """Every number the committed outputs show."""
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                texts.append("".join(output["text"]))
            for kind in ("text/plain", "text/markdown", "text/html"):
                value = output.get("data", {}).get(kind)
                if value and not "".join(value).startswith(("<Figure", "<IPython", "<matplotlib")):
                    texts.append("".join(value))
    return [_value(number) for text in texts for number in _ANY_NUMBER.findall(text)]


def code_values(cells: list[dict]) -> set[float]:
    """Number literals in the chapter's code (comments left out): settings the student sees on the page."""
    values = set()
    for cell in cells:
        if cell["cell_type"] == "code":
            code = re.sub(r"#.*$", "", "".join(cell["source"]), flags=re.M)
            code = re.sub(r"(?<=\d)_(?=\d)", "", code)
            values.update(_value(number) for number in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?", code))
    return values


def _rounds_to(measured: float, written: ProseNumber) -> bool:
    if written.decimals == 0 and abs(written.value) >= 10 and written.unit in ("", "s", "seconds"):
        tolerance = 0.5  # "3,560 s" is a rounded integer
    else:
        tolerance = 0.5 * 10 ** -written.decimals
    return abs(abs(measured) - abs(written.value)) <= tolerance + 1e-9 * abs(written.value)


def backed(number: ProseNumber, printed: list[float], code: set[float]) -> bool:
    if number.value in code or -number.value in code:
        return True
    scales = (1.0, 100.0) if number.unit == "%" else (1.0,)
    if number.unit in ("min", "minutes", "minute", "hours", "hour", "h"):
        scales = (1.0, 1 / 60) if number.unit.startswith("min") else (1.0, 1 / 3600)
    return any(_rounds_to(value * scale, number) for value in printed for scale in scales)


def _run_time_values(notebook: Path) -> list[float]:
    try:
        seconds = chapter_times.total_seconds(notebook)
    except SystemExit:  # a cell without timestamps: the contract test reports it
        return []
    return [seconds, seconds / 60]


def unbacked(notebook: Path) -> list[ProseNumber]:
    """The prose numbers of a chapter that no cell prints, no code shows and no cited source gives."""
    cells = json.loads(notebook.read_text())["cells"]
    printed = printed_values(cells) + _run_time_values(notebook)
    code = code_values(cells)
    missing = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        cited = cell["metadata"].get("gan_lessons", {}).get("cited", {})
        for number in prose_numbers("".join(cell["source"]), index):
            bare = number.text.split(" ")[0]
            if bare in cited or number.text in cited:
                continue
            if not backed(number, printed, code):
                missing.append(number)
    return missing


def citation_errors(notebook: Path) -> list[str]:
    """Cited numbers whose source is not linked in the cell, or that the cell no longer says."""
    errors = []
    for index, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        text = "".join(cell["source"])
        for number, source in cell["metadata"].get("gan_lessons", {}).get("cited", {}).items():
            if source not in text:
                errors.append(f"cell {index}: {number} cites {source}, which the cell does not link")
            if number not in text:
                errors.append(f"cell {index}: {number} is listed as cited but the cell does not say it")
    return errors


def readme_chapter_rows(readme: str) -> dict[str, str]:
    """README.md's chapter map: the 'what you learn' text of each chapter's row."""
    rows = {}
    for line in readme.splitlines():
        match = re.match(r"\| (\d\d) \| \[[^]]+\]\(notebooks/[^)]+\) \| (.*?) \| \[!\[Open In Colab", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def readme_unbacked(readme: str, notebooks: dict[str, Path]) -> list[str]:
    missing = []
    for chapter, text in readme_chapter_rows(readme).items():
        cells = json.loads(notebooks[chapter].read_text())["cells"]
        printed, code = printed_values(cells), code_values(cells)
        missing += [f"README, chapter {chapter}: {number.text}" for number in prose_numbers(text)
                    if not backed(number, printed, code)]
    return missing


def chapters(selected: list[str] | None = None) -> list[Path]:
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return [path for path in paths if not selected or path.name[:2] in selected]


def main(argv: list[str] | None = None) -> int:
    selected = sys.argv[1:] if argv is None else argv
    total = 0
    for notebook in chapters(selected):
        missing, errors = unbacked(notebook), citation_errors(notebook)
        total += len(missing) + len(errors)
        print(f"{notebook.name}: {len(missing)} unbacked")
        for number in missing:
            print(f"    cell {number.cell}: {number.text}")
        for error in errors:
            print(f"    {error}")
    notebooks = {path.name[:2]: path for path in chapters()}
    for line in readme_unbacked((ROOT / "README.md").read_text(), notebooks):
        total += 1
        print(line)
    print(f"{total} prose numbers neither printed, shown in code nor cited")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())

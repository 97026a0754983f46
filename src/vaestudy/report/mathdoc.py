"""Markdown with LaTeX math -> an HTML fragment with MathML, for the report's theory section.

Why MathML: browsers render it natively, so the report needs no JavaScript and no CDN and reads
offline. ``latex2mathml`` converts each formula; Markdown (``markdown``) does the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

_MATH = re.compile(r"(?P<code>```.*?```|`[^`\n]+`)"  # code is left alone
                   r"|\$\$(?P<display>.+?)\$\$|\$(?P<inline>[^$]+?)\$", re.S)
_UNSUPPORTED = re.compile(r"<m[ion]>(?:\\[A-Za-z]+|&)</m[ion]>")  # unknown command, stray &


def formulas(text: str) -> list[tuple[str, bool]]:
    """(latex, display) for every $...$ and $$...$$ outside code in a Markdown text."""
    return [(m["display"] if m["display"] is not None else m["inline"], m["display"] is not None)
            for m in _MATH.finditer(text) if m["code"] is None]


def latex_to_mathml(latex: str, display: bool = False) -> str:
    """One formula as MathML; ValueError where latex2mathml fails, or where it passes LaTeX it
    does not know through silently (``\\foo`` as text, ``&`` of an unsupported environment)."""
    from latex2mathml.converter import convert

    try:
        mathml = convert(latex.strip(), display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises its own exception types
        raise ValueError(f"cannot convert {latex!r}: {type(exc).__name__} {exc}") from exc
    if "merror" in mathml or "\\" in re.sub(r"<[^>]*>", "", mathml) or _UNSUPPORTED.search(mathml):
        raise ValueError(f"unsupported LaTeX in {latex!r}: {mathml[:300]}")
    return mathml


def render_markdown(path: Path | str) -> str:
    """docs/theory.md as an HTML fragment with MathML (no JavaScript, no CDN). The math is taken
    out before Markdown runs (so ``_``, ``*``, ``\\`` and ``|`` inside it are not touched), then
    put back; ValueError listing every formula that fails to convert."""
    import markdown

    pieces: list[str] = []
    failures: list[str] = []

    def stash(m: re.Match) -> str:
        if m["code"] is not None:
            return m[0]
        display = m["display"] is not None
        try:
            mathml = latex_to_mathml(m["display"] if display else m["inline"], display)
            # A scroll box of its own keeps a wide formula from widening the page (phones).
            pieces.append(f'<div class="math-display">{mathml}</div>' if display else mathml)
        except ValueError as exc:
            failures.append(str(exc))
            pieces.append("")
        return f"MATHPH{len(pieces) - 1}X"

    text = _MATH.sub(stash, Path(path).read_text(encoding="utf-8"))
    if failures:
        raise ValueError(f"{len(failures)} formula(s) failed:\n" + "\n".join(failures))
    html = markdown.markdown(text, extensions=["extra", "sane_lists"])
    html = re.sub(r"<p>\s*(MATHPH\d+X)\s*</p>", r"\1", html)  # display math stands alone
    return re.sub(r"MATHPH(\d+)X", lambda m: pieces[int(m[1])], html)

"""LaTeX tables (booktabs) for papers, written by hand so every cell is escaped the same way.

pandas' ``to_latex`` needs jinja2 and escapes only when asked; task names (``demo_vqa``), model
names and answers carry ``_``, ``%``, ``&``... which break a document silently.  Every cell goes
through :func:`latex_escape`; a cell that starts with ``[`` is braced so that LaTeX does not read
it as the optional argument of the preceding ``\\\\``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def latex_escape(text: Any) -> str:
    """Escape LaTeX's special characters in ``text`` (one pass, so nothing is escaped twice)."""
    escaped = "".join(_SPECIALS.get(char, char) for char in str(text))
    return " ".join(escaped.splitlines())


def _cell(value: Any) -> str:
    text = latex_escape(value)
    return "{" + text + "}" if text.startswith("[") else text


def latex_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    align: str,
    caption: str = "",
    label: str = "",
) -> str:
    """A ``table`` environment with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    if len(align) != len(header):
        raise ValueError(f"align {align!r} has {len(align)} columns, header {len(header)}")
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(_cell(h) for h in header) + r" \\",
        r"\midrule",
    ]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells, header {len(header)}")
        lines.append(" & ".join(_cell(value) for value in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{re.sub(r'[^A-Za-z0-9:._-]', '-', label)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"

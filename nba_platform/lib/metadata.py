"""Small, dependency-free helpers that turn frames and counts into readable metadata."""

from __future__ import annotations

import pandas as pd


def markdown_cell(text: str) -> str:
    """Source text shown literally in a Markdown table: HTML (`<script>`) as text, not markup;
    a pipe or line break cannot end the cell or the row."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def markdown_table(frame: pd.DataFrame, max_rows: int = 8, max_cols: int = 14) -> str:
    if frame is None or frame.empty:
        return "_no rows_"
    view = frame.iloc[:max_rows, :max_cols]
    header = "| " + " | ".join(markdown_cell(str(c)) for c in view.columns) + " |"
    sep = "|" + "---|" * len(view.columns)
    rows = []
    for row in view.itertuples(index=False):
        cells = ["" if pd.isna(v) else (v.date().isoformat() if isinstance(v, pd.Timestamp) else str(v)) for v in row]
        rows.append("| " + " | ".join(markdown_cell(c) for c in cells) + " |")
    more = f"\n\n_{len(frame) - max_rows} more rows_" if len(frame) > max_rows else ""
    return "\n".join([header, sep, *rows]) + more


def counts_markdown(counts: dict[str, int], key: str = "rule", value: str = "rows") -> str:
    if not counts:
        return "_none_"
    lines = [f"| {key} | {value} |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(counts.items())]
    return "\n".join(lines)


def seasons_covered(frames: dict[str, pd.DataFrame]) -> str:
    seasons = sorted(s for s, f in frames.items() if len(f))
    return ", ".join(seasons) if seasons else "none"

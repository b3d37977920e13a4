"""The chat page's "规划承诺" tab: the commitments ledger as a searchable, sortable table.

Call build_commitments_tab() inside an open `gr.Blocks()`. It needs only the ledger
(assistant.commitments), never the answer engine, so the tab works even when the
embedding model is missing.

The CSV downloads are written into one folder (the server's temporary folder), at most
MAX_CSV_FILES of them: the oldest go first. Filter values are checked here, not trusted:
a chapter or kind that does not exist means "all".
"""

from __future__ import annotations

import atexit
import hashlib
import html
import os
import re
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from assistant.chunks import cn_numeral
from assistant.commitments import KIND_NAMES, Commitment, Ledger, format_records, load_ledger

COLUMNS = ["章节", "指标/事项", "目标值", "期限", "类型", "出处"]
ALL = ""  # the "no filter" choice of both dropdowns
# Achievements are past results, not commitments: shown only when asked for.
COMMITMENT_KINDS = ("indicator", "target", "qualitative")
_HINT = "<p style='opacity:.7'>点击表格中的一行，查看该承诺在《纲要》中的原文。</p>"
MAX_CSV_FILES = 32  # distinct filtered selections kept for download at once
MAX_SEARCH_CHARS = 100


def build_commitments_tab(ledger: Ledger | None = None, downloads: Path | None = None) -> gr.Tab:
    """Add the tab to the Blocks being built and wire its events; returns the tab. CSV
    files go into `downloads` (app.py passes a folder inside its temporary folder, removed
    on exit); without it, a new temporary folder, removed when Python exits."""
    ledger = ledger or load_ledger()
    chapters = sorted({r.chapter for r in ledger.records})
    if downloads is None:  # built on its own (a test, a notebook): a folder removed when Python exits
        downloads = Path(tempfile.mkdtemp(prefix="commitments-"))
        atexit.register(shutil.rmtree, downloads, True)
    downloads.mkdir(parents=True, exist_ok=True)
    initial = select_records(ledger, "", ALL, ALL)

    with gr.Tab("规划承诺") as tab:
        gr.Markdown(f"《纲要》中的主要指标、量化目标和有时限的定性承诺，共 {len(initial)} 条；"
                    "每条都附有原文出处。点击表头可排序。")
        with gr.Row():
            search = gr.Textbox(label="搜索", placeholder="如：养老、绿化、2025年、850张", scale=3)
            chapter = gr.Dropdown(
                choices=[("全部章节", ALL)] + [(f"第{cn_numeral(c)}章", str(c)) for c in chapters],
                value=ALL, label="章节", scale=1, allow_custom_value=True,  # checked in select_records
            )
            kind = gr.Dropdown(
                choices=[("全部承诺", ALL)] + [(KIND_NAMES[k], k) for k in (*COMMITMENT_KINDS, "achievement")],
                value=ALL, label="类型", scale=1, allow_custom_value=True,
            )
        table = gr.Dataframe(
            value=table_rows(initial), headers=COLUMNS, datatype="str", interactive=False, wrap=True,
            max_height=520, column_widths=["11%", "27%", "14%", "9%", "9%", "30%"], label="承诺清单",
        )
        passage = gr.HTML(_HINT)
        download = gr.DownloadButton("下载 CSV", value=write_csv(initial, downloads), size="sm")

        def refresh(text: str, chapter_value: str, kind_value: str):
            records = select_records(ledger, text, chapter_value, kind_value)
            return table_rows(records), write_csv(records, downloads), _HINT

        filters, outputs = [search, chapter, kind], [table, download, passage]
        # One public endpoint for scripts; the same handler on the dropdowns stays private.
        search.change(refresh, filters, outputs, trigger_mode="always_last", api_name="commitments_filter")
        chapter.change(refresh, filters, outputs, api_visibility="private")
        kind.change(refresh, filters, outputs, api_visibility="private")

        def show(evt: gr.EventData) -> str:
            # row_value, not index: after the user sorts, index is the visual row (gradio #10702).
            # Read from the raw event data (what gr.SelectData carries), which may be anything.
            data = getattr(evt, "_data", None)
            row = data.get("row_value") if isinstance(data, dict) else None
            record = record_for_row(ledger, row if isinstance(row, list) else None)
            return render_passage(ledger, record) if record else _HINT

        table.select(show, None, passage, api_visibility="private")
    return tab


def select_records(ledger: Ledger, text: str, chapter: str, kind: str) -> list[Commitment]:
    """What the filters show: by default every commitment, achievements only on request.
    Values the dropdowns do not offer (sent by a script) count as no filter."""
    text = text.strip()[:MAX_SEARCH_CHARS] if isinstance(text, str) else ""
    chapter = chapter if isinstance(chapter, str) and chapter.isdigit() and len(chapter) <= 2 else ALL
    kind = kind if isinstance(kind, str) and kind in KIND_NAMES else ALL
    records = ledger.filter(grep=text or None, chapter=int(chapter) if chapter else None, kind=kind or None)
    return records if kind else [r for r in records if r.kind in COMMITMENT_KINDS]


def table_rows(records: list[Commitment]) -> list[list[str]]:
    return [_row(r) for r in records]


def _row(record: Commitment) -> list[str]:
    value = record.value + (f"（{record.qualifier}）" if record.qualifier else "")
    return [record.place, record.metric, value, record.period or "—", KIND_NAMES[record.kind], record.label]


def record_for_row(ledger: Ledger, row: list | None) -> Commitment | None:
    """The record a table row shows (rows are unique: quote-sharing records differ in value)."""
    if not row or len(row) != len(COLUMNS) or not all(isinstance(cell, (str, int, float)) for cell in row):
        return None
    wanted = [str(cell) for cell in row]
    return next((r for r in ledger.records if _row(r) == wanted), None)


def render_passage(ledger: Ledger, record: Commitment) -> str:
    """The record's paragraph, HTML-escaped, with its quote highlighted."""
    passage = ledger.passage(record)
    if record.indicator is not None:
        passage = passage.replace("\t", " ｜ ")
    start, end = _locate(record.quote.replace("\t", " ｜ ") if record.indicator else record.quote, passage)
    body = (html.escape(passage[:start]) + "<mark>" + html.escape(passage[start:end]) + "</mark>"
            + html.escape(passage[end:])) if end > start else html.escape(passage)
    value = html.escape(record.value + (f"（{record.qualifier}）" if record.qualifier else ""))
    return (
        f"<div class='commitment-passage'><p><strong>{html.escape(record.label)}</strong></p>"
        f"<p>{html.escape(record.metric)}：<strong>{value}</strong>"
        f"{' · ' + html.escape(record.period) if record.period else ''} · {KIND_NAMES[record.kind]}</p>"
        f"<blockquote style='line-height:1.8'>{body}</blockquote></div>"
    )


def _locate(quote: str, passage: str) -> tuple[int, int]:
    """Span of `quote` in `passage`, tolerating whitespace that differs (PDF line breaks)."""
    start = passage.find(quote)
    if start >= 0:
        return start, start + len(quote)
    pattern = r"\s*".join(re.escape(c) for c in re.sub(r"\s+", "", quote))
    match = re.search(pattern, passage)
    return (match.start(), match.end()) if match else (0, 0)


def write_csv(records: list[Commitment], folder: Path, keep: int = MAX_CSV_FILES) -> str:
    """The records as a CSV file for download; one file per distinct selection, at most
    `keep` of them in `folder` (the least recently used go).

    Written with a BOM ("utf-8-sig") because Excel otherwise reads UTF-8 Chinese as mojibake."""
    text = format_records(records, "csv") + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = folder / digest / "commitments.csv"
    if path.exists():
        os.utime(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8-sig")
    files = sorted(folder.glob("*/commitments.csv"), key=_modified)
    for old in files[:-keep]:
        shutil.rmtree(old.parent, ignore_errors=True)
    return str(path)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0

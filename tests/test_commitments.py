"""The commitments ledger: known targets with exact values and places, exports that
read back, the CLI filters, and the chat page's tab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.chunks import chunk_outline
from assistant.commitments import Commitment, Ledger, _paragraph_records, build_ledger, format_records, parse_records
from assistant.text import squash
from eval.commitments import commitments_report, load_checklist, match

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def ledger(outline) -> Ledger:
    return build_ledger(outline)


def find(ledger: Ledger, chapter: int, section: int | None, value: str, **kw) -> Commitment:
    hits = [r for r in ledger.records if (r.chapter, r.section, r.value) == (chapter, section, value)
            and all(getattr(r, k) == v for k, v in kw.items())]
    assert len(hits) == 1, f"{chapter}.{section} {value} {kw}: {hits}"
    return hits[0]


def test_new_elderly_care_beds_cite_nine_six(ledger):
    record = find(ledger, 9, 6, "850张")
    assert record.kind == "target" and record.metric == "新增养老床位"
    assert record.number == 850.0 and record.unit == "张"
    assert record.label == "第九章（六）大力提升养老服务水平 · 优化养老机构布局"
    assert squash("新增养老床位 850 张") in squash(record.quote)


def test_mechanised_road_cleaning_is_full(ledger):
    record = find(ledger, 8, 2, "100%")
    assert record.metric == "道路机械化综合保洁率" and record.number == 100.0 and record.unit == "%"


def test_indicator_six_is_a_row_of_the_table(ledger):
    record = next(r for r in ledger.records if r.indicator == 6)
    assert (record.kind, record.value, record.period, record.chapter, record.section) == ("indicator", "600家", "2025年", 2, 4)
    assert record.label == "第二章（四）主要指标 · 指标6 高新技术企业数"
    assert [r.indicator for r in ledger.records if r.kind == "indicator"] == list(range(1, 23))


def test_respective_parking_turnover_values_are_two_records(ledger):
    first, second = find(ledger, 8, 3, "1.95车次/天"), find(ledger, 8, 3, "1.85车次/天")
    assert (first.metric, second.metric) == ("经营性泊位周转率", "道路泊位周转率")
    assert first.unit == "车次/天" and first.number == 1.95
    assert first.quote == second.quote


def test_ranges_and_compound_units_are_copied_as_written(ledger):
    fintech = find(ledger, 4, 1, "2-3家")
    assert fintech.metric == "金融科技龙头企业" and fintech.number is None  # a range is not one number
    tax = next(r for r in ledger.records if r.indicator == 4)
    assert (tax.value, tax.unit, tax.qualifier) == ("6800元/平方米", "元/平方米", "左右")


def test_ten_hundred_thousand_list_gives_one_record_per_amount(ledger):
    values = [r.value for r in ledger.records if (r.chapter, r.section) == (4, 1)]
    assert values == ["2-3家", "10家", "100家", "1000个", "10000家"]


def test_periods(ledger):
    assert find(ledger, 8, 2, "1处").period == "每年"
    assert find(ledger, 8, 2, "1万平方米").period == "每年"  # "每年" opens the clause for both items
    assert find(ledger, 4, 2, "200万平方米").period == "十四五期间"
    assert find(ledger, 3, 2, "40亿美元").period == "五年累计"
    assert find(ledger, 4, 3, "4000户").period == "年均"
    assert find(ledger, 9, 6, "850张").period is None


def test_dated_qualitative_commitments(ledger):
    peak = [r for r in ledger.records if r.kind == "qualitative" and "碳排放达峰" in r.value]
    assert len(peak) == 1 and peak[0].period == "2025年" and (peak[0].chapter, peak[0].section) == (8, 2)
    row15 = next(r for r in ledger.records if r.indicator == 15)
    assert row15.value == "基本实现市政道路全面入地" and row15.period == "2025年"


def test_achievements_are_kept_apart_from_targets(ledger):
    achievements = [r for r in ledger.records if r.kind == "achievement"]
    assert achievements and all((r.chapter, r.section) == (1, 1) for r in achievements)
    assert all(r.chapter != 1 for r in ledger.filter(kind="target"))
    assert any(r.value == "6567张" for r in achievements)  # 十三五: 养老床位 6567 张
    assert not any(r.value == "6567张" for r in ledger.filter(kind="target"))


def test_every_quote_is_verbatim_in_the_plan(ledger, plan_text):
    plan = squash(plan_text)
    assert all(squash(r.quote) in plan for r in ledger.records)
    assert all(squash(r.quote) in squash(ledger.passage(r)) for r in ledger.records)


def test_labels_are_chunk_labels(ledger, outline):
    labels = {c.label for c in chunk_outline(outline)}
    assert {r.label for r in ledger.records} <= labels


def test_rules_generalise_beyond_this_plan():
    drafts = _paragraph_records(
        "到2025年，全区公共充电桩达到5000个，每年新增绿地2万平方米、改造口袋公园3处，"
        "城镇调查失业率控制在5%以内，推进轨道交通 14 号线建设。", "target")
    assert [(d["kind"], d["value"], d["period"], d["metric"]) for d in drafts] == [
        ("target", "5000个", "2025年", "全区公共充电桩"), ("target", "2万平方米", "每年", "新增绿地"),
        ("target", "3处", "每年", "改造口袋公园"), ("target", "5%", "2025年", "城镇调查失业率"),
        # "14 号线" is a name, not an amount; the opening "到2025年" still dates the clause.
        ("qualitative", "推进轨道交通14号线建设", "2025年", "轨道交通14号线建设")]
    assert drafts[3]["qualifier"] == "控制在…以内"


def test_checklist_recall_and_precision(ledger):
    result = match(ledger, load_checklist())
    assert result.recall >= 0.95, [(i.chapter, i.section, i.value) for i in result.missed]
    assert result.precision >= 0.95, [(r.id, r.value) for r in result.extra]
    assert "recall" in commitments_report(ledger=ledger)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_exports_read_back_to_the_same_records(ledger, fmt):
    text = format_records(ledger.records, fmt)
    assert parse_records(text, fmt) == ledger.records


def test_table_is_aligned_for_cjk(ledger):
    from assistant.commitments import _width

    lines = format_records(ledger.records, "table").splitlines()
    header, rows = lines[0], lines[2:-1]
    metric_column = _width(header[:header.index("指标/事项")])  # in terminal columns, CJK counting two
    for line in rows:
        at = next(i for i in range(len(line) + 1) if _width(line[:i]) >= metric_column)
        assert _width(line[:at]) == metric_column and line[at - 2:at] == "  " and line[at] != " ", line
    assert lines[-1] == f"{len(ledger.records)} records"


def run_cli(*args: str) -> str:
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([python, "-m", "assistant", "commitments", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_filters_by_grep_chapter_and_kind():
    records = json.loads(run_cli("--grep", "养老", "--chapter", "9", "--kind", "target", "--format", "json"))
    assert records and {(r["chapter"], r["kind"]) for r in records} == {(9, "target")}
    assert "850张" in [r["value"] for r in records]
    assert all("养老" in r["metric"] + r["quote"] + r["label"] for r in records)


def test_cli_csv_and_table():
    csv_text = run_cli("--kind", "indicator", "--format", "csv")
    assert len(parse_records(csv_text, "csv")) == 22
    table = run_cli("--chapter", "8")
    assert "1.95车次/天" in table and "第一章" not in table


def test_commitments_tab_builds_inside_blocks(ledger):
    import gradio as gr

    from assistant.commitments_tab import build_commitments_tab, record_for_row, render_passage, select_records, table_rows

    with gr.Blocks() as demo:
        tab = build_commitments_tab(ledger)
    assert isinstance(tab, gr.Tab) and tab.label == "规划承诺"
    assert any(isinstance(block, gr.Dataframe) for block in demo.blocks.values())

    shown = select_records(ledger, "养老", "9", "")
    assert [r.value for r in shown] == ["850张", "60%", "40平方米/千人"]
    assert all(r.kind != "achievement" for r in select_records(ledger, "", "", ""))
    row = table_rows(shown)[0]
    assert record_for_row(ledger, row) == shown[0]
    assert "<mark>新增养老床位 850 张</mark>" in render_passage(ledger, shown[0])


def test_passage_is_html_escaped():
    from assistant.commitments_tab import render_passage

    record = Commitment(id="x.1", metric="<b>", value="1个", number=1.0, unit="个", period=None, kind="target",
                        chapter=3, section=1, indicator=None, label="第三章（一）", quote="建成<script>1个",
                        source="x")
    html_text = render_passage(Ledger([record], {"x": "前文<i>，建成<script>1个，后文"}), record)
    assert "<script>" not in html_text and "<i>" not in html_text
    assert "<mark>建成&lt;script&gt;1个</mark>" in html_text

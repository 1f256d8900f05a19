"""The gold file: the shipped one is complete and true to the seeds; bad files fail by line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import InputError
from assistant.evaluation.harness import load_gold, load_labels, parse_compare, parse_overrides
from assistant.evaluation.metrics import contains_fact

ROOT = Path(__file__).resolve().parents[3]
GOLD = ROOT / "eval" / "gold.jsonl"
SEEDS = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "seeds").glob("*.txt")}


def test_shipped_gold_set_covers_what_the_issue_asks():
    items = load_gold(GOLD)
    assert len(items) >= 40
    assert sum(not i.answerable for i in items) >= 8
    deeper = [i for i in items if i.category == "deeper"]
    assert len(deeper) == 3 and all(i.answer and len(i.facts) >= 4 for i in deeper)
    differ = [i for i in items if i.category == "differ"]
    assert len(differ) >= 2 and all(len(i.sources) == 2 for i in differ)
    assert any("ignore" in i.question.lower() for i in items if not i.answerable)


def test_every_gold_fact_is_in_a_gold_source_and_in_the_reference_answer():
    for item in load_gold(GOLD):
        assert set(item.sources) <= set(SEEDS), item.id
        for fact in item.facts:
            assert any(contains_fact(SEEDS[s], a) for s in item.sources for a in fact), (item.id, fact)
            if item.answer:
                assert any(contains_fact(item.answer, a) for a in fact), (item.id, fact)


def test_differing_items_hold_one_version_per_document():
    for item in load_gold(GOLD):
        if item.category != "differ":
            continue
        for fact in item.facts:
            docs = [s for s in item.sources if any(contains_fact(SEEDS[s], a) for a in fact)]
            assert docs, (item.id, fact)


GOOD = {"id": "q1", "question": "What rose?", "answerable": True, "facts": [["60.3"]], "sources": ["d"]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "question"}), "missing field 'question'"),
        (json.dumps({**GOOD, "answerable": "yes"}), "field 'answerable'"),
        (json.dumps({**GOOD, "facts": ["60.3"]}), "field 'facts'"),
        (json.dumps({**GOOD, "facts": [[]]}), "field 'facts'"),
        (json.dumps({**GOOD, "answerable": False}), "field 'facts' must be empty"),
        (json.dumps({**GOOD, "sources": "d"}), "field 'sources'"),
        (json.dumps({**GOOD, "question": " "}), "field 'question'"),
        (json.dumps({**GOOD, "fact": []}), "unknown field 'fact'"),
        (json.dumps(GOOD), "repeats line 2"),
    ],
)
def test_malformed_gold_names_line_and_field(tmp_path, line, message):
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps({**GOOD, "id": "q0"}) + "\n" + json.dumps(GOOD) + "\n\n" + line + "\n")
    with pytest.raises(InputError) as err:
        load_gold(path)
    assert f"{path}:4" in str(err.value) and message in str(err.value)


def test_empty_and_missing_gold_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="no items"):
        load_gold(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="does not exist"):
        load_gold(tmp_path / "nope.jsonl")


def test_cli_reports_a_malformed_gold_file_and_writes_nothing(tmp_path):
    from assistant.cli import main

    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "id": "q2", "facts": "60.3"}) + "\n")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["eval", "--gold", str(gold), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{gold}:2" in result.output and "'facts'" in result.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["gold.jsonl"]


def test_cli_refuses_bounds_on_one_part_before_any_work(tmp_path):
    from assistant.cli import main

    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOOD) + "\n")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["eval", "--gold", str(gold), "--split", "dev", "--check",
                                       str(ROOT / "eval" / "thresholds.toml"), "--out", str(out)])
    assert result.exit_code == 2 and "--split dev" in result.output and "--split all" in result.output
    assert not out.exists()


def test_overrides_and_compare_specs():
    assert parse_overrides(["k=4", "llm=extractive,chunk_tokens=96"]) == {"k": "4", "llm": "extractive", "chunk_tokens": "96"}
    assert parse_overrides(["ASSISTANT_K=4"]) == {"k": "4"}
    cfg = parse_compare("dense=retrieval=dense,k=4")
    assert cfg.name == "dense" and cfg.overrides == {"retrieval": "dense", "k": "4"}
    for bad in (["k"], ["nonsense=1"], ["index_dir=/tmp/x"]):
        with pytest.raises(InputError):
            parse_overrides(bad)
    with pytest.raises(InputError, match="NAME=key=value"):
        parse_compare("dense")


def test_shipped_judge_labels_are_valid_and_balanced():
    pairs = load_labels(ROOT / "eval" / "judge_labels.jsonl")
    assert len(pairs) >= 60
    positives = sum(p["supported"] for p in pairs)
    assert 0.3 < positives / len(pairs) < 0.7
    assert len({p["id"] for p in pairs}) == len(pairs)


def test_questions_can_be_asked_as_people_type_them():
    import pytest

    from assistant.errors import InputError
    from assistant.evaluation.harness import GoldItem, as_typed

    items = [GoldItem("story-01", "Who is the biggest owner of MP Materials?", True, [["JHL"]])]
    assert as_typed(items, "as-written") == items
    typed = as_typed(items, "lowercase")
    assert typed[0].question == "who is the biggest owner of mp materials"
    assert typed[0].facts == [["JHL"]] and items[0].question.endswith("?")  # the gold file's item is untouched
    with pytest.raises(InputError, match="typed must be one of"):
        as_typed(items, "shouting")


def test_a_gold_file_written_elsewhere_needs_only_questions_and_answers(tmp_path):
    """SQuAD-style lines (question, short answer) load: id from the line, answerable, the answer as the fact."""
    path = tmp_path / "mine.jsonl"
    long_answer = "China tightened quota secrecy and cracked down on smuggling through fake labels."
    path.write_text("\n".join(json.dumps(x) for x in [
        {"question": "How much did exports jump?", "answer": "60.3%"},
        {"question": "How is China enforcing it?", "answer": long_answer},
        {"question": "Who won in 1998?", "answerable": False},
    ]) + "\n")
    short, long, unanswerable = load_gold(path)
    assert (short.id, short.answerable, short.facts) == ("mine-001", True, [["60.3%"]])
    assert (long.id, long.answerable, long.facts, long.answer) == ("mine-002", True, [], long_answer)
    assert (unanswerable.id, unanswerable.answerable) == ("mine-003", False)
    path.write_text(json.dumps({"question": "Who won?"}) + "\n")
    with pytest.raises(InputError, match="missing field 'answerable' \\(true or false"):
        load_gold(path)

"""Check eval/ood/ (docs, gold.jsonl, gold_meta.jsonl) and eval/judge_labels_ood.jsonl.

    python eval/ood/validate_ood.py

Standard library only. Exits non-zero and lists the problems when a check fails;
prints the counts at the end.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVAL = HERE.parent
GOLD_FIELDS = {"id", "question", "answerable", "facts", "sources", "answer"}  # as assistant/evaluation/harness.py
NEG_TAGS = {"neg:wrong_date", "neg:wrong_entity", "neg:wrong_quantity", "neg:number_words", "neg:rounded",
            "neg:negation", "neg:reversed_roles", "neg:extra_claim", "neg:reversed_action"}


def read_jsonl(path: Path, errors: list[str]) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(f"{path.name}:{n}: not JSON ({exc.msg})")
    return rows


def main() -> int:
    errors: list[str] = []
    docs = {p.stem: p.read_text(encoding="utf-8") for p in sorted((HERE / "docs").glob("*.txt"))}
    lower = {k: v.lower() for k, v in docs.items()}
    size = sum((HERE / "docs" / f"{k}.txt").stat().st_size for k in docs)
    for k, text in docs.items():
        if not re.fullmatch(r"[a-z0-9_]+_\d{2}", k):
            errors.append(f"doc id {k!r} is not <slug>_<nn>")
        first, _, rest = text.partition("\n")
        if not re.fullmatch(r".+ \(paragraph \d+\)", first) or not rest.startswith("\n") or not rest.strip():
            errors.append(f"{k}: first line must be 'Title (paragraph N)' then a blank line and the text")

    gold = read_jsonl(HERE / "gold.jsonl", errors) + read_jsonl(HERE / "gold_adversarial.jsonl", errors)
    meta = {m["id"]: m for m in read_jsonl(HERE / "gold_meta.jsonl", errors)}
    ids = Counter(g.get("id") for g in gold)
    errors += [f"gold id {i!r} repeats" for i, c in ids.items() if c > 1]
    questions = Counter(g.get("question", "").strip().lower() for g in gold)
    errors += [f"question repeats: {q!r}" for q, c in questions.items() if c > 1]
    kinds: Counter = Counter()
    for g in gold:
        gid = g.get("id")
        if set(g) - GOLD_FIELDS:
            errors.append(f"{gid}: fields outside {sorted(GOLD_FIELDS)}: {sorted(set(g) - GOLD_FIELDS)}")
        m = meta.get(gid)
        if m is None:
            errors.append(f"{gid}: no gold_meta.jsonl row")
            continue
        kind = m["kind"]
        kinds[kind] += 1
        for s in g.get("sources", []):
            if s not in docs:
                errors.append(f"{gid}: source {s!r} is not a docs/ file")
        if g["answerable"]:
            if kind != "answerable":
                errors.append(f"{gid}: answerable but kind {kind!r}")
            facts = g.get("facts") or []
            if len(facts) != 1 or not facts[0] or not g.get("sources") or not g.get("answer"):
                errors.append(f"{gid}: answerable item needs one fact, sources and answer")
                continue
            if not any(sp.lower() in lower[g["sources"][0]] for sp in facts[0] if g["sources"][0] in lower):
                errors.append(f"{gid}: no spelling of {facts[0]} in {g['sources'][0]}")
        else:
            if g.get("facts") or g.get("sources"):
                errors.append(f"{gid}: unanswerable item must have empty facts and sources")
            if kind == "removed_doc":
                if m.get("removed_doc") in docs:
                    errors.append(f"{gid}: removed paragraph {m['removed_doc']} is in docs/")
                for sp in m.get("removed_spellings", []):
                    hits = [k for k, t in lower.items() if sp.lower() in t]
                    if hits:
                        errors.append(f"{gid}: removed answer {sp!r} occurs in {hits[:3]}")
            elif kind == "squad_impossible":
                if m.get("paragraph_doc") not in docs:
                    errors.append(f"{gid}: squad_impossible paragraph {m.get('paragraph_doc')} not in docs/")
            else:
                errors.append(f"{gid}: unanswerable with kind {kind!r}")

    labels = read_jsonl(EVAL / "judge_labels_ood.jsonl", errors)
    lids = Counter(x.get("id") for x in labels)
    errors += [f"label id {i!r} repeats" for i, c in lids.items() if c > 1]
    pos = neg = 0
    tags: Counter = Counter()
    for x in labels:
        lid = x.get("id")
        for name, typ in (("sentence", str), ("snippet", str), ("supported", bool), ("note", str), ("source", str)):
            if not isinstance(x.get(name), typ):
                errors.append(f"{lid}: field {name!r} must be {typ.__name__}")
        if x.get("source") not in docs:
            errors.append(f"{lid}: source {x.get('source')!r} is not a docs/ file")
        elif x["snippet"] not in docs[x["source"]]:
            errors.append(f"{lid}: snippet not verbatim in {x['source']}")
        tag = x.get("note", "").split(" ", 1)[0].rstrip(":,")
        if x.get("supported") is True:
            pos += 1
            if not tag.startswith("pos:"):
                errors.append(f"{lid}: supported label note must start with 'pos:'")
        else:
            neg += 1
            if tag not in NEG_TAGS:
                errors.append(f"{lid}: negative label note must start with one of {sorted(NEG_TAGS)}")
        tags[tag] += 1
        if x.get("sentence") == x.get("snippet") and x.get("supported") is False:
            errors.append(f"{lid}: sentence equals snippet but labelled unsupported")

    for e in errors:
        print("ERROR", e)
    print(f"docs: {len(docs)} files, {size} bytes, {len({k.rsplit('_', 1)[0] for k in docs})} articles")
    print(f"gold: {len(gold)} items; " + ", ".join(f"{k} {kinds[k]}" for k in ("answerable", "removed_doc", "squad_impossible")))
    print(f"judge labels: {len(labels)} ({pos} supported, {neg} not supported)")
    print("label tags: " + ", ".join(f"{t} {c}" for t, c in sorted(tags.items())))
    print("OK" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Build two-part questions ("... and when did ...?") from a suite's one-fact questions.

A user often asks two things at once. This probe joins two questions of a
suite written by others into one ("Who led the papal army in the War of
Barbastro and what century did ...?"); the answer must hold both facts. The
questions come from the same part (dev or sealed test) of their suite, so the
probe keeps the split: each new id is numbered until ``split_of`` gives it the
part its questions came from.

- ``both-NNN``: two answerable questions (of the same document when the source
  suite has one document per question, as SQuAD paragraphs do); both facts needed.
- ``half-NNN``: an answerable question joined with an unanswerable one; the
  first fact is needed, and the answer must not abstain.

Usage: python eval/parts/build_parts.py --gold eval/ood/gold.jsonl --out eval/parts/ood.jsonl [--same-source]
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assistant.evaluation.splits import split_of  # noqa: E402
from assistant.text.language import WH_TAGS, parse  # noqa: E402

MAX_WORDS = 18  # longer questions joined read as no one would ask them


def usable(question: str) -> bool:
    """A one-sentence question opening with its wh-word, short enough to join."""
    words = question.split()
    if not question.endswith("?") or question.count("?") != 1 or len(words) > MAX_WORDS:
        return False
    doc = parse(question)
    return doc[0].tag_ in WH_TAGS and not any(t.lower_ == "and" and t.nbor(1).tag_ in WH_TAGS
                                              for t in doc[:-1])


def joined(first: str, second: str) -> str:
    return f"{first.rstrip('?').strip()} and {second[:1].lower()}{second[1:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--same-source", action="store_true",
                        help="pair answerable questions only with another of the same source document")
    args = parser.parse_args()
    items = [json.loads(line) for line in Path(args.gold).read_text().splitlines() if line.strip()]
    items = [it for it in items if usable(it["question"])]
    out: list[dict] = []
    numbers = {"both": count(1), "half": count(1)}
    for split in ("dev", "test"):
        answerable = [it for it in items if it["answerable"] and split_of(it["id"]) == split]
        unanswerable = [it for it in items if not it["answerable"] and split_of(it["id"]) == split]
        groups: dict[str, list[dict]] = {}
        for it in answerable:
            groups.setdefault(it["sources"][0] if args.same_source else "all", []).append(it)
        for group in groups.values():
            for a, b in zip(group[0::2], group[1::2], strict=False):
                out.append(_item("both", numbers, split, joined(a["question"], b["question"]),
                                 a["facts"] + b["facts"], a["sources"] + b["sources"]))
        leftovers = [g[-1] for g in groups.values() if len(g) % 2] or answerable
        for a, b in zip(leftovers, unanswerable, strict=False):
            out.append(_item("half", numbers, split, joined(a["question"], b["question"]), a["facts"], a["sources"]))
    Path(args.out).write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in out))
    print(f"{len(out)} questions -> {args.out}")


def _item(kind: str, numbers: dict, split: str, question: str, facts: list, sources: list) -> dict:
    while True:
        item_id = f"{kind}-{next(numbers[kind]):03d}"
        if split_of(item_id) == split:
            return {"id": item_id, "question": question, "answerable": True, "facts": facts,
                    "sources": list(dict.fromkeys(sources))}


if __name__ == "__main__":
    main()

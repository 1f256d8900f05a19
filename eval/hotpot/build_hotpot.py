"""Build the multi-hop probe from HotpotQA's dev set (distractor setting): questions whose
answer needs facts from two Wikipedia paragraphs, each asked over its two supporting
paragraphs and eight distractors that share its words (github.com/hotpotqa, CC BY-SA 4.0).

The source is the copy of ``hotpot_dev_distractor_v1.json`` committed to
github.com/Rakin061/hotpot (blob ``0aa9da1e``). That copy was cut off after its first
53 questions, so the builder reads the complete ones and stops at the cut.

- The corpus is every paragraph of every question kept (title, blank line, text), one
  file each; a paragraph shared by two questions is one file.
- A bridge or comparison question with a named answer gets one fact, the answer; "yes"/"no"
  answers are skipped (no span states them), and so are answers the question itself names
  ("Who is older, Annie Morton or Terry Richardson?": an answer quoting both would match).
- About a fifth of the bridge questions, chosen by a fixed hash, lose the supporting
  paragraph that holds their answer and become unanswerable, when no other paragraph left
  still names the answer. Their other supporting paragraph and the distractors stay, so
  they are refused only if the assistant notices what is missing.

    python eval/hotpot/build_hotpot.py --repo /work/.mirror/Rakin061+hotpot/repo
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLOB = "0aa9da1ecf8fd5f04f421cc8c88e463a53fc6d66"  # hotpot_dev_distractor_v1.json, cut at 365,099 bytes
UNANSWERABLE_PERCENT = 22


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="a clone of Rakin061/hotpot (any commit holding the blob)")
    parser.add_argument("--out", default=str(HERE), help="where docs/ and gold.jsonl go")
    args = parser.parse_args()
    raw = subprocess.run(["git", "-C", args.repo, "cat-file", "-p", BLOB],
                         capture_output=True, text=True, check=True).stdout
    questions = _complete_items(raw)
    paragraphs: dict[str, tuple[str, str]] = {}  # slug -> (title, text)
    for question in questions:
        for title, sentences in question["context"]:
            paragraphs.setdefault(_slug(title), (title, "".join(sentences).strip()))

    removed: set[str] = set()
    taken: dict[str, list[str]] = {}  # unanswerable id -> the paragraphs removed for it
    items = []
    for n, question in enumerate(questions, start=1):
        answer = question["answer"].strip()
        if answer.lower() in ("yes", "no") or answer.lower() in question["question"].lower():
            continue  # no span states "yes"; an answer the question names is matched by quoting it
        supporting = list(dict.fromkeys(_slug(title) for title, _ in question["supporting_facts"]))
        item = {"id": f"hotpot-{n:03d}", "question": question["question"], "answerable": True,
                "facts": [[answer]], "sources": supporting, "answer": answer}
        holder = [s for s in supporting if _names(paragraphs[s][1], answer)]
        if question["type"] == "bridge" and holder and _hashed_percent(question["_id"]) < UNANSWERABLE_PERCENT:
            others = [s for s in paragraphs if s not in holder and s not in removed]
            if not any(_names(paragraphs[s][1], answer) or _names(paragraphs[s][0], answer) for s in others):
                removed.update(holder)
                item.update(answerable=False, facts=[], sources=[])
                taken[item["id"]] = holder
        items.append(item)
    # A removed paragraph another answerable question needs would make that one unanswerable too.
    needed = {s for item in items if item["answerable"] for s in item["sources"]}
    for item in items:
        if not item["answerable"] and set(taken[item["id"]]) & needed:
            item.update(answerable=True, facts=[[item["answer"]]], sources=taken.pop(item["id"]))
    removed = {s for ids in taken.values() for s in ids}

    out = Path(args.out)
    docs = out / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for old in docs.glob("*.txt"):
        old.unlink()
    for slug, (title, text) in sorted(paragraphs.items()):
        if slug not in removed:
            (docs / f"{slug}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    with open(out / "gold.jsonl", "w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    answerable = sum(item["answerable"] for item in items)
    print(f"{len(questions)} questions read; {len(items)} kept ({answerable} answerable, "
          f"{len(items) - answerable} unanswerable); {len(paragraphs) - len(removed)} paragraphs in {docs}")


def _complete_items(raw: str) -> list[dict]:
    """The JSON objects of the array in ``raw`` up to where the file was cut off."""
    decoder, at, found = json.JSONDecoder(), raw.index("[") + 1, []
    while True:
        try:
            item, at = decoder.raw_decode(raw, at)
        except json.JSONDecodeError:
            return found
        found.append(item)
        while at < len(raw) and raw[at] in ", \n":
            at += 1


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:80]


def _names(text: str, answer: str) -> bool:
    return answer.lower() in text.lower()


def _hashed_percent(key: str) -> int:
    return int(hashlib.sha256(f"hotpot:{key}".encode()).hexdigest()[:8], 16) % 100


if __name__ == "__main__":
    main()

"""Build the out-of-domain (OOD) evaluation corpus from SQuAD 2.0 dev data.

Documentation of how eval/ood/docs/, eval/ood/gold.jsonl and eval/ood/gold_meta.jsonl
were made (see eval/ood/SOURCE.md).  Standard library only; not run in CI.

    python eval/ood/build_ood.py /path/to/dev-v2.0.json [--out eval/ood]

The ``unseen`` suite (eval/unseen, the two articles left out here, built after
every threshold and rule was chosen) was made by the same script:

    python eval/ood/build_ood.py dev-v2.0.json --out eval/unseen --articles Islamism,Imperialism \
        --kept 30 --held-out 8 --answerable 45 --removed 8 --impossible 0 --salt unseen-v1 --id-prefix unseen

The input used was ``data/dev-v2.0.json`` from github.com/chrischute/squad (the
CS224n SQuAD 2.0 dev split: 16 whole articles of the official SQuAD 2.0 dev set,
text verbatim, question ids re-hashed), because the official file
``dataset/dev-v2.0.json`` of rajpurkar/SQuAD-explorer was not retrievable here.

Every choice is deterministic: items are ranked by sha256 of a fixed salt, the
article title and the paragraph index or SQuAD question id.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

SALT = "ood-v1"

# 14 of the 16 articles, picked by hand for a spread of topics.
ARTICLES = [
    "Normans",                          # history
    "Huguenot",                         # history / religion
    "Yuan_dynasty",                     # history (China)
    "French_and_Indian_War",            # history / war
    "Computational_complexity_theory",  # science (CS / maths)
    "Force",                            # science (physics)
    "Immune_system",                    # science (biology)
    "Steam_engine",                     # technology
    "Packet_switching",                 # technology
    "1973_oil_crisis",                  # business / economics
    "European_Union_law",               # law / politics
    "Scottish_Parliament",              # politics / institutions
    "Harvard_University",               # institution / place
    "Warsaw",                           # place
]

KEPT_PARAGRAPHS = 16        # paragraphs written to docs/ per article
HELD_OUT_PARAGRAPHS = 2     # paragraphs deliberately left out per article (removed_doc items)
ANSWERABLE_PER_ARTICLE = 11
REMOVED_PER_ARTICLE = 2
MAX_SQUAD_IMPOSSIBLE = 10
MAX_SPELLING_CHARS = 60
MAX_ANSWER_WORDS = 5        # "short span" preference for answerable items


# Questions leaning on a referent from the paragraph ("What did he do?") are skipped:
# outside the paragraph they have no single answer.
ANAPHORA = re.compile(r"\b(this|these|those|he|she|him|his|her|they|them)\b", re.I)


# removed_doc check, stricter than the spelling test: no distinctive token of any answer
# spelling (a capitalised word or a number, 4+ characters, outside GENERIC) may occur in
# docs/ either, so e.g. "May 18, 1756" is rejected when a kept paragraph says "in 1756".
GENERIC = {"major", "general", "lord", "king", "queen", "the", "sir", "saint"}
TOKEN = re.compile(r"[A-Z][\w'-]{3,}|\d[\d,.]{3,}")


def distinctive_tokens(spelling: str) -> list[str]:
    return [t.rstrip(",.") for t in TOKEN.findall(spelling) if t.lower() not in GENERIC]


def h(*parts: object) -> str:
    return hashlib.sha256("|".join([SALT, *map(str, parts)]).encode("utf-8")).hexdigest()


def slug(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    return s


def spellings(qa: dict) -> list[str]:
    """Distinct gold answer texts (order kept, case-insensitive dedupe); long ones dropped
    when a spelling of at most MAX_SPELLING_CHARS exists."""
    out: list[str] = []
    seen: set[str] = set()
    for a in qa.get("answers", []):
        t = a["text"].strip()
        if t and t.lower() not in seen:
            seen.add(t.lower())
            out.append(t)
    if any(len(t) <= MAX_SPELLING_CHARS for t in out):
        out = [t for t in out if len(t) <= MAX_SPELLING_CHARS]
    return out


def has_tiny_spelling(qa: dict) -> bool:
    """A one-character gold answer ("P") would match almost any text; such questions are skipped."""
    return any(len(a["text"].strip()) < 2 for a in qa.get("answers", []))


def main(argv: list[str] | None = None) -> int:
    global SALT  # every hash-ordered choice reads it (h)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dev_json")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    ap.add_argument("--articles", default=",".join(ARTICLES), help="comma-separated SQuAD article titles")
    ap.add_argument("--kept", type=int, default=KEPT_PARAGRAPHS, help="paragraphs written to docs/ per article")
    ap.add_argument("--held-out", type=int, default=HELD_OUT_PARAGRAPHS, help="paragraphs left out per article")
    ap.add_argument("--answerable", type=int, default=ANSWERABLE_PER_ARTICLE, help="answerable items per article")
    ap.add_argument("--removed", type=int, default=REMOVED_PER_ARTICLE, help="removed_doc items per article")
    ap.add_argument("--impossible", type=int, default=MAX_SQUAD_IMPOSSIBLE, help="squad_impossible items in all")
    ap.add_argument("--salt", default=SALT, help="salt of every hash-ordered choice")
    ap.add_argument("--id-prefix", default="ood", help="gold ids are <prefix>-NNN")
    args = ap.parse_args(argv)
    SALT = args.salt
    articles = args.articles.split(",")

    raw = Path(args.dev_json).read_text(encoding="utf-8")
    if raw.startswith("version https://git-lfs"):
        sys.exit("input is a Git LFS pointer, not the JSON data")
    data = json.loads(raw)
    by_title = {a["title"]: a for a in data["data"]}
    out = Path(args.out)
    docs_dir = out / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    for old in docs_dir.glob("*.txt"):
        old.unlink()

    kept: dict[str, dict] = {}        # doc id -> {title, idx, context, article}
    held: list[dict] = []             # held-out paragraphs
    for title in articles:
        art = by_title[title]
        s = slug(title)
        pars = list(enumerate(art["paragraphs"], start=1))
        # Only paragraphs with at least one answerable question are candidates.
        pars = [(i, p) for i, p in pars if any(not q.get("is_impossible") for q in p["qas"])]
        pars.sort(key=lambda ip: h(title, "paragraph", ip[0]))
        for i, p in pars[:args.held_out]:
            held.append({"article": title, "idx": i, "par": p, "doc": f"{s}_{i:02d}"})
        for i, p in pars[args.held_out:args.held_out + args.kept]:
            kept[f"{s}_{i:02d}"] = {"article": title, "idx": i, "par": p}

    # Write docs/: title line, blank line, paragraph text verbatim.
    doc_text: dict[str, str] = {}
    for doc_id, d in sorted(kept.items()):
        text = f"{d['article'].replace('_', ' ')} (paragraph {d['idx']})\n\n{d['par']['context'].strip()}\n"
        (docs_dir / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        doc_text[doc_id] = text
    corpus_lower = [t.lower() for t in doc_text.values()]

    items: list[dict] = []
    meta: list[dict] = []
    used_questions: set[str] = set()

    def add(item: dict, extra: dict) -> None:
        used_questions.add(item["question"].strip().lower())
        items.append(item)
        meta.append({"id": item["id"], **extra})

    # 1. Answerable: round-robin over the article's kept paragraphs (hash order) so the
    #    questions spread across paragraphs; short answers preferred.
    for title in articles:
        docs = sorted((k for k, v in kept.items() if v["article"] == title), key=lambda k: h(title, "doc", k))
        queues: dict[str, list] = {}
        for k in docs:
            qs = [q for q in kept[k]["par"]["qas"] if not q.get("is_impossible") and q.get("answers")]
            qs = [q for q in qs if spellings(q) and not has_tiny_spelling(q)]
            qs.sort(key=lambda q: (len(q["answers"][0]["text"].split()) > MAX_ANSWER_WORDS, h(title, q["id"])))
            queues[k] = qs
        taken = 0
        while taken < args.answerable and any(queues.values()):
            for k in docs:
                if taken >= args.answerable:
                    break
                while queues[k]:
                    q = queues[k].pop(0)
                    if q["question"].strip().lower() in used_questions or ANAPHORA.search(q["question"]):
                        continue
                    sp = spellings(q)
                    if not any(t.lower() in doc_text[k].lower() for t in sp):
                        continue
                    add({"id": "", "question": q["question"].strip(), "answerable": True, "facts": [sp],
                         "sources": [k], "answer": q["answers"][0]["text"]},
                        {"kind": "answerable", "squad_id": q["id"], "article": title, "paragraph": kept[k]["idx"]})
                    taken += 1
                    break

    # 2. removed_doc: answerable questions of held-out paragraphs whose answer spellings
    #    occur in no docs/ file (case-insensitive).
    for title in articles:
        cands = []
        for hp in (x for x in held if x["article"] == title):
            for q in hp["par"]["qas"]:
                if q.get("is_impossible") or not q.get("answers") or ANAPHORA.search(q["question"]):
                    continue
                sp = spellings(q)
                if not sp or has_tiny_spelling(q) or any(t.lower() in c for t in sp for c in corpus_lower):
                    continue
                toks = [t for x in sp for t in distinctive_tokens(x)]
                if any(re.search(r"\b" + re.escape(t) + r"\b", c, re.I) for t in toks for c in corpus_lower):
                    continue
                cands.append((h(title, "removed", q["id"]), q, hp))
        cands.sort(key=lambda c: c[0])
        n = 0
        for _, q, hp in cands:
            if n >= args.removed:
                break
            if q["question"].strip().lower() in used_questions:
                continue
            add({"id": "", "question": q["question"].strip(), "answerable": False, "facts": [], "sources": []},
                {"kind": "removed_doc", "removed_answer": q["answers"][0]["text"], "removed_spellings": spellings(q),
                 "removed_doc": hp["doc"], "squad_id": q["id"], "article": title, "paragraph": hp["idx"]})
            n += 1

    # 3. squad_impossible: SQuAD's own is_impossible questions from paragraphs in docs/,
    #    one per article (hash order) until MAX_SQUAD_IMPOSSIBLE.
    imp = []
    for k, d in kept.items():
        for q in d["par"]["qas"]:
            if q.get("is_impossible"):
                imp.append((h(d["article"], "impossible", q["id"]), d["article"], k, q))
    imp.sort(key=lambda x: x[0])
    seen_articles: set[str] = set()
    for _, title, k, q in imp:
        if len(seen_articles) >= args.impossible:
            break
        if title in seen_articles or q["question"].strip().lower() in used_questions or ANAPHORA.search(q["question"]):
            continue
        seen_articles.add(title)
        plaus = [a["text"] for a in q.get("plausible_answers", [])]
        add({"id": "", "question": q["question"].strip(), "answerable": False, "facts": [], "sources": []},
            {"kind": "squad_impossible", "squad_id": q["id"], "article": title, "paragraph": kept[k]["idx"],
             "paragraph_doc": k, "plausible_answers": plaus})

    for n, (item, m) in enumerate(zip(items, meta), start=1):
        item["id"] = m["id"] = f"{args.id_prefix}-{n:03d}"
    with (out / "gold.jsonl").open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    with (out / "gold_meta.jsonl").open("w", encoding="utf-8") as f:
        for m in meta:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")

    kinds = [m["kind"] for m in meta]
    size = sum(p.stat().st_size for p in docs_dir.glob("*.txt"))
    print(f"docs: {len(doc_text)} files, {size} bytes; held-out paragraphs: {len(held)}")
    for k in ("answerable", "removed_doc", "squad_impossible"):
        print(f"{k}: {kinds.count(k)}")
    print(f"gold items: {len(items)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

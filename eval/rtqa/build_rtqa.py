"""Build the news probe from RealTime QA: CNN's weekly news-quiz questions over the CNN
articles their answers come from (github.com/realtimeqa/realtimeqa_public, ``past/2022``).

Every question has one correct choice and the gold articles the quiz links to. The
articles become the corpus (headline, "Published <date>", text), the correct choice
becomes the one fact. About a fifth of the questions, chosen by a fixed hash, lose every
gold article they have (unless another question still needs it) and become unanswerable:
the rest of the week's news is still there, so they are refused only if the assistant
notices the answer is missing. Choices like "All of the above" are skipped (no span
states them).

The repository states no licence and the articles are CNN's, so neither is committed:
build them locally, then run ``assistant eval --suites-file eval/rtqa/suite.toml``.

    git clone https://github.com/realtimeqa/realtimeqa_public /tmp/realtimeqa_public
    python eval/rtqa/build_rtqa.py --repo /tmp/realtimeqa_public
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import html
import json
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
UNANSWERABLE_PERCENT = 22
MIN_ARTICLE_WORDS = 60  # shorter "articles" are video captions and cookie notices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="a clone of realtimeqa/realtimeqa_public")
    parser.add_argument("--out", default=str(HERE), help="where docs/ and gold.jsonl go")
    args = parser.parse_args()
    repo, out = Path(args.repo), Path(args.out)

    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"],
                              capture_output=True, text=True, check=True).stdout

    listed = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "HEAD", "past/2022"],
                            capture_output=True, text=True, check=True).stdout.split()
    titles = _titles(listed, show)
    items, articles = [], {}
    for week in sorted(p.split("/")[-1][:8] for p in listed if p.endswith("_gold.jsonl")):
        questions = {q["question_id"]: q for q in _jsonl(show(f"past/2022/{week}_qa.jsonl"))}
        for gold in _jsonl(show(f"past/2022/{week}_gold.jsonl")):
            question = questions.get(gold["question_id"])
            if not question or not gold.get("search_result"):
                continue
            answer = question["choices"][int(question["answer"][0])]
            if re.search(r"(?i)\b(all|none|both) of|^both\b|^all\b", answer):
                continue
            sources = []
            for result in gold["search_result"]:
                text = result.get("text", "").strip()
                if len(text.split()) < MIN_ARTICLE_WORDS:
                    continue
                doc_id = _doc_id(result)
                articles[doc_id] = (result, text)
                if doc_id not in sources:
                    sources.append(doc_id)
            if sources:
                items.append({"qid": question["question_id"], "question": question["question_sentence"],
                              "answer": html.unescape(answer).strip("“”\"' "), "sources": sources})

    removed = {it["qid"] for it in items if _percent("unanswerable" + it["qid"]) < UNANSWERABLE_PERCENT}
    needed = {s for it in items if it["qid"] not in removed for s in it["sources"]}
    gone = {s for it in items if it["qid"] in removed for s in it["sources"]} - needed
    gold_lines = []
    for n, it in enumerate(items, 1):
        item_id = f"rtqa-{n:03d}"
        if it["qid"] in removed:
            if set(it["sources"]) <= gone:
                gold_lines.append({"id": item_id, "question": it["question"], "answerable": False,
                                   "facts": [], "sources": []})
            continue
        gold_lines.append({"id": item_id, "question": it["question"], "answerable": True,
                           "facts": [[it["answer"]]], "sources": it["sources"], "answer": it["answer"]})

    docs = out / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for old in docs.glob("*.txt"):
        old.unlink()
    for doc_id, (result, text) in articles.items():
        if doc_id not in gone:
            (docs / f"{doc_id}.txt").write_text(_page(result, text, titles))
    with open(out / "gold.jsonl", "w") as f:
        for line in gold_lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    answerable = sum(g["answerable"] for g in gold_lines)
    print(f"{len(gold_lines)} questions ({answerable} answerable) over {len(articles) - len(gone)} articles")


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _titles(listed: list[str], show) -> dict[str, str]:
    """Headlines by URL, from the search results the benchmark saved (the gold files have none)."""
    titles = {}
    for path in listed:
        if not path.endswith(("_gcs.jsonl", "_dpr.jsonl")):
            continue
        for line in show(path).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            for result in record.get("search_result") or []:
                title = re.sub(r"\s*[-|]\s*CNN.*$", "", result.get("title") or "")
                if title and not title.endswith(("...", "…")):  # search engines cut long headlines
                    titles[_url(result)] = title
    return titles


def _url(result: dict) -> str:
    return result["url"].split("#")[0].split("?")[0]


def _doc_id(result: dict) -> str:
    slug = _url(result).rstrip("/").removesuffix("/index.html").split("/")[-1].lower()
    slug = re.sub(r"[^a-z0-9]+", "_", slug)[:60].strip("_")
    return f"{result.get('publish_date', '').replace('/', '')}_{slug}"


def _page(result: dict, text: str, titles: dict[str, str]) -> str:
    head = f"{titles[_url(result)]}\n\n" if _url(result) in titles else ""
    if result.get("publish_date"):
        day = datetime.date(*map(int, result["publish_date"].split("/")))
        head += f"Published {day.strftime('%B')} {day.day}, {day.year}\n\n"
    return head + text + "\n"


def _percent(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 100


if __name__ == "__main__":
    main()

"""Token-aware, section-bounded chunks whose offsets point into the original file.

A chunk never crosses a section boundary (or a boilerplate line), is cut at
sentence boundaries where it can be, and ``doc.text[chunk.start:chunk.end] ==
chunk.text`` always holds. Ids are content hashes, so re-chunking unchanged
text yields the same ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from assistant.ingest.documents import Block, Document
from assistant.text.sentences import sentence_spans
from assistant.text.tokens import count_tokens


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    title: str
    section: str
    start: int
    end: int
    text: str
    n_tokens: int

    def embedding_text(self) -> str:
        """What gets embedded: the text alone. A section prefix was tried and
        lowered MiniLM's similarity to paraphrased questions (0.58 -> 0.51)."""
        return self.text

    def metadata(self) -> dict:
        meta = asdict(self)
        meta.pop("text")
        meta.pop("id")
        return meta


def _runs(doc: Document) -> list[list[Block]]:
    """Consecutive content blocks of one section; anything else ends a run."""
    runs: list[list[Block]] = []
    current: list[Block] = []
    for block in doc.blocks:
        is_content = block.kind in ("paragraph", "bullet", "caption", "title")
        if current and (not is_content or block.section != current[-1].section):
            runs.append(current)
            current = []
        if is_content:
            current.append(block)
    if current:
        runs.append(current)
    return runs


def _pieces(doc: Document, blocks: list[Block], max_tokens: int) -> list[tuple[int, int, int]]:
    """Sentence spans with token counts; sentences longer than a chunk are cut at words."""
    pieces = []
    for block in blocks:
        for s, e in sentence_spans(doc.text, block.start, block.end):
            n = count_tokens(doc.text[s:e])
            if n <= max_tokens:
                pieces.append((s, e, n))
            else:
                pieces.extend(_split_long(doc.text, s, e, max_tokens))
    return pieces


def _split_long(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int, int]]:
    out = []
    piece_start, pos, budget = start, start, 0
    for word in text[start:end].split(" "):
        n = count_tokens(" " + word)
        if budget + n > max_tokens and pos > piece_start:
            out.append((piece_start, pos - 1, budget))
            piece_start, budget = pos, 0
        budget += n
        pos += len(word) + 1
    out.append((piece_start, end, count_tokens(text[piece_start:end])))
    return out


def chunk_document(doc: Document, chunk_tokens: int = 160, chunk_overlap: int = 32) -> list[Chunk]:
    """Cut ``doc`` into chunks of at most ~``chunk_tokens`` tokens.

    Overlap repeats whole trailing sentences (up to ``chunk_overlap`` tokens)
    at the start of the next chunk of the same section.
    """
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for run in _runs(doc):
        pieces = _pieces(doc, run, chunk_tokens)
        if all(doc.text[s:e].rstrip().endswith("?") for s, e, _ in pieces):
            continue  # a list of questions ("Go deeper") answers nothing; kept as metadata
        i = 0
        while i < len(pieces):
            j, total = i, 0
            while j < len(pieces) and (total + pieces[j][2] <= chunk_tokens or j == i):
                total += pieces[j][2]
                j += 1
            start, end = pieces[i][0], pieces[j - 1][1]
            chunks.append(_make_chunk(doc, run[0].section, start, end, seen))
            if j >= len(pieces):
                break
            # Step back over trailing sentences that fit in the overlap budget,
            # but always advance at least one piece.
            back, carried = j, 0
            while back - 1 > i and carried + pieces[back - 1][2] <= chunk_overlap:
                back -= 1
                carried += pieces[back][2]
            i = back
    return chunks


def _make_chunk(doc: Document, section: str, start: int, end: int, seen: dict[str, int]) -> Chunk:
    text = doc.text[start:end]
    digest = hashlib.sha256(f"{doc.id}\x1f{section}\x1f{text}".encode()).hexdigest()[:20]
    # Identical text twice in one document still needs two distinct ids.
    count = seen.get(digest, 0)
    seen[digest] = count + 1
    chunk_id = f"{doc.id}:{digest}" + (f":{count}" if count else "")
    return Chunk(chunk_id, doc.id, doc.title, section, start, end, text, count_tokens(text))

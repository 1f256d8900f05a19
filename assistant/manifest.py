"""The index manifest: which documents are indexed, with what model and chunk settings.

Written atomically (temp file + rename) so a crash leaves the old or the new
manifest, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1


@dataclass
class DocumentEntry:
    hash: str
    path: str
    title: str
    chunk_ids: list[str]
    sections: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


@dataclass
class Manifest:
    embedding_model: str
    chunk_tokens: int
    chunk_overlap: int
    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    generation: int = 0
    schema: int = SCHEMA_VERSION

    def settings_key(self) -> tuple:
        return (self.schema, self.embedding_model, self.chunk_tokens, self.chunk_overlap)

    def generation_key(self) -> str:
        return f"{self.generation}:{len(self.documents)}"

    def to_json(self) -> str:
        data = {
            "schema": self.schema,
            "embedding_model": self.embedding_model,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
            "generation": self.generation,
            "documents": {k: vars(v) for k, v in sorted(self.documents.items())},
        }
        return json.dumps(data, indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        docs = {k: DocumentEntry(**v) for k, v in data.get("documents", {}).items()}
        return cls(
            embedding_model=data["embedding_model"],
            chunk_tokens=int(data["chunk_tokens"]),
            chunk_overlap=int(data["chunk_overlap"]),
            documents=docs,
            generation=int(data.get("generation", 0)),
            schema=int(data.get("schema", SCHEMA_VERSION)),
        )


class ManifestFile:
    """Manifest persisted as ``manifest.json`` in the index folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Manifest | None:
        try:
            return Manifest.from_json(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # A corrupt manifest is treated as absent: the next ingest rebuilds.
            return None

    def save(self, manifest: Manifest) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(manifest.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

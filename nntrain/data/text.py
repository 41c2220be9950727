"""A text column of a CSV as integer token ids: tokenized by a fixed rule, a vocabulary fitted on
the training split, padded or truncated to one length; saved as JSON with the run.

    vocab = Vocabulary.fit(texts_of_train, "words", max_tokens=10000, sequence_length=None)
    ids = vocab.encode(texts)                  # (n, sequence_length) float ids, 0 = padding
    Vocabulary.from_json(vocab.to_json())      # what sequence.json keeps

Tokens (data.tokens):
    words   the text in lower case (str.lower), split into maximal runs of letters, digits and
            underscores (Python's \\w, so accented and non-Latin letters count); everything else
            (spaces, punctuation) only separates: "Don't stop!" -> ["don", "t", "stop"]
    chars   the text in lower case with every run of whitespace made one space and the ends
            stripped; each character (punctuation and the space included) is a token

Ids, as Keras' TextVectorization: 0 is padding, 1 is the out-of-vocabulary token ("[UNK]"), 2...
are the training split's tokens by count (most frequent first; equal counts by the token's text),
at most max_tokens ids in all (the two reserved ones included). Each text keeps its first
sequence_length tokens and is padded with 0 at the end (padding: post, Keras' way) or at the
start (padding: pre, so that a recurrent layer's last step is the text's last token).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

TOKENS = ("words", "chars")
PAD, OOV = "", "[UNK]"  # ids 0 and 1
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


def tokenize(text: str, tokens: str) -> list[str]:
    """The tokens of one text under the rule `tokens` (words or chars; see the module doc)."""
    low = text.lower()
    if tokens == "words":
        return _WORD.findall(low)
    if tokens == "chars":
        return list(_SPACE.sub(" ", low).strip())
    raise DataError(f"data.tokens must be one of {', '.join(TOKENS)}, got {tokens!r}")


@dataclass
class Vocabulary:
    """The fitted vocabulary: `tokens` lists the token of each id (0: padding, 1: out of vocabulary)."""

    rule: str  # words or chars
    tokens: list[str]
    sequence_length: int
    padding: str = "post"  # padding ids after the text (post) or before it (pre)

    @classmethod
    def fit(cls, texts, rule: str, max_tokens: int | None = None, sequence_length: int | None = None,
            source: str = "the training split", padding: str = "post") -> "Vocabulary":
        """The vocabulary of `texts` (the training split's); sequence_length None = the longest text."""
        counts: Counter = Counter()
        longest = 0
        for t in texts:
            toks = tokenize(t, rule)
            counts.update(toks)
            longest = max(longest, len(toks))
        if not counts:
            raise DataError(f"{source} holds no tokens after cleaning ({_rule_text(rule)}): every text is empty; "
                            f"check data.text, or try data.tokens: chars")
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if max_tokens is not None:
            ranked = ranked[:max(0, max_tokens - 2)]
        return cls(rule, [PAD, OOV] + [t for t, _ in ranked], sequence_length or longest, padding)

    @property
    def size(self) -> int:
        """Number of ids (padding and out-of-vocabulary included): an embedding's input_dim."""
        return len(self.tokens)

    def encode(self, texts, dtype="float32") -> np.ndarray:
        """(n, sequence_length) ids of `texts`, as `dtype` (exact: ids stay below 2^24 in float32)."""
        index = {t: i for i, t in enumerate(self.tokens) if i >= 2}
        out = np.zeros((len(texts), self.sequence_length), np.int64)
        for r, t in enumerate(texts):
            ids = [index.get(tok, 1) for tok in tokenize(t, self.rule)[:self.sequence_length]]
            if ids:  # the first sequence_length tokens, with the padding after (post) or before (pre)
                where = slice(0, len(ids)) if self.padding == "post" else slice(self.sequence_length - len(ids), None)
                out[r, where] = ids
        return out.astype(dtype)

    def to_json(self) -> dict:
        return {"tokens": self.rule, "sequence_length": self.sequence_length, "padding": self.padding,
                "vocabulary": list(self.tokens)}

    @classmethod
    def from_json(cls, d: dict, source: str) -> "Vocabulary":
        try:
            rule, length, tokens = d["tokens"], int(d["sequence_length"]), list(d["vocabulary"])
            padding = d.get("padding", "post")
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source}: its vocabulary is damaged ({exc})") from None
        if rule not in TOKENS or padding not in ("post", "pre") or length < 1 or len(tokens) < 2 or \
                not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{source}: its vocabulary is damaged (tokens {rule!r}, sequence_length {length}, "
                            f"{len(tokens)} entries)")
        return cls(rule, tokens, length, padding)


def _rule_text(rule: str) -> str:
    return ("lower-case words: runs of letters, digits and _" if rule == "words"
            else "lower-case characters, whitespace runs made one space")

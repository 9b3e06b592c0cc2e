"""``maskers.Text``: strings split into tokens, masked tokens replaced by a mask token, tokens
grouped into shap's hierarchy (see :func:`ferroshap._hierarchy.text_linkage`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ferroshap._hierarchy import text_linkage
from ferroshap.maskers._masker import Masker

__all__ = ["Text"]

_SPACES = re.compile(r"\s+")
_ENDS_NON_WORD = re.compile(r"^.*\W$")
_STARTS_LETTER = re.compile(r"^[A-Za-z]")


class _RegexTokenizer:
    """Tokens are the text between matches of ``pattern`` (shap's default ``\\W+``); returns
    the Hugging Face layout: ``{"input_ids": tokens, "offset_mapping": spans}``."""

    def __init__(self, pattern: str = r"\W+") -> None:
        self.pattern = re.compile(pattern)

    def __call__(self, s: str, return_offsets_mapping: bool = True) -> dict[str, list]:
        spans, pos = [], 0
        for match in self.pattern.finditer(s):
            spans.append((pos, match.start()))
            pos = match.end()
        if pos != len(s):
            spans.append((pos, len(s)))
        out: dict[str, list] = {"input_ids": [s[a:b] for a, b in spans]}
        if return_offsets_mapping:
            out["offset_mapping"] = spans
        return out


def _spans_of(tokens: list[str], s: str) -> list[tuple[int, int]]:
    """Where each of ``tokens`` (a callable's plain list of strings) lies in ``s``, in order."""
    spans, pos = [], 0
    for t in tokens:
        if not isinstance(t, str):
            raise TypeError(
                "a tokenizer must return a list of strings or a Hugging Face style dict with "
                f"'input_ids' and 'offset_mapping'; got a list holding {type(t).__name__}"
            )
        at = s.find(t, pos)
        if at < 0:
            raise ValueError(f"the tokenizer returned {t!r}, which is not in the text after {pos}")
        spans.append((at, at + len(t)))
        pos = at + len(t)
    return spans


class Text(Masker):
    """Masks tokens of a string, as ``shap.maskers.Text``.

    A coalition keeps its tokens and replaces the others by ``mask_token`` (consecutive masked
    tokens collapse into one mask token when ``collapse_mask_token``); the result has runs of
    whitespace reduced to one space and no leading or trailing space, as shap builds it. The
    tokens are grouped into shap's hierarchy of text (word pieces first, then phrases, across
    commas, connectors and sentence ends last), which the Partition explainer explains over.

    Parameters
    ----------
    tokenizer
        ``None``: words split on the regular expression ``\\W+`` (shap's default); a string:
        that splitting pattern; a callable: either a Hugging Face tokenizer (called as
        ``tokenizer(s, return_offsets_mapping=True)``, returning ``input_ids`` and
        ``offset_mapping``) or any function from a string to its list of token strings (each
        found in the string in order). transformers is never required.
    mask_token
        The string that replaces masked tokens; default: the tokenizer's ``mask_token`` if it
        has one, else ``"..."``.
    collapse_mask_token
        ``True``: one mask token for a run of masked tokens; ``"auto"``: ``True`` unless the
        mask token comes from the tokenizer.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> masker = ferroshap.maskers.Text()
    >>> masker.tokens("I did not like it")
    ['I ', 'did ', 'not ', 'like ', 'it']
    >>> # As shap: each masked run becomes " ..." in place of its tokens and their spaces.
    >>> masker.mask_strings("I did not like it", np.array([[1, 0, 0, 1, 1]], dtype=bool))
    ['I ...like it']
    """

    #: Coalitions expanded per round of the Partition explainer (shap's default for text).
    default_batch_size = 5
    text_data = True

    def __init__(
        self,
        tokenizer: Any = None,
        mask_token: str | None = None,
        collapse_mask_token: bool | str = "auto",
    ) -> None:
        if tokenizer is None:
            tokenizer = _RegexTokenizer()
        elif isinstance(tokenizer, str):
            tokenizer = _RegexTokenizer(tokenizer)
        elif not callable(tokenizer):
            raise TypeError(
                "tokenizer must be None, a splitting pattern, a callable or a Hugging Face "
                f"tokenizer, got {type(tokenizer).__name__}"
            )
        if collapse_mask_token not in (True, False, "auto"):
            raise ValueError(
                f"collapse_mask_token must be True, False or 'auto', got {collapse_mask_token!r}"
            )
        self.tokenizer: Callable[..., Any] = tokenizer
        own = getattr(tokenizer, "mask_token", None) if mask_token is None else None
        if mask_token is None:
            mask_token = own if own is not None else "..."
        if not isinstance(mask_token, str):
            raise TypeError(f"mask_token must be a string, got {type(mask_token).__name__}")
        if collapse_mask_token == "auto":
            collapse_mask_token = own is None
        self.mask_token = mask_token
        self.collapse_mask_token = bool(collapse_mask_token)
        self.sep_token = getattr(tokenizer, "sep_token", None)
        self.keep_prefix, self.keep_suffix = self._kept_ends()
        self._cache: tuple[str, list[str]] | None = None

    def _call_tokenizer(self, s: str) -> tuple[list[Any], list[tuple[int, int]]]:
        out = self._raw_tokens(s)
        if isinstance(out, (list, tuple)):
            return list(out), _spans_of(list(out), s)
        try:
            ids, spans = out["input_ids"], out["offset_mapping"]
        except (KeyError, TypeError, IndexError):
            raise TypeError(
                "a tokenizer must return a list of token strings or a Hugging Face style dict "
                f"with 'input_ids' and 'offset_mapping'; got {type(out).__name__}"
            ) from None
        spans = [(0, 0) if o is None else (int(o[0]), int(o[1])) for o in spans]
        return list(ids), spans

    def _raw_tokens(self, s: str) -> Any:
        try:
            return self.tokenizer(s, return_offsets_mapping=True)
        except TypeError:
            return self.tokenizer(s)

    def _kept_ends(self) -> tuple[int, int]:
        """Special tokens the tokenizer adds around every text (kept unmasked, as shap):
        half of those it gives the empty string at each end, or one at the end (an end of
        sequence token) or at the start (beginning of sequence). A tokenizer that returns
        plain token strings adds none."""
        if isinstance(self._raw_tokens(""), (list, tuple)):
            return 0, 0
        ids, _ = self._call_tokenizer("")
        if len(ids) == 1:
            names = getattr(self.tokenizer, "special_tokens_map", {}) or {}
            decode = getattr(self.tokenizer, "decode", None)
            token = decode(ids[0]) if decode is not None else ids[0]
            if token == names.get("eos_token"):
                return 0, 1
            if token == names.get("bos_token"):
                return 1, 0
            raise ValueError(
                "the tokenizer gives one token for the empty string but does not say whether it "
                "is a beginning or end of sequence token (special_tokens_map and decode)"
            )
        if len(ids) % 2:
            raise ValueError("the tokenizer adds an odd number of tokens to the empty string")
        return len(ids) // 2, len(ids) // 2

    def tokens(self, s: str) -> list[str]:
        """The segments of ``s``, one per token: the token's text and what follows it up to
        the next token (shap's ``token_segments``)."""
        if self._cache is not None and self._cache[0] == s:
            return self._cache[1]
        if not isinstance(s, str):
            raise TypeError(f"the Text masker explains strings, got {type(s).__name__}")
        _, spans = self._call_tokenizer(s)
        parts = [s[spans[i][0] : max(spans[i][1], spans[i + 1][0])] for i in range(len(spans) - 1)]
        if spans:
            parts.append(s[spans[-1][0] : spans[-1][1]])
        self._cache = (s, parts)
        return parts

    def clustering(self, s: str) -> np.ndarray:
        """shap's hierarchy of the tokens of ``s``: a linkage matrix ``(M - 1, 4)``."""
        segments = self.tokens(s)
        words: list[str] = []
        for i, v in enumerate(segments):
            # A word continued without a break (a word piece) merges first.
            piece = (
                i > 0
                and _ENDS_NON_WORD.match(segments[i - 1]) is None
                and _STARTS_LETTER.match(v) is not None
                and words[i - 1] != ""
            )
            words.append("##" + v.strip() if piece else v.strip())
        special = () if self.sep_token is None else (self.sep_token,)
        return text_linkage(words, special)

    def mask_strings(self, s: str, masks: np.ndarray) -> list[str]:
        """The masked strings of ``s``, one per row of ``masks`` (``(n, M)`` booleans, True
        for kept tokens)."""
        return self.mask_segments(self.tokens(s), masks)

    def mask_segments(self, segments: list[str], masks: np.ndarray) -> list[str]:
        """:meth:`mask_strings` of the text whose :meth:`tokens` are ``segments``."""
        masks = np.asarray(masks, dtype=bool)
        if masks.ndim != 2 or masks.shape[1] < len(segments):
            raise ValueError(f"masks must be (n, {len(segments)}) for this text")
        keep = masks[:, : len(segments)].copy()
        if self.keep_prefix:
            keep[:, : self.keep_prefix] = True
        if self.keep_suffix:
            keep[:, len(segments) - self.keep_suffix :] = True
        if self.sep_token is not None:
            keep |= np.array([seg == self.sep_token for seg in segments])
        # A masked token shows the mask token unless the one before it was masked too (with
        # collapse_mask_token): one " <mask>" per run, as shap's loop emits them.
        if self.collapse_mask_token:
            before = np.ones_like(keep)
            before[:, 1:] = keep[:, :-1]
            shown = ~keep & before
        else:
            shown = ~keep
        parts = np.where(keep, np.array(segments, dtype=object), "")
        parts[shown] = " " + self.mask_token
        return [_SPACES.sub(" ", "".join(row)).strip() for row in parts]

    def __call__(self, mask: Any, s: str) -> tuple[np.ndarray]:
        """shap's masker protocol: the masked string of ``s`` for one mask, as
        ``(array([str]),)``."""
        return (np.array(self.mask_strings(s, np.asarray(mask, dtype=bool)[None, :])),)

    def shape(self, s: str) -> tuple[int, int]:
        """``(1, n_tokens)``, as shap's."""
        return (1, len(self.tokens(s)))

    def mask_shapes(self, s: str) -> list[tuple[int]]:
        """``[(n_tokens,)]``, as shap's."""
        return [(len(self.tokens(s)),)]

    def data_transform(self, s: str) -> list[np.ndarray]:
        """``[tokens of s]`` as an object array: what an explanation shows as the data."""
        return [np.array(self.tokens(s), dtype=object)]

    def feature_names(self, s: str) -> list[list[str]]:
        """The tokens of ``s`` without surrounding whitespace, as shap's."""
        return [[v.strip() for v in self.tokens(s)]]

    def __repr__(self) -> str:
        return (
            f"Text(mask_token={self.mask_token!r}, collapse_mask_token={self.collapse_mask_token})"
        )


# shap's test for a Hugging Face tokenizer passed as the masker itself.
_TOKENIZER_CLASSES = (
    "transformers.PreTrainedTokenizer",
    "transformers.tokenization_utils_base.PreTrainedTokenizerBase",
)


def tokenizer_as_masker(masker: Any) -> Any:
    """``Text(masker)`` when ``masker`` is a Hugging Face tokenizer (shap's ``masker=``
    shorthand), else ``masker`` unchanged."""
    from ferroshap.utils._interactions import safe_isinstance

    return Text(masker) if safe_isinstance(masker, _TOKENIZER_CLASSES) else masker

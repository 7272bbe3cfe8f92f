"""TF-IDF features of normalised texts — char n-grams within words plus word uni/bigrams.

The result equals the union of scikit-learn's
``TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)`` and
``TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)`` on texts produced
by :func:`~returnrisk.reasons.text.normalize_texts` (tested), but it is computed without a
Python loop over texts or n-grams, which matters when a shop has hundreds of thousands of
distinct free-text reasons:

* texts are split into words by Arrow kernels and the words dictionary-encoded;
* ``char_wb`` n-grams never cross a word boundary, so the n-gram counts of a text are the sum of
  those of its words: ``counts = (texts × words) @ (words × n-grams)``, where the n-grams are
  extracted once per *distinct* word of the batch;
* word bigrams are pairs of consecutive word ids, looked up as integers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

__all__ = ["NgramFeatures"]


def _tokens(texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text index of every token, batch word id of every token, the batch's distinct words)."""
    array = pa.array(texts, type=pa.string(), from_pandas=True)
    lists = pc.split_pattern(array, pattern=" ")
    parents = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(pc.list_flatten(lists))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    words = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    empty = np.flatnonzero(words == "")
    if len(empty):  # "" comes from empty texts or double spaces: not a token
        keep = ids != empty[0]
        parents, ids = parents[keep], ids[keep]
    return parents, ids, words


class NgramFeatures:
    """Fit/transform TF-IDF features of normalised texts (see the module docstring)."""

    def __init__(self, char_range: tuple[int, int] = (2, 5), word_bigrams: bool = True,
                 dtype=np.float32) -> None:
        self.char_range = char_range
        self.word_bigrams = word_bigrams
        self.dtype = dtype

    # the vocabularies are learnt in fit; transform ignores n-grams and words never seen
    def fit(self, texts) -> NgramFeatures:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts) -> sp.csr_matrix:
        parents, ids, words = _tokens(texts)
        self.words_ = pd.Index(np.sort(words[words != ""]), dtype=object)
        self.chars_ = CountVectorizer(analyzer="char_wb", ngram_range=self.char_range,
                                      lowercase=False, dtype=self.dtype)
        self.chars_.fit(self.words_.to_numpy())
        word_ids = self.words_.get_indexer(words)[ids]
        if self.word_bigrams:
            keys = self._bigram_keys(parents, word_ids)[1]
            self.bigrams_ = pd.Index(np.unique(keys))
        char_counts, word_counts = self._counts(len(texts), parents, ids, words)
        self.char_tfidf_ = TfidfTransformer(sublinear_tf=True).fit(char_counts)
        self.word_tfidf_ = TfidfTransformer(sublinear_tf=True).fit(word_counts)
        return self._tfidf(char_counts, word_counts)

    def transform(self, texts) -> sp.csr_matrix:
        parents, ids, words = _tokens(texts)
        return self._tfidf(*self._counts(len(texts), parents, ids, words))

    @property
    def n_features_(self) -> int:
        return len(self.chars_.vocabulary_) + len(self.words_) + (
            len(self.bigrams_) if self.word_bigrams else 0)

    def _bigram_keys(self, parents: np.ndarray, word_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(text index, integer key) of every pair of consecutive known words of a text."""
        same = parents[:-1] == parents[1:]
        first, second = word_ids[:-1][same], word_ids[1:][same]
        known = (first >= 0) & (second >= 0)
        keys = first[known] * np.int64(len(self.words_)) + second[known]
        return parents[:-1][same][known], keys

    def _counts(self, n: int, parents: np.ndarray, ids: np.ndarray, words: np.ndarray):
        ones = np.ones(len(ids), dtype=self.dtype)
        per_word = sp.csr_matrix((ones, (parents, ids)), shape=(n, len(words)))
        char_counts = per_word @ self.chars_.transform(words)
        word_ids = self.words_.get_indexer(words)[ids]
        known = word_ids >= 0
        n_words = len(self.words_)
        rows, cols = [parents[known]], [word_ids[known]]
        width = n_words
        if self.word_bigrams:
            text_index, keys = self._bigram_keys(parents, word_ids)
            bigram = self.bigrams_.get_indexer(keys)
            seen = bigram >= 0
            rows.append(text_index[seen])
            cols.append(n_words + bigram[seen])
            width += len(self.bigrams_)
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        word_counts = sp.csr_matrix((np.ones(len(rows), dtype=self.dtype), (rows, cols)), shape=(n, width))
        return char_counts.tocsr(), word_counts

    def _tfidf(self, char_counts, word_counts) -> sp.csr_matrix:
        return sp.hstack([self.char_tfidf_.transform(char_counts, copy=False),
                          self.word_tfidf_.transform(word_counts, copy=False)],
                         format="csr", dtype=self.dtype)

"""TokenSets, the ragged container of token clouds, and the checks of token clouds.

Every selection is compared with the obvious answer: the list of the same
clouds picked one by one.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from skpool import TokenSets
from skpool.tokensets import check_cloud, check_token_sets


def clouds(n_texts=5, d=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(n), d)).astype(dtype) for n in rng.integers(1, 6, n_texts)]


def same_clouds(tokens: TokenSets, expected: list) -> None:
    assert len(tokens) == len(expected)
    for got, want in zip(tokens, expected):
        np.testing.assert_array_equal(got, want)  # a copy of the same numbers, no arithmetic


def check_invariants(tokens: TokenSets) -> None:
    offsets, lengths = tokens.offsets, tokens.lengths
    assert offsets[0] == 0 and offsets[-1] == tokens.n_tokens == tokens.data.shape[0]
    np.testing.assert_array_equal(np.diff(offsets), lengths)
    assert (lengths >= 1).all()
    assert lengths.sum() == tokens.n_tokens
    assert tokens.data.shape[1] == tokens.dim
    np.testing.assert_array_equal(tokens.text_index(), np.repeat(np.arange(len(tokens)), lengths))
    assert tokens.truncated.shape == (len(tokens),)


# -- construction and invariants -----------------------------------------------------------
def test_from_arrays_keeps_every_cloud_and_the_invariants():
    arrays = clouds()
    tokens = TokenSets.from_arrays(arrays)
    check_invariants(tokens)
    same_clouds(tokens, arrays)
    assert tokens.lengths.tolist() == [len(a) for a in arrays]
    same_clouds(TokenSets.from_arrays(tokens.to_list()), arrays)


def test_dtypes_follow_the_inputs():
    assert TokenSets.from_arrays(clouds(dtype=np.float32)).dtype == np.float32
    assert TokenSets.from_arrays([np.ones((2, 3), dtype=np.int64)]).dtype == np.float64
    assert TokenSets.from_arrays(clouds(), dtype=np.float32).dtype == np.float32
    assert TokenSets.from_arrays(clouds()).astype(np.float32).dtype == np.float32


def test_views_are_read_only():
    tokens = TokenSets.from_arrays(clouds())
    for array in (tokens.data, tokens.offsets, tokens[0], tokens.truncated):
        with pytest.raises(ValueError):
            array[...] = 0


@pytest.mark.parametrize("data, offsets, message", [
    (np.ones(4), [0, 4], "(n_tokens_total, d)"),
    (np.ones((4, 2)), [0, 5], "end at len(data)=4"),
    (np.ones((4, 2)), [1, 4], "start at 0"),
    (np.ones((4, 2)), [0, 2, 2, 4], "at least one token"),
    (np.ones((4, 2)), [0.0, 4.0], "integer array"),
])
def test_constructor_refuses_broken_offsets(data, offsets, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TokenSets(data, np.asarray(offsets))


# -- indexing ----------------------------------------------------------------------------
def test_integer_indexing_returns_the_cloud():
    arrays = clouds()
    tokens = TokenSets.from_arrays(arrays)
    for i in range(len(arrays)):
        np.testing.assert_array_equal(tokens[i], arrays[i])
        np.testing.assert_array_equal(tokens[np.int64(i)], arrays[i])
    np.testing.assert_array_equal(tokens[-1], arrays[-1])
    with pytest.raises(IndexError, match="out of range"):
        tokens[len(arrays)]


@pytest.mark.parametrize("key", [slice(1, 4), slice(None, None, -1), slice(0, 5, 2)])
def test_slices_give_a_tokensets_of_those_texts(key):
    arrays = clouds()
    part = TokenSets.from_arrays(arrays)[key]
    assert isinstance(part, TokenSets)
    check_invariants(part)
    same_clouds(part, arrays[key])


def test_integer_lists_and_boolean_masks():
    arrays = clouds()
    tokens = TokenSets.from_arrays(arrays)
    order = [3, 0, 3, -1]
    same_clouds(tokens[order], [arrays[i] for i in order])
    same_clouds(tokens[np.array(order)], [arrays[i] for i in order])
    mask = np.array([True, False, True, False, True])
    same_clouds(tokens[mask], [a for a, keep in zip(arrays, mask) if keep])
    with pytest.raises(IndexError, match="does not match"):
        tokens[np.array([True, False])]
    with pytest.raises(IndexError, match="out of range"):
        tokens[[0, 7]]
    with pytest.raises(IndexError, match="TokenSets accepts"):
        tokens[[[0, 1]]]


def test_take_keeps_order_repeats_and_truncation_flags():
    arrays = clouds()
    data = np.concatenate(arrays)
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])])
    truncated = np.array([False, True, False, True, False])
    tokens = TokenSets(data, offsets, truncated=truncated)
    picked = tokens.take([4, 1, 1])
    check_invariants(picked)
    same_clouds(picked, [arrays[4], arrays[1], arrays[1]])
    assert picked.truncated.tolist() == [False, True, True]
    assert picked.n_truncated == 2 and tokens.n_truncated == 2
    with pytest.raises(IndexError, match="zero texts"):
        tokens.take([])


# -- protocol ----------------------------------------------------------------------------
def test_pickle_round_trip_is_equal_and_read_only():
    arrays = clouds(dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])])
    tokens = TokenSets(np.concatenate(arrays), offsets,
                       truncated=np.array([True, False, False, False, True]))
    back = pickle.loads(pickle.dumps(tokens))
    assert back == tokens and back is not tokens
    assert back.dtype == np.float32 and back.n_truncated == 2
    check_invariants(back)
    assert not back.data.flags.writeable


def test_equality_and_repr():
    arrays = clouds()
    tokens = TokenSets.from_arrays(arrays)
    assert tokens == TokenSets.from_arrays(arrays)
    assert tokens != TokenSets.from_arrays(arrays[:-1])
    assert (tokens == "tokens") is False
    assert "n_texts=5" in repr(tokens) and "dim=3" in repr(tokens)
    with pytest.raises(TypeError):
        hash(tokens)


# -- checks of token clouds -----------------------------------------------------------------
@pytest.mark.parametrize("cloud, error, message", [
    ("text", TypeError, "2-D array"),
    (None, TypeError, "2-D array"),
    ([[1.0, 2.0], [3.0]], TypeError, "rectangular"),
    (np.array([["a", "b"]]), TypeError, "real numbers"),
    (np.ones(3), ValueError, "(n_tokens, d)"),
    (np.ones((0, 3)), ValueError, "at least one token"),
    (np.array([[1.0, np.nan]]), ValueError, "NaN or inf at token 0"),
])
def test_check_cloud_errors(cloud, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_cloud(cloud)


def test_check_token_sets_names_the_text():
    good = clouds()
    with pytest.raises(ValueError, match=r"tokens\[2\] \(text 2\)"):
        check_token_sets([good[0], good[1], np.ones((2, 4))])
    bad = [c.copy() for c in good]
    bad[3][0, 1] = np.inf
    with pytest.raises(ValueError, match="text 3"):
        check_token_sets(bad)
    with pytest.raises(TypeError, match="wrap a single token cloud"):
        check_token_sets(np.ones((3, 2)))
    with pytest.raises(ValueError, match="at least 2 texts"):
        check_token_sets(good[:1], min_texts=2)
    tokens = TokenSets.from_arrays(good)
    assert check_token_sets(tokens) is tokens


def test_the_callers_arrays_stay_writable():
    data = np.arange(12.0).reshape(6, 2)
    offsets = np.array([0, 2, 6])
    tokens = TokenSets(data, offsets)
    assert data.flags.writeable and offsets.flags.writeable
    assert not tokens.data.flags.writeable
    data[0, 0] = 100.0  # no copy was made: the container sees the caller's data
    assert tokens[0][0, 0] == 100.0

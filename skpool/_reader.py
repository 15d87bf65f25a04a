"""The one reader of a user's texts: files, data frames, Hugging Face datasets.

:func:`read_table` turns any tabular source (a ``.txt``, ``.jsonl``,
``.csv``, ``.tsv`` or ``.parquet`` file, a pandas ``DataFrame`` or
``Series``, a Hugging Face ``datasets.Dataset``, or ``hf:NAME[:CONFIG][:SPLIT]``
read from the local Hugging Face datasets cache) into a :class:`Corpus`:
texts, the user's ids, labels, rated pairs. Every source is first made into
the same small table (column name -> cell values, one number per row), so
that the column choice and the cell checks are written once.

Registered corpus names are resolved by :func:`skpool.datasets.read_corpus`,
which calls this module for everything that is not a name; this module
imports only :mod:`skpool._validation`. pyarrow (``.parquet``) and
``datasets`` (``Dataset``, ``hf:``) are optional and imported when needed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validation import check_texts, describe

__all__ = ["Corpus", "read_table", "FILE_SUFFIXES", "ID_KINDS"]

#: File suffixes the reader takes (case-insensitive).
FILE_SUFFIXES = (".txt", ".jsonl", ".csv", ".tsv", ".parquet")
#: What an id is: the id column's value, the 1-based data row (tables, frames,
#: datasets), the 1-based line of the file (``.txt``/``.jsonl``), a pandas index
#: label, or the id a registered corpus gives its texts (a title, a file name).
ID_KINDS = ("column", "row", "line", "index", "corpus")
#: Install hints of the optional readers (in a source checkout, the extras
#: ``pip install -e '.[parquet]'`` / ``'.[datasets]'`` pin the tested versions).
_INSTALL = {"pyarrow": "pip install pyarrow", "datasets": "pip install datasets"}


@dataclass(frozen=True)
class Corpus:
    """Texts, where they came from, and what the user said about them.

    The one record of a corpus read by :func:`skpool.datasets.read_corpus`
    (and sampled by :func:`skpool.datasets.load_corpus`): a registered
    corpus, a file, a data frame or a Hugging Face dataset.

    Attributes
    ----------
    name : str
        The registered name, the file path, ``"hf:NAME[:CONFIG]:SPLIT"``,
        ``"DataFrame"``, ``"Series"`` or ``"Dataset"``.
    texts : list of str of length n_texts
        The texts, in source order. For rated pairs, the distinct texts of
        the two pair columns in order of first appearance.
    ids : list of length n_texts
        The user's id of each text: the id column's value (a ``str`` from
        a CSV/TSV file, as stored elsewhere), else its 1-based row or line
        number (see ``id_kind``). Ids are unique. For rated pairs, each
        text's id is ``"<pair id>:<column>"`` of its first appearance.
    id_kind : {"column", "row", "line", "index", "corpus"}
        What the ids are (:data:`ID_KINDS`).
    id_column : str or None
        The id column's name when ``id_kind == "column"``.
    text_column : str or None
        The column the texts came from (None for rated pairs and registered
        corpora).
    labels : list or None
        The label of each text as read (``str`` from CSV/TSV; ints or
        strings elsewhere; a missing cell is None), not checked: a task
        decides what labels it can take. None without a label column.
    label_column : str or None
    pairs : ndarray of shape (n_pairs, 2) of int64, or None
        Rated pairs: indices into ``texts`` of the two texts of each row.
    scores : ndarray of shape (n_pairs,) of float64, or None
        The score of each pair (finite).
    pair_ids : list of length n_pairs, or None
        The id of each pair row (as ``ids`` for texts).
    pair_columns : tuple of (str, str), or None
    score_column : str or None
    n_available : int
        Texts in the source before any sampling.
    positions : tuple of int
        Each text's 0-based position in the source as read, so that a
        sampled text can be found again.
    """

    name: str
    texts: list
    ids: list = None
    id_kind: str = "row"
    id_column: str | None = None
    text_column: str | None = None
    labels: list | None = None
    label_column: str | None = None
    pairs: np.ndarray | None = None
    scores: np.ndarray | None = None
    pair_ids: list | None = None
    pair_columns: tuple | None = None
    score_column: str | None = None
    n_available: int = None
    positions: tuple = field(default=())

    def __post_init__(self):
        n = len(self.texts)
        if self.ids is None:
            object.__setattr__(self, "ids", list(range(1, n + 1)))
        if self.n_available is None:
            object.__setattr__(self, "n_available", n)
        if not self.positions:
            object.__setattr__(self, "positions", tuple(range(n)))

    def __len__(self) -> int:
        return len(self.texts)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Corpus):
            return NotImplemented
        return all(_same(getattr(self, f), getattr(other, f)) for f in self.__dataclass_fields__)

    __hash__ = None

    def __repr__(self) -> str:
        # what was read, in one line: a corpus of 10^5 texts must not print them all
        parts = [f"name={self.name!r}", f"n_texts={len(self)}"]
        if self.n_available != len(self):
            parts.append(f"n_available={self.n_available}")
        for name in ("text_column", "id_kind", "id_column", "label_column", "pair_columns",
                     "score_column"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        if self.pairs is not None:
            parts.append(f"n_pairs={len(self.pairs)}")
        return f"Corpus({', '.join(parts)})"

    @property
    def id_label(self) -> str:
        """What the ids are, in a word for table headers: the id column, ``row``, ``line``,
        ``index`` or ``id``."""
        return {"column": self.id_column, "corpus": "id"}.get(self.id_kind, self.id_kind)

    def describe_ids(self) -> str:
        """A phrase saying what the ids are, e.g. ``"ids: column 'review_id'"``."""
        return {"column": f"ids: column {self.id_column!r}",
                "row": "ids: 1-based row numbers",
                "line": "ids: 1-based line numbers of the file",
                "index": "ids: the data frame's index",
                "corpus": "ids: the corpus's own ids"}[self.id_kind]

    def subset(self, keep) -> Corpus:
        """The texts at the sorted indices ``keep``, with their ids, labels, positions
        and the pairs among them."""
        keep = np.asarray(keep, dtype=np.int64)
        changes = {
            "texts": [self.texts[k] for k in keep],
            "ids": [self.ids[k] for k in keep],
            "labels": None if self.labels is None else [self.labels[k] for k in keep],
            "positions": tuple(int(self.positions[k]) for k in keep),
        }
        if self.pairs is not None:
            where = np.full(len(self.texts), -1, dtype=np.int64)
            where[keep] = np.arange(keep.size)
            inside = (where[self.pairs[:, 0]] >= 0) & (where[self.pairs[:, 1]] >= 0)
            changes["pairs"] = where[self.pairs[inside]]
            changes["scores"] = self.scores[inside]
            changes["pair_ids"] = [p for p, k in zip(self.pair_ids, inside) if k]
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields.update(changes)
        return Corpus(**fields)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is None and b is None or (
            a is not None and b is not None and np.array_equal(a, b))
    return a == b


# ---------------------------------------------------------------------------------------
# Every source as one small table
# ---------------------------------------------------------------------------------------
@dataclass
class _Table:
    """Columns of cells, one number per row, and how to name a row in an error."""

    name: str
    columns: dict  # column name -> list of cell values (None: missing)
    numbers: list  # the 1-based row or line number of each row
    kind: str  # "row" or "line": what ``numbers`` count
    lines: list | None = None  # CSV/TSV: the file line each row starts on
    index: list | None = None  # pandas: a non-default index, the ids by default
    all_strings: bool = False  # CSV/TSV: every cell is a string, so numbers are guessed

    def where(self, row: int, column: str | None = None) -> str:
        """``"reviews.csv, row 4 (line 5), column 'review'"`` for the row at 0-based ``row``."""
        place = f"{self.kind} {self.numbers[row]}"
        if self.lines is not None:
            place += f" (line {self.lines[row]})"
        return f"{self.name}, {place}" + ("" if column is None else f", column {column!r}")


def _decode(path: Path) -> str:
    """The file's text: UTF-8, with or without a byte-order mark."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ValueError(
            f"Expected {str(path)!r} to be UTF-8 text. Received bytes that are not UTF-8 on "
            f"line {line} (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); save the file "
            "as UTF-8."
        ) from None


def _read_txt(path: Path) -> _Table:
    texts, numbers = [], []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if line.strip():  # blank lines separate texts
            texts.append(line.strip())
            numbers.append(number)
    return _Table(str(path), {"text": texts}, numbers, "line")


def _read_jsonl(path: Path) -> _Table:
    items, numbers = [], []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"Expected line {number} of {str(path)!r} to be a JSON object. "
                f"Received invalid JSON ({exc.msg} at column {exc.colno})."
            ) from None
        if not isinstance(item, dict):
            raise ValueError(
                f"Expected line {number} of {str(path)!r} to be a JSON object "
                f"({{\"text\": ...}}). Received {describe(item)}."
            )
        items.append(item)
        numbers.append(number)
    names = list(dict.fromkeys(key for item in items for key in item))
    return _Table(str(path), {name: [item.get(name) for item in items] for name in names},
                  numbers, "line")


def _read_delimited(path: Path, delimiter: str) -> _Table:
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter=delimiter)
    header, rows, lines = None, [], []
    start = 1
    for row in reader:
        if row and any(cell.strip() for cell in row):
            if header is None:
                header = [cell.strip() for cell in row]
                blank = [k + 1 for k, name in enumerate(header) if not name]
                repeated = sorted({name for name in header if header.count(name) > 1})
                if blank or repeated:
                    raise ValueError(
                        f"Expected the first line of {str(path)!r} to name every column once. "
                        f"Received {header}" + (f" (column {blank[0]} has no name)" if blank
                                                else f" ({repeated[0]!r} twice)") + "."
                    )
            else:
                if len(row) != len(header):
                    raise ValueError(
                        f"Expected {len(header)} cells in each row of {str(path)!r} (the "
                        f"header's {header}). Received {len(row)} on row {len(rows) + 1} (line "
                        f"{start})."
                    )
                rows.append(row)
                lines.append(start)
        start = reader.line_num + 1
    if header is None:
        return _Table(str(path), {}, [], "row", lines=[], all_strings=True)
    columns = {name: [row[k] if row[k] != "" else None for row in rows]
               for k, name in enumerate(header)}
    return _Table(str(path), columns, list(range(1, len(rows) + 1)), "row", lines=lines,
                  all_strings=True)


def _import(module: str, what: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"{what} needs {module}, which is not installed: "
                          f"{_INSTALL[module]}") from None


def _read_parquet(path: Path) -> _Table:
    _import("pyarrow", f"Reading {str(path)!r}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise ValueError(
            f"Expected {str(path)!r} to be a parquet file. Received a file pyarrow cannot "
            f"read as parquet ({' '.join(str(exc).split())[:120]})."
        ) from None
    return _from_arrow(str(path), table)


def _from_arrow(name: str, table) -> _Table:
    columns = {column: table.column(column).to_pylist() for column in table.column_names}
    return _Table(name, columns, list(range(1, table.num_rows + 1)), "row")


def _from_pandas(frame, name: str) -> _Table:
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name="text" if frame.name is None else str(frame.name))
    columns = {}
    for column in frame.columns:
        if not isinstance(column, str):
            raise TypeError(
                f"Expected the columns of the {name} to be named by strings. Received "
                f"{describe(column)}; rename the columns (frame.columns = [...])."
            )
        if column in columns:
            raise ValueError(f"Expected the {name} to name every column once. Received "
                             f"{column!r} twice.")
        columns[column] = [_missing_to_none(v) for v in frame[column].tolist()]
    n = len(frame)
    index = frame.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    labels = None if default else [_missing_to_none(v) for v in index.tolist()]
    return _Table(name, columns, list(range(1, n + 1)), "row", index=labels)


def _from_dataset(dataset, name: str) -> _Table:
    # the arrow view applies any select/shuffle/filter the dataset carries
    return _from_arrow(name, dataset.with_format("arrow")[:])


def _missing_to_none(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pass
    return value


# ---------------------------------------------------------------------------------------
# hf:NAME[:CONFIG][:SPLIT] from the local Hugging Face datasets cache
# ---------------------------------------------------------------------------------------
def _hf_cache_root() -> Path:
    datasets = _import("datasets", "An hf: dataset")
    return Path(os.path.expanduser(str(datasets.config.HF_DATASETS_CACHE)))


def _named_or_only(chosen, options, *, several: str, missing: str):
    """``chosen`` if it is among ``options``; when None, the only option (a config or split)."""
    if chosen is None:
        if len(options) != 1:
            raise ValueError(several)
        return next(iter(options))
    if chosen not in options:
        raise ValueError(missing)
    return chosen


def _read_hf(source: str) -> _Table:
    """Read ``hf:NAME[:CONFIG][:SPLIT]`` from the datasets cache, never from the network.

    The cache holds ``<root>/<owner>___<name>/<config>/<version>/<hash>/`` folders
    (datasets' own layout; without ``<hash>`` for datasets prepared locally)
    with ``<name>-<split>.arrow`` files (or shards
    ``<name>-<split>-00000-of-00003.arrow``); the newest folder of the config
    is read.
    """
    datasets = _import("datasets", "An hf: dataset")
    from datasets.naming import camelcase_to_snakecase

    parts = source[3:].split(":")
    if not parts[0] or len(parts) > 3 or not all(parts):
        raise ValueError(
            f"Expected a Hugging Face dataset as hf:NAME, hf:NAME:CONFIG or "
            f"hf:NAME:CONFIG:SPLIT (e.g. hf:stanfordnlp/imdb:plain_text:test). Received "
            f"{source!r}."
        )
    name, rest = parts[0], parts[1:]
    root = _hf_cache_root()
    segments = name.split("/")
    segments[-1] = camelcase_to_snakecase(segments[-1])
    folder = root / "___".join(segments)
    download = (f"python -c \"import datasets; datasets.load_dataset('{name}'"
                + (f", '{rest[0]}'" if len(rest) == 2 else "") + ")\"")
    # <config>/<version>/<hash>/ for a hub dataset, <config>/<version>/ for a local builder
    prepared = sorted(p for pattern in ("*/*/*", "*/*") for p in folder.glob(pattern)
                      if (p / "dataset_info.json").is_file())
    if not prepared:
        raise ValueError(
            f"The Hugging Face dataset {name!r} is not in the local datasets cache "
            f"{str(root)!r} (no folder {folder.name!r} with a prepared dataset); skpool reads "
            f"hf: datasets offline. Download it once on a machine with network access, with "
            f"the same cache folder (HF_DATASETS_CACHE or HF_HOME): {download}"
        )
    configs = {}
    for path in prepared:
        config = json.loads((path / "dataset_info.json").read_text(encoding="utf-8")).get(
            "config_name") or path.parts[-3]
        configs.setdefault(config, []).append(path)
    config = split = None
    if len(rest) == 2:
        config, split = rest
    elif len(rest) == 1:
        # hf:NAME:X is a config when the cache has one by that name, else a split
        (config, split) = (rest[0], None) if rest[0] in configs else (None, rest[0])
    config = _named_or_only(
        config, configs,
        several=f"The Hugging Face dataset {name!r} has several configs in the cache "
                f"{str(folder)!r}: {sorted(configs)}. Name one: hf:{name}:CONFIG[:SPLIT].",
        missing=f"The Hugging Face dataset {name!r} has no config {config!r} in the local "
                f"cache {str(folder)!r}; it has {sorted(configs)}. Download it with: {download}")
    newest = max(configs[config], key=lambda p: p.stat().st_mtime)
    splits = {}
    for arrow in sorted(newest.glob("*.arrow")):
        stem = arrow.stem
        if "-of-" in stem:  # shards: <name>-<split>-00000-of-00003
            stem = stem.rsplit("-", 3)[0]
        splits.setdefault(stem.rsplit("-", 1)[-1], []).append(arrow)
    split = _named_or_only(
        split, splits,
        several=f"The Hugging Face dataset {name!r} ({config}) has the splits "
                f"{sorted(splits)} in the cache; name one: hf:{name}:{config}:SPLIT.",
        missing=f"The Hugging Face dataset {name!r} ({config}) has no split {split!r} in the "
                f"local cache {str(newest)!r}; it has {sorted(splits)}.")
    shards = [datasets.Dataset.from_file(str(path)) for path in splits[split]]
    dataset = shards[0] if len(shards) == 1 else datasets.concatenate_datasets(shards)
    return _from_dataset(dataset, f"hf:{name}:{config}:{split}")


# ---------------------------------------------------------------------------------------
# From a table to a corpus
# ---------------------------------------------------------------------------------------
def _looks_numeric(values) -> bool:
    try:
        for value in values:
            float(value)
    except (TypeError, ValueError):
        return False
    return True


def _column_kinds(table: _Table) -> dict:
    """Each column's kind, for guessing the text column and listing the columns."""
    kinds = {}
    for name, values in table.columns.items():
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, str) for v in present):
            kinds[name] = "numbers" if table.all_strings and _looks_numeric(present) else "text"
        elif present and all(isinstance(v, numbers.Number) for v in present):
            kinds[name] = "numbers"
        else:
            kinds[name] = "empty" if not present else "other"
    return kinds


def _columns_text(table: _Table) -> str:
    kinds = _column_kinds(table)
    return ", ".join(f"{name!r} ({kind})" for name, kind in kinds.items())


def _check_column(table: _Table, column, option: str) -> str:
    if not isinstance(column, str):
        raise TypeError(f"Expected {option} to be a column name (str). Received "
                        f"{describe(column)}.")
    if column not in table.columns:
        raise ValueError(
            f"{table.name} has no column {column!r} ({option}). Its columns: "
            f"{_columns_text(table) or 'none'}."
        )
    return column


def _guess_text_column(table: _Table, taken) -> str:
    if "text" in table.columns and "text" not in taken:
        return "text"
    kinds = _column_kinds(table)
    candidates = [n for n, kind in kinds.items() if kind == "text" and n not in taken]
    if len(candidates) == 1:
        return candidates[0]
    why = ("no column holds text" if not candidates
           else f"{len(candidates)} columns hold text ({', '.join(map(repr, candidates))})")
    raise ValueError(
        f"Cannot tell which column of {table.name} holds the texts: {why} and none is named "
        f"'text'. Name it with text_column= (--text-column). Its columns: "
        f"{_columns_text(table)}."
    )


def _text_cells(table: _Table, column: str) -> list[str]:
    texts = []
    for row, value in enumerate(table.columns[column]):
        if value is None:
            raise ValueError(f"{table.where(row, column)}: the text is missing (an empty or "
                             "NaN cell). Expected a non-empty text in every row; remove the row "
                             "or fill the cell.")
        if not isinstance(value, str):
            raise ValueError(f"{table.where(row, column)}: expected a text (str). Received "
                             f"{describe(value)}.")
        if not value.strip():
            raise ValueError(f"{table.where(row, column)}: the text is empty (only "
                             f"whitespace). Expected a non-empty text in every row.")
        texts.append(value)
    # lone surrogates (from JSON escapes): named by row
    try:
        check_texts(texts, name=f"the texts of {table.name}")
    except ValueError as exc:
        index = int(str(exc).rsplit("index ", 1)[-1].rstrip("."))
        raise ValueError(f"{table.where(index, column)}: the text is not valid Unicode (a "
                         "lone surrogate).") from None
    return texts


def _ids(table: _Table, id_column):
    """The ids, their kind, and the id column."""
    if id_column is None:
        if table.index is not None:
            values, kind = table.index, "index"
        else:
            return list(table.numbers), table.kind, None
    else:
        values, kind = table.columns[id_column], "column"
    seen = {}
    for row, value in enumerate(values):
        where = table.where(row, id_column) if id_column else f"{table.where(row)} (index)"
        if value is None:
            raise ValueError(f"{where}: the id is missing. Expected an id in every row.")
        if not isinstance(value, (str, numbers.Number)) or isinstance(value, bool):
            raise ValueError(f"{where}: expected an id (a str or a number). Received "
                             f"{describe(value)}.")
        if value in seen:
            raise ValueError(
                f"{where}: the id {value!r} is also the id of {table.kind} "
                f"{table.numbers[seen[value]]}. Expected unique ids.")
        seen[value] = row
    return list(values), kind, id_column


def _scores(table: _Table, column: str) -> np.ndarray:
    scores = np.empty(len(table.numbers))
    for row, value in enumerate(table.columns[column]):
        if value is None:
            raise ValueError(f"{table.where(row, column)}: the pair has no score. Expected a "
                             "number in every row.")
        try:
            number = float(value) if isinstance(value, (str, numbers.Real)) and not \
                isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            raise ValueError(f"{table.where(row, column)}: expected a finite number as the "
                             f"pair's score. Received {describe(value)}.")
        scores[row] = number
    return scores


def _to_corpus(table: _Table, *, text_column, id_column, label_column, pair_columns,
               score_column) -> Corpus:
    if not table.columns or not table.numbers:
        raise ValueError(f"{table.name} holds no texts (it is empty"
                         + (", or holds a header and no rows" if table.columns else "") + ").")
    for option, column in (("text_column", text_column), ("id_column", id_column),
                           ("label_column", label_column), ("score_column", score_column)):
        if column is not None:
            _check_column(table, column, option)
    if pair_columns is not None:
        if isinstance(pair_columns, str) or len(tuple(pair_columns)) != 2:
            raise TypeError(f"Expected pair_columns to be two column names (A, B). Received "
                            f"{describe(pair_columns)}.")
        pair_columns = tuple(_check_column(table, c, "pair_columns") for c in pair_columns)
        if score_column is None:
            raise ValueError(f"pair_columns {list(pair_columns)} need score_column= "
                             "(--score-column): the column of each pair's score. Columns of "
                             f"{table.name}: {_columns_text(table)}.")
        if text_column is not None or label_column is not None:
            raise ValueError("pair_columns (rated pairs) exclude text_column and label_column "
                             "(one text per row); give one or the other.")
    elif score_column is not None:
        raise ValueError("score_column is the score of rated pairs: give pair_columns= "
                         "(--pair-columns A B) too.")
    ids, id_kind, id_column = _ids(table, id_column)
    if pair_columns is not None:
        a, b = (_text_cells(table, c) for c in pair_columns)
        scores = _scores(table, score_column)
        first = {}
        texts, text_ids = [], []
        for row, pair in enumerate(zip(a, b)):
            for column, text in zip(pair_columns, pair):
                if text not in first:
                    first[text] = len(texts)
                    texts.append(text)
                    text_ids.append(f"{ids[row]}:{column}")
        pairs = np.array([[first[x], first[y]] for x, y in zip(a, b)], dtype=np.int64)
        return Corpus(name=table.name, texts=texts, ids=text_ids, id_kind=id_kind,
                      id_column=id_column, pairs=pairs.reshape(-1, 2), scores=scores,
                      pair_ids=ids, pair_columns=pair_columns, score_column=score_column)
    taken = {c for c in (id_column, label_column) if c is not None}
    text_column = text_column or _guess_text_column(table, taken)
    texts = _text_cells(table, text_column)
    labels = None if label_column is None else [
        _missing_to_none(v) for v in table.columns[label_column]]
    return Corpus(name=table.name, texts=texts, ids=ids, id_kind=id_kind, id_column=id_column,
                  text_column=text_column, labels=labels, label_column=label_column)


_FILE_READERS = {
    ".txt": _read_txt,
    ".jsonl": _read_jsonl,
    ".csv": lambda path: _read_delimited(path, ","),
    ".tsv": lambda path: _read_delimited(path, "\t"),
    ".parquet": _read_parquet,
}


def _table_of(source) -> _Table:
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, str) and text.startswith("hf:"):
            return _read_hf(text)
        path = Path(text)
        suffix = path.suffix.lower()
        if suffix not in _FILE_READERS:
            raise ValueError(
                f"Expected a file ending in {', '.join(FILE_SUFFIXES)}, or hf:NAME. "
                f"Received {text!r}."
            )
        if not path.is_file():
            raise FileNotFoundError(
                f"corpus file {text!r} " + ("is a folder" if path.is_dir() else "does not exist"))
        return _FILE_READERS[suffix](path)
    kind = type(source)
    module = kind.__module__.split(".")[0]
    if module == "pandas" and kind.__name__ in ("DataFrame", "Series"):
        return _from_pandas(source, kind.__name__)
    if module == "datasets" and kind.__name__ == "Dataset":
        return _from_dataset(source, "Dataset")
    raise TypeError(
        "Expected a file path (.txt, .jsonl, .csv, .tsv, .parquet), 'hf:NAME[:CONFIG][:SPLIT]', "
        f"a pandas DataFrame or Series, or a datasets.Dataset. Received {describe(source)}."
    )


def read_table(source, *, text_column=None, id_column=None, label_column=None,
               pair_columns=None, score_column=None) -> Corpus:
    """Read a file, data frame or Hugging Face dataset into a :class:`Corpus`.

    The public entry point is :func:`skpool.datasets.read_corpus`, which
    also takes registered corpus names; see it for the parameters.
    """
    if isinstance(source, (str, os.PathLike)) and not str(os.fspath(source)).startswith("hf:"):
        if Path(os.fspath(source)).suffix.lower() == ".txt" and any(
                c not in (None, "text") for c in (text_column, id_column, label_column,
                                                  score_column)) or (
                Path(os.fspath(source)).suffix.lower() == ".txt" and pair_columns is not None):
            raise ValueError(
                f"{os.fspath(source)!r} is a .txt file: one text per line and no columns, so "
                "no id, label, pair or score column can be named (ids are the line numbers). "
                "Use a .csv, .tsv, .jsonl or .parquet file for columns."
            )
    return _to_corpus(_table_of(source), text_column=text_column, id_column=id_column,
                      label_column=label_column, pair_columns=pair_columns,
                      score_column=score_column)

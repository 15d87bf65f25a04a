"""``layers`` and ``evaluate`` encode on a dask cluster: one token store per layer.

A store holds one model at one layer, so each layer is encoded into a store of
its own (``DIR/layer-L``; ``DIR/model-K/layer-L`` for evaluate) by
``encode_to_store`` on the workers. The numbers must be those of the same run
encoded on the driver (every layer from one forward pass), up to the float32
round-off of differently batched passes.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')")

from joblib import parallel_config  # noqa: E402

from skpool import TokenEncoder, layer_profile  # noqa: E402
from skpool import _measure  # noqa: E402
from skpool.cli import main  # noqa: E402
from skpool.encoder import _distributed  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the tiny model truncates

NUMBERS = ("mean_socm", "stderr", "mean_d_mu", "mean_d_sigma", "mean_spread", "median_spread",
           "max_spread", "mean_cosine")


def _same_records(got, expected, numbers):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        for key in e:
            if key in numbers:
                assert g[key] == pytest.approx(e[key], abs=1e-5, nan_ok=True), key
            else:
                assert g[key] == e[key], key


def _executed(client) -> int:
    return sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


def test_layer_profile_encodes_each_layer_into_its_own_store(client, tiny_encoder_params,
                                                             sample_texts, tmp_path):
    texts = sample_texts * 2
    plain = layer_profile(TokenEncoder(**tiny_encoder_params), texts, layers=[0, -1])
    before = _executed(client)
    with parallel_config(backend="dask"):
        stored = layer_profile(TokenEncoder(**tiny_encoder_params), texts, layers=[0, -1],
                               store=tmp_path / "s", partition_size=5)
    assert _executed(client) - before >= 2 * 4  # 2 layers x ceil(16 / 5) partitions
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["layer-0", "layer-2"]
    assert stored.layers.tolist() == plain.layers.tolist() == [0, 2]
    _same_records([r.to_dict() for r in stored.records],
                  [r.to_dict() for r in plain.records], NUMBERS)

    # a finished store is read back: nothing is encoded again
    calls = []
    real = _distributed._encode_partition

    def counting(encoder, store, k, part):
        calls.append(k)
        return real(encoder, store, k, part)

    try:
        _distributed._encode_partition = counting
        again = layer_profile(TokenEncoder(**tiny_encoder_params), texts, layers=[0, 2],
                              store=tmp_path / "s", partition_size=5)
    finally:
        _distributed._encode_partition = real
    assert calls == []
    assert [r.to_dict() for r in again.records] == [r.to_dict() for r in stored.records]


def _cli_json(capsys, path, *args) -> list:
    code = main([str(a) for a in args] + ["--quiet", "--json", str(path)])
    assert code == 0, capsys.readouterr().err
    return json.loads(path.read_text())


def test_layers_command_on_a_local_cluster_equals_the_driver(capsys, tiny_model_dir,
                                                             tmp_path, monkeypatch):
    from joblib.parallel import get_active_backend

    corpus = tmp_path / "texts.txt"
    corpus.write_text("".join(f"text {i} about a cat and {'a dog ' * i}.\n" for i in range(9)))
    common = ["layers", "--model", tiny_model_dir, "--dataset", corpus, "--layers", 0, -1, "--device",
              "cpu", "--no-cache"]
    plain = _cli_json(capsys, tmp_path / "plain.json", *common)

    backends = []
    real = _measure.encode_to_store

    def recording(texts, path, encoder, **kwargs):
        backends.append((type(get_active_backend()[0]).__name__, path.name,
                         kwargs.get("partition_size")))
        return real(texts, path, encoder, **kwargs)

    monkeypatch.setattr(_measure, "encode_to_store", recording)
    clustered = _cli_json(capsys, tmp_path / "cluster.json", *common, "--scheduler", "local:2",
                          "--partition-size", 4)
    assert backends == [("DaskDistributedBackend", "layer-0", 4),
                        ("DaskDistributedBackend", "layer-2", 4)]
    _same_records(clustered, plain, NUMBERS)


def test_evaluate_command_on_a_local_cluster_equals_the_driver(capsys, tiny_model_dir,
                                                               tmp_path, monkeypatch):
    from joblib.parallel import get_active_backend

    data = tmp_path / "films.csv"
    data.write_text("text,label\n" + "".join(
        f"\"film {i} was {'good ' * (i % 3 + 1)}\",pos\n"
        f"\"film {i} was {'bad ' * (i % 2 + 1)}and long\",neg\n" for i in range(5)))
    common = ["evaluate", "--model", tiny_model_dir, "--dataset", data, "--label-column",
              "label", "--layers", 0, -1, "--pooling", "mean", "gaussian-diag", "--pairs", 15,
              "--folds", 2, "--bootstrap", 20, "--device", "cpu", "--no-cache"]
    plain = _cli_json(capsys, tmp_path / "plain.json", *common)["records"]

    backends = []
    real = _measure.encode_to_store

    def recording(texts, path, encoder, **kwargs):
        backends.append((type(get_active_backend()[0]).__name__,
                         f"{path.parent.name}/{path.name}", len(texts)))
        return real(texts, path, encoder, **kwargs)

    monkeypatch.setattr(_measure, "encode_to_store", recording)
    store = tmp_path / "s"
    clustered = _cli_json(capsys, tmp_path / "cluster.json", *common, "--scheduler", "local:2",
                          "--store", store, "--partition-size", 3)["records"]
    assert backends == [("DaskDistributedBackend", "model-0/layer-0", 10),
                        ("DaskDistributedBackend", "model-0/layer-2", 10)]
    assert len(plain) == 2 * 2  # layers x poolings
    _same_records(clustered, plain, NUMBERS + ("score", "score_std", "matched_socm",
                                               "matched_stderr"))

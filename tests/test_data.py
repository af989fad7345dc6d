"""Tests for data/flatgrad_data.py (offline: CIFAR-10 is faked by a tiny archive
in the real format, fetched through a file:// URL)."""
import hashlib
import importlib.util
import io
import pickle
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

DATA_DIR = Path(__file__).parents[1] / "data"
sys.path.insert(0, str(DATA_DIR))

import flatgrad_data as fd  # noqa: E402 (sys.path set above)

ROWS = 10  # rows per fake CIFAR batch
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
# A known pixel: data_batch_1, row 3, image position (h=5, w=7) has RGB (200, 100, 50).
PIXEL = dict(row=3, h=5, w=7, rgb=(200, 100, 50))


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _add_bytes(tar, name, payload):
    info = tarfile.TarInfo(name)  # built by hand: tar.add() would strip a leading "/"
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def _make_archive(path, extra_members=()):
    """Write a CIFAR-10-format tar.gz; return {batch name: (data (ROWS, 3072), labels)}."""
    rng = np.random.default_rng(123)
    raw = {}
    with tarfile.open(path, "w:gz") as tar:
        for b, name in enumerate(BATCHES):
            data = rng.integers(0, 256, size=(ROWS, 3072), dtype=np.uint8)
            if name == "data_batch_1":
                for c, v in enumerate(PIXEL["rgb"]):  # row layout: 1024 R, 1024 G, 1024 B
                    data[PIXEL["row"], c * 1024 + PIXEL["h"] * 32 + PIXEL["w"]] = v
            labels = [(i + b) % 10 for i in range(ROWS)]
            raw[name] = (data, np.array(labels))
            batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                     b"filenames": [f"{name}_{i}.png".encode() for i in range(ROWS)]}
            _add_bytes(tar, f"cifar-10-batches-py/{name}", pickle.dumps(batch))
        meta = {b"label_names": [c.encode() for c in fd.CIFAR10_CLASSES],
                b"num_cases_per_batch": ROWS, b"num_vis": 3072}
        _add_bytes(tar, "cifar-10-batches-py/batches.meta", pickle.dumps(meta))
        for name in extra_members:
            _add_bytes(tar, name, b"evil")
    return raw


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "src" / "fake-cifar.tar.gz"
    path.parent.mkdir()
    raw = _make_archive(path)
    return path, _md5(path), raw


def _train_images(raw):
    data = np.concatenate([raw[b][0] for b in BATCHES[:-1]])
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


# ---------------------------------------------------------------- CIFAR-10

@pytest.fixture(autouse=True)
def not_grading(monkeypatch):
    """As in a student's kernel: the in-process corpus runs of other test modules set
    NBGRADER_EXECUTION for the whole process (autograder/corpus/notebooks.py)."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def test_download_extracts_and_shows_progress(archive, tmp_path, capfd):
    src, md5, _ = archive
    folder = fd.download_cifar10(tmp_path / "cache", url=src.as_uri(), md5=md5)
    assert folder == tmp_path / "cache" / "cifar-10-batches-py"
    assert all((folder / b).is_file() for b in BATCHES + ["batches.meta"])
    assert _md5(tmp_path / "cache" / "cifar-10-python.tar.gz") == md5
    assert "cifar-10-python.tar.gz" in capfd.readouterr().err  # the tqdm bar


def test_read_batches_layout(archive, tmp_path):
    src, md5, raw = archive
    folder = fd.download_cifar10(tmp_path / "cache", url=src.as_uri(), md5=md5)
    X_train, y_train, X_test, y_test = fd.read_cifar10_batches(folder)
    assert X_train.shape == (5 * ROWS, 32, 32, 3) and X_train.dtype == np.uint8
    assert X_test.shape == (ROWS, 32, 32, 3) and X_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert tuple(X_train[PIXEL["row"], PIXEL["h"], PIXEL["w"]]) == PIXEL["rgb"]
    row = raw["data_batch_2"][0][4]
    for c in range(3):
        np.testing.assert_array_equal(X_train[ROWS + 4, :, :, c], row[c * 1024:(c + 1) * 1024].reshape(32, 32))
    np.testing.assert_array_equal(y_train, np.concatenate([raw[b][1] for b in BATCHES[:-1]]))
    np.testing.assert_array_equal(y_test, raw["test_batch"][1])


def test_load_cifar10_preprocessing(archive, tmp_path):
    src, md5, raw = archive
    d = fd.load_cifar10(tmp_path / "cache", url=src.as_uri(), md5=md5)
    assert d["name"] == "cifar10" and d["classes"] == fd.CIFAR10_CLASSES
    assert d["image_shape"] == (32, 32, 3)
    n = 5 * ROWS
    n_tr = int(0.8 * n)
    for split, rows in [("train", n_tr), ("val", n - n_tr), ("test", ROWS)]:
        X, y = d["X_" + split], d["y_" + split]
        assert X.shape == (rows, 3073) and X.dtype == torch.float64
        assert y.shape == (rows,) and y.dtype == torch.int64
        assert torch.all(X[:, -1] == 1)
    # per-channel mean of the train split is removed
    chan_mean = d["X_train"][:, :-1].reshape(-1, 32, 32, 3).mean(dim=(0, 1, 2))
    assert torch.allclose(chan_mean, torch.zeros(3, dtype=torch.float64), atol=1e-12)
    # exact expected values: validation = last 20% of the train batches, channel-last flattening
    imgs = _train_images(raw) / 255.0
    mean = imgs[:n_tr].mean(axis=(0, 1, 2))
    expect_val = (imgs[n_tr:] - mean).reshape(n - n_tr, -1)
    np.testing.assert_allclose(d["X_val"][:, :-1].numpy(), expect_val, atol=1e-12)
    labels = np.concatenate([raw[b][1] for b in BATCHES[:-1]])
    np.testing.assert_array_equal(d["y_val"].numpy(), labels[n_tr:])
    # the known pixel, recovered from the flattened row as W[:-1, c].reshape(image_shape) would be
    img = d["X_train"][PIXEL["row"], :-1].reshape(d["image_shape"]).numpy()
    np.testing.assert_allclose((img[PIXEL["h"], PIXEL["w"]] + mean) * 255, PIXEL["rgb"], atol=1e-9)
    assert d["X_train"].abs().max() <= 1


def test_load_cifar10_truncation_and_dtype(archive, tmp_path):
    src, md5, raw = archive
    d = fd.load_cifar10(tmp_path / "cache", num_train=20, num_test=5, dtype=torch.float32,
                        url=src.as_uri(), md5=md5)
    assert d["X_train"].shape == (16, 3073) and d["X_val"].shape == (4, 3073)
    assert d["X_test"].shape == (5, 3073) and d["X_train"].dtype == torch.float32
    labels = np.concatenate([raw[b][1] for b in BATCHES[:-1]])
    np.testing.assert_array_equal(d["y_val"].numpy(), labels[16:20])


def test_cache_is_reused(archive, tmp_path):
    src, md5, _ = archive
    cache = tmp_path / "cache"
    fd.download_cifar10(cache, url=src.as_uri(), md5=md5)
    src.unlink()  # the URL no longer exists: any re-download would fail
    assert fd.download_cifar10(cache, url=src.as_uri(), md5=md5).is_dir()
    shutil.rmtree(cache / "cifar-10-batches-py")  # re-extracted from the cached archive
    d = fd.load_cifar10(cache, url=src.as_uri(), md5=md5)
    assert d["X_train"].shape == (40, 3073)
    d = fd.load_cifar10(cache, download=False)  # extracted folder alone suffices
    assert d["X_test"].shape == (ROWS, 3073)


def test_md5_mismatch_raises_and_deletes(archive, tmp_path):
    src, _, _ = archive
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="md5"):
        fd.download_cifar10(cache, url=src.as_uri(), md5="0" * 32)
    assert list(cache.iterdir()) == []  # neither the archive nor a temp file is left


def test_bad_url_says_how_to_go_offline(tmp_path):
    url = (tmp_path / "does-not-exist.tar.gz").as_uri()
    with pytest.raises(RuntimeError) as err:
        fd.load_cifar10(tmp_path / "cache", url=url)
    msg = str(err.value)
    assert msg.startswith("Could not download CIFAR-10 (") and "\n" not in msg
    assert 'set DATASET = "digits" in the first data cell' in msg
    assert not (tmp_path / "cache" / "cifar-10-python.tar.gz").exists()


def test_missing_data_without_download(tmp_path):
    with pytest.raises(RuntimeError, match="download=False"):
        fd.load_cifar10(tmp_path / "cache", download=False)


@pytest.mark.parametrize("evil", ["../evil.txt", "cifar-10-batches-py/../../evil.txt",
                                  "/tmp/flatgrad-evil.txt"])
def test_unsafe_tar_member_rejected(tmp_path, evil):
    src = tmp_path / "src" / "evil.tar.gz"
    src.parent.mkdir()
    _make_archive(src, extra_members=[evil])
    cache = tmp_path / "a" / "cache"
    with pytest.raises(RuntimeError, match="unsafe"):
        fd.download_cifar10(cache, url=src.as_uri(), md5=_md5(src))
    assert not (tmp_path / "a" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not (cache / "cifar-10-batches-py").exists()  # nothing extracted at all


# ---------------------------------------------------------------- digits

def test_digits_splits():
    d = fd.load_digits()
    assert d["name"] == "digits" and d["image_shape"] == (8, 8, 1) and len(d["classes"]) == 10
    for split, rows in [("train", 1257), ("val", 180), ("test", 360)]:
        X, y = d["X_" + split], d["y_" + split]
        assert X.shape == (rows, 65) and X.dtype == torch.float64
        assert y.shape == (rows,) and y.dtype == torch.int64
        assert set(y.tolist()) == set(range(10))
        assert torch.all(X[:, -1] == 1)
        assert X[:, :-1].abs().max() <= 1
    assert abs(d["X_train"][:, :-1].mean().item()) < 1e-12


def test_digits_deterministic_and_complete():
    a, a2, b = fd.load_digits(), fd.load_digits(), fd.load_digits(dtype=torch.float32)
    for k in ["X_train", "y_train", "X_val", "y_val", "X_test", "y_test"]:
        assert torch.equal(a[k], a2[k])
        assert torch.allclose(a[k].double(), b[k].double(), atol=1e-6)
    assert b["X_train"].dtype == torch.float32
    # undo the preprocessing: the three splits together are exactly the dataset
    with np.load(DATA_DIR / "digits.npz") as f:
        images, labels = f["images"], f["labels"]
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 16
    X = torch.cat([a["X_train"], a["X_val"], a["X_test"]])[:, :-1].numpy()
    y = torch.cat([a["y_train"], a["y_val"], a["y_test"]]).numpy()
    mean = -a["X_train"][:, :-1].min().item()  # blank pixels (0) exist, so min = -mean
    assert 0.2 < mean < 0.5
    rows = np.column_stack([np.round((X + mean) * 16), y])
    want = np.column_stack([images.reshape(1797, 64), labels])
    assert sorted(map(tuple, rows.astype(np.int64))) == sorted(map(tuple, want.astype(np.int64)))


def test_module_works_copied_alone(tmp_path):
    shutil.copy(DATA_DIR / "flatgrad_data.py", tmp_path)
    shutil.copy(DATA_DIR / "digits.npz", tmp_path)
    spec = importlib.util.spec_from_file_location("flatgrad_data_copy", tmp_path / "flatgrad_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.load_digits()["X_test"].shape == (360, 65)


def test_load_dataset_choice(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert fd.load_dataset(None)["name"] == "digits"
    assert fd.load_dataset()["name"] == "digits"
    # under grading nothing downloads, even when the notebook asks for CIFAR-10
    assert fd.load_dataset("cifar10", num_train=7)["name"] == "digits"
    monkeypatch.delenv("NBGRADER_EXECUTION")
    monkeypatch.setattr(fd, "load_cifar10", lambda **kw: {"name": "cifar10", **kw})
    assert fd.load_dataset(None, num_train=7) == {"name": "cifar10", "num_train": 7}
    assert fd.load_dataset("digits")["name"] == "digits"
    with pytest.raises(ValueError):
        fd.load_dataset("mnist")


def test_failed_download_falls_back_to_digits_in_one_line(archive, tmp_path, capsys):
    url = (tmp_path / "does-not-exist.tar.gz").as_uri()
    data = fd.load_dataset(None, root=tmp_path / "cache", url=url, dtype=torch.float32)
    assert data["name"] == "digits" and data["X_train"].dtype == torch.float32
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1 and err == ""
    assert lines[0].startswith("NOTE: Could not download CIFAR-10 (")
    assert "Using the offline digits set instead" in lines[0]
    # a corrupt archive is a failed download too: one line, the digits
    src, _, _ = archive
    assert fd.load_dataset("cifar10", root=tmp_path / "cache2", url=src.as_uri(), md5="0" * 32)["name"] == "digits"
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "md5" in out and out.rstrip().endswith("skip the download).")


def test_offline_default_download_falls_back(tmp_path, capfd):
    """The real CIFAR-10 URL where the network is closed (as here, and on a plane)."""
    data = fd.load_dataset(None, root=tmp_path / "cache")
    out, err = capfd.readouterr()
    if data["name"] == "cifar10":
        pytest.skip("this machine can reach the CIFAR-10 server")
    assert data["name"] == "digits" and len(out.splitlines()) == 1 and "Traceback" not in out + err
    assert out.startswith("NOTE: Could not download CIFAR-10")


def test_no_fallback_when_download_is_forbidden(tmp_path, capsys):
    with pytest.raises(RuntimeError, match="download=False"):
        fd.load_dataset("cifar10", root=tmp_path / "cache", download=False)
    assert capsys.readouterr().out == ""


def test_progress_bar_is_plain_text_without_ipywidgets(monkeypatch, recwarn):
    from tqdm.std import tqdm as text_bar
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    bar = fd.progress_bar()
    assert bar is text_bar
    list(bar(range(3), file=io.StringIO()))
    assert not [w for w in recwarn if "IProgress" in str(w.message)]
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # grading: never the widget
    monkeypatch.delitem(sys.modules, "ipywidgets")
    assert fd.progress_bar() is text_bar


def test_progress_bar_uses_widgets_where_installed(monkeypatch):
    pytest.importorskip("ipywidgets")
    from tqdm.auto import tqdm as auto_bar
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert fd.progress_bar() is auto_bar

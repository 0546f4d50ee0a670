"""Test-wide settings: quiet TensorFlow and a hard block on network access."""
import os
import socket

import pytest

import cli

# Must be set before anything imports TensorFlow, or its C++ start-up chatter floods the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The kernels the commands run on (cli.import_tensorflow_quietly), for the tests that import TensorFlow first.
cli.choose_onednn_kernels()


class NetworkBlocked(OSError):
    """Raised by every network call made during tests (an OSError, like a real network failure)."""


def _refuse(*args, **kwargs):
    raise NetworkBlocked("tests must not use the network")


@pytest.fixture(autouse=True)
def block_network(monkeypatch):
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    # Unix-domain sockets are local IPC (multiprocessing uses them), not network, so they stay usable.
    def guarded_connect(sock, address):
        if sock.family == getattr(socket, "AF_UNIX", None):
            return original_connect(sock, address)
        _refuse()

    def guarded_connect_ex(sock, address):
        if sock.family == getattr(socket, "AF_UNIX", None):
            return original_connect_ex(sock, address)
        _refuse()

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)


# --- helpers shared by the test files: `from conftest import build, random_dataset` ---------------

# For tiny training runs: no R1. Its second backward pass (and lazy R1's second discriminator step) is not what
# those tests are about, and building it would double the cost of each.
NO_R1 = ['--r1-weight', '0']

@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home folder of the test file's own, so that no cache or setting of the machine's user is read."""
    return tmp_path_factory.mktemp("home")


def offline_environment(home):
    """A user's environment without the internet: data from the bundled sample or files, nothing downloaded."""
    return {"GAN_OFFLINE": "1", "HOME": str(home), "KERAS_HOME": str(home / ".keras")}


@pytest.fixture
def offline(monkeypatch, home):
    """Ask for it (`pytestmark = pytest.mark.usefixtures("offline")`) to run a test file's tests offline in its home."""
    for name, value in offline_environment(home).items():
        monkeypatch.setenv(name, value)


def snapshot(directory):
    """Every file and folder under directory, hidden ones too, with the bytes of the files."""
    found = {}
    for root, folders, names in os.walk(str(directory)):
        for folder in folders:
            found[os.path.relpath(os.path.join(root, folder), str(directory))] = "folder"
        for name in names:
            with open(os.path.join(root, name), "rb") as stream:
                found[os.path.relpath(os.path.join(root, name), str(directory))] = stream.read()
    return found


def build(model_class=None, **kwargs):
    """A model (GANModel unless given) in a fresh graph you own, with an initialised session."""
    import tensorflow as tf
    from model import GANModel

    graph = tf.Graph()
    with graph.as_default():
        model = (model_class or GANModel)(**kwargs)
        session = tf.compat.v1.Session(graph=graph)
        session.run(tf.compat.v1.global_variables_initializer())
    return model, session


def random_dataset(size=8, batch_size=4, seed=0, noise_len=100):
    """Uniform-noise images with labels 0, 1, ..., 9, 0, ...: enough to run training steps on."""
    import numpy as np
    from dataset import GANDataset

    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, size=(size, 28, 28, 1)).astype(np.float32)
    return GANDataset(images, np.arange(size) % 10, noise_len=noise_len, batch_size=batch_size, seed=seed)

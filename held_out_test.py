"""The images the measuring stick compares with are never trained on.

Data without a test split (the bundled 5,000 digits, a folder of class folders, an .npz of x_train and y_train
only) gives the stick 100 images per class held out of the classifier's training. The GAN leaves the same
images out, so that FD, precision, recall and the memorisation check compare its digits with digits it never
saw. Data with a test split is held out by its test split, and the GAN trains on every training image."""
import numpy as np
import pytest

import classifier
import main
import settings

pytestmark = pytest.mark.usefixtures('offline')
PER_CLASS = classifier.HOLD_OUT_PER_CLASS + 5   # the fewest a class may have to be held out of, and a few more


def write_npz(path, with_test_split=False):
    """Two classes of distinct random images, PER_CLASS each, with or without a test split."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2 * PER_CLASS, 28, 28), dtype=np.uint8)
    labels = np.arange(2 * PER_CLASS) % 2
    arrays = dict(x_train=images, y_train=labels)
    if with_test_split:
        arrays.update(x_test=images[:20], y_test=labels[:20])
    np.savez(str(path), **arrays)
    return str(path)


def run_on(path, **given):
    given = dict(data=path, **given)
    given.update(main.classes_of_data(given))
    return settings.resolve(given)[0]


def rows(images):
    return {np.asarray(image).tobytes() for image in images}


def test_the_gan_trains_on_none_of_the_images_the_stick_holds_out(tmp_path):
    path = write_npz(tmp_path / 'no_test_split.npz')
    data = main.load_data(run_on(path, batch_size=4))[0]
    train_images, _, held_images, _, held_out_from, _ = classifier.load_training_and_held_out('mnist', path)
    assert held_out_from.startswith('stratified hold-out')
    assert len(data.images) == 2 * PER_CLASS - 2 * classifier.HOLD_OUT_PER_CLASS
    assert rows(data.images) == rows(train_images) and not rows(data.images) & rows(held_images)
    assert sorted(np.bincount(data.labels)) == [5, 5]


def test_a_run_may_still_train_on_every_image_when_asked(tmp_path):
    path = write_npz(tmp_path / 'no_test_split.npz')
    assert len(main.load_data(run_on(path, train_on_held_out=True))[0].images) == 2 * PER_CLASS


def test_data_with_a_test_split_trains_on_every_training_image(tmp_path):
    path = write_npz(tmp_path / 'with_test_split.npz', with_test_split=True)
    assert len(main.load_data(run_on(path))[0].images) == 2 * PER_CLASS


def test_the_held_out_images_come_back_beside_the_training_ones_for_the_discriminator_to_be_shown(tmp_path):
    path = write_npz(tmp_path / 'no_test_split.npz')
    _, held = main.load_data(run_on(path, batch_size=4))
    _, _, held_images, held_labels, _, _ = classifier.load_training_and_held_out('mnist', path)
    assert rows(held[0]) == rows(held_images) and sorted(held[1]) == sorted(held_labels)
    assert main.load_data(run_on(path, train_on_held_out=True))[1] is None
    with_test = write_npz(tmp_path / 'with_test_split.npz', with_test_split=True)
    _, held = main.load_data(run_on(with_test))
    _, _, test_images, _, held_out_from, _ = classifier.load_training_and_held_out('mnist', with_test)
    assert held_out_from == 'test split' and rows(held[0]) == rows(test_images) and len(held[0]) == 20


def test_data_too_small_to_hold_out_from_trains_on_every_image_and_says_why(tmp_path, capsys):
    rng = np.random.default_rng(1)
    path = str(tmp_path / 'small.npz')
    np.savez(path, x_train=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), y_train=np.arange(40) % 2)
    assert len(main.load_data(run_on(path, batch_size=8))[0].images) == 40
    assert 'training on all 40 images' in capsys.readouterr().out


def test_runs_saved_before_the_hold_out_existed_resume_on_every_image():
    config = settings.to_config(settings.resolve({})[0])
    del config['train_on_held_out']
    config['version'] = 4
    assert settings.from_config(config).train_on_held_out is True
    assert settings.resolve({})[0].train_on_held_out is False

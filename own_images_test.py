"""A user's own labelled images, end to end: a folder of class folders trained on with main.py, drawn by class
name with generate.py and measured with evaluate.py. Each test writes the small folders it needs: a few PNGs
per class, some 56x56, some in colour, some dark on light."""
import contextlib
import io
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import NO_R1

TINY = ['--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--condition-units', '8', '--seed', '0',
        '--steps', '2', '--save-every', '2', '--sample-every', '2', '--eval-every', '0'] + NO_R1
CLASSES = ('sneaker', 'bag', 'ankle boot')


def picture(seed, side=28):
    """A bright blob of random shades on a black background, as MNIST draws its digits."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((side, side), np.uint8)
    inner = side // 4
    pixels[inner:side - inner, inner:side - inner] = rng.integers(60, 256, (side - 2 * inner, side - 2 * inner))
    return pixels


def save(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(str(path))


def write_folder(folder, names=CLASSES, per_class=4):
    """per_class PNGs in a subfolder per class, in turn 28x28 grey, 56x56, RGB and dark on light."""
    for number, name in enumerate(names):
        for i in range(per_class):
            pixels = picture(100 * number + i)
            kind = i % 4
            if kind == 1:
                pixels = np.kron(pixels, np.ones((2, 2), np.uint8))
            elif kind == 2:
                pixels = np.stack([pixels, pixels // 2, pixels // 3], axis=-1)
            elif kind == 3:
                pixels = 255 - pixels
            save(folder / name / ('%02d.png' % i), pixels)
    return folder


def environment(home):
    return {'GAN_OFFLINE': '1', 'HOME': str(home), 'KERAS_HOME': str(home / '.keras'),
            'GAN_CLASSIFIER_CACHE': str(home / 'classifiers')}


@pytest.fixture(autouse=True)
def offline(monkeypatch, home):
    for name, value in environment(home).items():
        monkeypatch.setenv(name, value)


def main_in_process(argv):
    import main
    return main.main([str(a) for a in argv])


def error_lines(text):
    """stderr without the lines of load_dataset, which name the data's source and what reading it did."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith('dataset:')]


def assert_one_error_line(stderr, *words):
    lines = error_lines(stderr)
    assert len(lines) == 1 and 'Traceback' not in stderr, stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope='module')
def trained(tmp_path_factory, home):
    """One 2-step run on a folder of three classes, shared (read-only) by the tests below."""
    base = tmp_path_factory.mktemp('mine')
    folder, logdir = write_folder(base / 'my_images'), base / 'run'
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment(home).items():
            patch.setenv(name, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main_in_process(TINY + ['--data', folder, '--logdir', logdir])
    assert code == 0, err.getvalue()
    return type('Trained', (), dict(folder=folder, logdir=logdir, out=out.getvalue(), err=err.getvalue()))


# ------------------------------------------------------------------------------------ training

def test_main_trains_on_a_folder_of_class_folders_one_class_per_subfolder(trained):
    config = json.loads((trained.logdir / 'config.json').read_text())
    assert config['model']['num_classes'] == 3 and config['data'] == str(trained.folder)
    assert config['class_names'] == ['ankle boot', 'bag', 'sneaker']   # the folders' names, sorted
    grid = Image.open(str(trained.logdir / 'samples' / 'step_0000002.png'))
    assert grid.size[1] == 3 * 30 + 2   # a row per class
    assert grid.size[0] > 10 * 30 + 2   # and its name in the margin
    assert "--condition sneaker" in trained.out
    lines = trained.err.splitlines()
    assert any(line.startswith('dataset: 3 classes from folder') for line in lines), trained.err
    assert any('converted 6 of 12 images' in line for line in lines), trained.err
    assert any('inverted 3 of 12 images' in line for line in lines), trained.err
    assert 'trained to step 2' in trained.out


def folder_with_an_empty_class(folder):
    write_folder(folder)
    for path in (folder / 'bag').iterdir():
        path.unlink()
    return ['bag', 'no images']


def folder_of_one_class(folder):
    write_folder(folder, names=('bag',))
    return ['one class folder', '2 to 100']


def folder_of_101_classes(folder):
    for number in range(101):
        save(folder / ('class%03d' % number) / 'a.png', picture(number))
    return ['101 class folders']


def folder_with_an_unreadable_picture(folder):
    write_folder(folder)
    (folder / 'bag' / '02.png').write_bytes(b'half a picture')
    return ['bag/02.png', 'cannot be read']


def folder_of_pictures_without_classes(folder):
    for number in range(3):
        save(folder / ('%d.png' % number), picture(number))
    return ['no class folders']


@pytest.mark.parametrize('make', [folder_with_an_empty_class, folder_of_one_class, folder_of_101_classes,
                                  folder_with_an_unreadable_picture, folder_of_pictures_without_classes])
def test_a_folder_that_cannot_be_classes_is_one_line_exit_2_and_leaves_no_run(make, tmp_path, capsys):
    folder = tmp_path / 'my_images'
    folder.mkdir()
    words = make(folder)
    assert main_in_process(TINY + ['--data', folder, '--logdir', tmp_path / 'run']) == 2
    line = assert_one_error_line(capsys.readouterr().err, str(folder), *words)
    assert line.startswith('main.py: error: ')
    assert not (tmp_path / 'run').exists()


def test_a_run_whose_folder_gained_or_renamed_a_class_is_refused_in_one_line(tmp_path, capsys):
    folder = write_folder(tmp_path / 'my_images', names=('bag', 'sneaker'))
    logdir = tmp_path / 'run'
    assert main_in_process(TINY + ['--data', folder, '--logdir', logdir, '--steps', '1']) == 0
    save(folder / 'coat' / 'a.png', picture(0))
    capsys.readouterr()
    config = (logdir / 'config.json').read_text()
    assert main_in_process(['--logdir', logdir, '--steps', '2']) == 2
    assert_one_error_line(capsys.readouterr().err, str(folder), '3 classes', '2')
    shutil.rmtree(str(folder / 'coat'))
    os.rename(str(folder / 'bag'), str(folder / 'bags'))
    assert main_in_process(['--logdir', logdir, '--steps', '2']) == 2
    assert_one_error_line(capsys.readouterr().err, str(folder), 'bags', 'bag, sneaker')
    assert (logdir / 'config.json').read_text() == config
    os.rename(str(folder / 'bags'), str(folder / 'bag'))
    assert main_in_process(['--logdir', logdir, '--steps', '2']) == 0


def test_main_trains_on_an_npz_of_any_number_of_classes_as_many_as_its_labels_number(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 28, 28), dtype=np.uint8)
    np.savez(str(tmp_path / 'mine.npz'), x_train=images, y_train=np.arange(24) % 4,
             class_names=np.array(['cat', 'dog', 'owl', 'yak']))
    logdir = tmp_path / 'run'
    assert main_in_process(TINY + ['--data', tmp_path / 'mine.npz', '--logdir', logdir]) == 0, capsys.readouterr().err
    assert json.loads((logdir / 'config.json').read_text())['model']['num_classes'] == 4
    assert Image.open(str(logdir / 'samples' / 'step_0000002.png')).size[1] == 4 * 30 + 2


# ------------------------------------------------------------------------------------ drawing

def generate_in_process(argv):
    import generate
    return generate.main([str(a) for a in argv])


@pytest.fixture
def run_copy(trained, tmp_path):
    """A private copy of the trained run, for tests that write into it."""
    shutil.copytree(str(trained.logdir), str(tmp_path / 'run'))
    return tmp_path / 'run'


def test_generate_draws_a_class_by_its_name_into_a_file_named_after_it(run_copy, tmp_path, capsys):
    assert generate_in_process(['--logdir', run_copy, '--condition', 'sneaker']) == 0, capsys.readouterr().err
    path = run_copy / 'generated_2_sneaker.png'
    assert str(path) in capsys.readouterr().out
    assert Image.open(str(path)).size == (10 * 30 + 2, 30 + 2)
    drawn = []
    for condition in ('sneaker', 'Sneaker', '2'):
        output = tmp_path / ('%s.npz' % condition)
        assert generate_in_process(['--logdir', run_copy, '--condition', condition, '--num', '3',
                                    '--output', output]) == 0
        with np.load(str(output)) as arrays:
            assert arrays['labels'].tolist() == [2, 2, 2]
            drawn.append(arrays['images'])
    np.testing.assert_array_equal(drawn[0], drawn[1])
    np.testing.assert_array_equal(drawn[0], drawn[2])
    assert generate_in_process(['--logdir', run_copy, '--condition', 'ankle_boot', '--output',
                                tmp_path / 'boot.npz']) == 0   # a name with a space, spelt as in file names
    assert np.load(str(tmp_path / 'boot.npz'))['labels'].tolist() == [0] * 10


def test_generate_all_is_a_row_per_class_named_beside_it(trained, tmp_path, capsys):
    output = tmp_path / 'all.png'
    assert generate_in_process(['--logdir', trained.logdir, '--condition', 'all', '--output', output]) == 0
    assert 'ankle boot' in capsys.readouterr().out
    width, height = Image.open(str(output)).size
    assert height == 3 * 30 + 2 and width > 10 * 30 + 2


def test_generate_interpolates_between_two_classes_named(trained, tmp_path):
    output = tmp_path / 'morph.npz'
    assert generate_in_process(['--logdir', trained.logdir, '--interpolate', 'bag', 'sneaker', '--num', '4',
                                '--output', output]) == 0
    assert np.load(str(output))['labels'].tolist() == [1, 1, 2, 2]


@pytest.mark.parametrize('flags, words', [
    (['--condition', 'coat'], ['--condition coat', 'ankle boot, bag, sneaker', 'all']),
    (['--condition', '3'], ['--condition 3', '0..2']),
    (['--interpolate', 'bag', 'coat'], ['coat', 'ankle boot, bag, sneaker']),
])
def test_generate_a_class_the_run_does_not_have_is_one_line_naming_those_it_has(flags, words, trained, capsys):
    assert generate_in_process(['--logdir', trained.logdir] + flags) == 2
    assert_one_error_line(capsys.readouterr().err, *words)


# ------------------------------------------------------------------------------------ measuring

@pytest.fixture(scope='module')
def measured(tmp_path_factory, home):
    """A 2-step run on a folder of three classes large enough to hold out 100 images of each, and the classifier of
    that folder trained briefly into a cache of its own."""
    import classifier
    base = tmp_path_factory.mktemp('measured')
    folder, logdir, cache = write_folder(base / 'my_images', per_class=104), base / 'run', str(base / 'cache')
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment(home).items():
            patch.setenv(name, value)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main_in_process(TINY + ['--data', folder, '--logdir', logdir]) == 0
        with contextlib.redirect_stderr(io.StringIO()) as said:
            classifier.get_classifier('mnist', str(folder), cache_dir=cache, steps=20).classifier.close()
    return type('Measured', (), dict(folder=folder, logdir=logdir, cache=cache, classifier_said=said.getvalue()))


def test_the_classifier_of_a_folder_is_named_after_the_folder_not_a_dataset(measured):
    line, = [line for line in measured.classifier_said.splitlines() if 'training the' in line]
    assert 'training the classifier of %s (20 steps on ' % measured.folder in line, line
    assert 'mnist' not in line, line


def evaluate_in_process(argv):
    import evaluate
    return evaluate.main([str(a) for a in argv])


def test_evaluate_scores_every_class_of_a_folder_and_names_them(measured, capsys):
    argv = ['--logdir', measured.logdir, '--classifier-dir', measured.cache, '--num-per-class', '5']
    assert evaluate_in_process(argv + ['--json']) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result['settings']['class_names'] == ['ankle boot', 'bag', 'sneaker']
    for row in (result, result['reference']):
        for name in ('per_class_accuracy', 'diversity_ratio', 'class_shares'):
            assert len(row[name]) == 3, name
    assert evaluate_in_process(argv) == 0
    out = capsys.readouterr().out
    assert 'classes: 0 ankle boot, 1 bag, 2 sneaker' in out
    assert '%s, 5 generated images per class' % measured.folder in out
    assert 'digit' not in out


def test_compare_scores_runs_of_a_folder_on_its_classes(measured, tmp_path, capsys):
    copy = tmp_path / 'again'
    shutil.copytree(str(measured.logdir), str(copy))
    sheet = tmp_path / 'sheet.png'
    assert evaluate_in_process(['--compare', measured.logdir, copy, '--classifier-dir', measured.cache,
                                '--num-per-class', '5', '--sheet', sheet]) == 0, capsys.readouterr().err
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith('|')]
    assert len(table) == 4 and 'lowest class' in table[0] and 'lowest digit' not in table[0]
    assert Image.open(str(sheet)).size[1] > 3 * 30   # panels of a row per class


def test_evaluate_a_run_whose_folder_gained_a_class_is_one_line(measured, capsys):
    added = measured.folder / 'coat'
    save(added / 'a.png', picture(0))
    try:
        assert evaluate_in_process(['--logdir', measured.logdir, '--classifier-dir', measured.cache,
                                    '--num-per-class', '5']) == 2
    finally:
        shutil.rmtree(str(added))
    assert_one_error_line(capsys.readouterr().err, str(measured.folder), '4 classes', 'coat')


# ------------------------------------------------------------------------------------ small folders

def test_a_folder_too_small_to_hold_out_images_for_quality_points_is_said_before_training(tmp_path, capsys):
    folder = write_folder(tmp_path / 'my_images')   # 4 images a class: none to spare for the measuring stick
    flags = TINY[:TINY.index('--eval-every')] + ['--data', folder]
    assert main_in_process(flags + ['--eval-every', '2', '--logdir', tmp_path / 'asked']) == 2
    line = assert_one_error_line(capsys.readouterr().err, '--eval-every 2', '--eval-every 0', 'class 0 (ankle boot)',
                                 '4 images', '102 images in every class folder')
    assert 'digit' not in line
    assert not (tmp_path / 'asked').exists()
    assert main_in_process(flags + ['--logdir', tmp_path / 'default']) == 0
    out = capsys.readouterr().out
    assert 'no quality points' in out and '102 images in every class folder' in out
    assert not (tmp_path / 'default' / 'quality.jsonl').exists()


def test_evaluate_of_a_run_on_a_folder_too_small_to_hold_out_images_is_one_line(trained, capsys):
    assert evaluate_in_process(['--logdir', trained.logdir, '--num-per-class', '5']) == 2
    line = assert_one_error_line(capsys.readouterr().err, str(trained.folder), 'class 0 (ankle boot)',
                                 '102 images in every class folder')
    assert 'digit' not in line

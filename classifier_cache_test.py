"""Where the digit classifier is cached, what may be replaced there, and the cheap check that evaluation can run."""
import os
import subprocess
import sys

import numpy as np
import pytest

import classifier
import evaluate
import quality
import runs
import settings as settings_lib

HERE = os.path.dirname(os.path.abspath(__file__))
FEW_STEPS = 5
ENVIRONMENT = 'GAN_CLASSIFIER_CACHE'   # the documented override of the cache's place


@pytest.fixture(autouse=True)
def own_cache_places(tmp_path, monkeypatch):
    """No test reads or writes the real caches: HOME and XDG_CACHE_HOME are the test's, the override unset."""
    (tmp_path / 'home').mkdir()
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'home' / '.keras'))
    monkeypatch.setenv('GAN_OFFLINE', '1')
    monkeypatch.delenv('XDG_CACHE_HOME', raising=False)
    monkeypatch.delenv(ENVIRONMENT, raising=False)


def snapshot(directory):
    files = {}
    for root, _, names in os.walk(str(directory)):
        for name in names:
            path = os.path.join(root, name)
            with open(path, 'rb') as stream:
                files[os.path.relpath(path, str(directory))] = stream.read()
    return files


def count_training(monkeypatch):
    trained = []
    original = classifier.Classifier.train

    def counting(self, *args, **kwargs):
        trained.append(1)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(classifier.Classifier, 'train', counting)
    return trained


def a_copied_run(folder):
    """What a user may pass as --classifier-dir by mistake: a run of theirs, with their notes in it."""
    folder.mkdir(parents=True)
    (folder / 'notes.txt').write_text('what I tried, and why')
    (folder / 'config.json').write_text('{"model": {}}')
    (folder / 'classifier.json').write_text('{"not": "a cache of this project"}')
    return folder


# ---------------------------------------------------------------- what may be replaced

def test_a_cache_dir_holding_a_users_files_is_refused_before_training_and_nothing_changes(tmp_path, monkeypatch):
    folder = a_copied_run(tmp_path / 'my-run')
    before = snapshot(folder)
    trained = count_training(monkeypatch)
    with pytest.raises(classifier.ClassifierError) as raised:
        classifier.get_classifier('mnist_sample', cache_dir=str(folder), steps=FEW_STEPS)
    message = str(raised.value)
    assert len(message.splitlines()) == 1 and str(folder) in message and 'notes.txt' in message
    assert '--classifier-dir' in message and raised.value.code == 2
    assert trained == []   # refused before the training, not after it
    assert snapshot(folder) == before
    assert sorted(os.listdir(str(tmp_path))) == ['home', 'my-run']   # no temporary folder left either


def test_the_working_directory_as_cache_dir_is_refused_and_emptied_of_nothing(tmp_path, monkeypatch):
    cwd = tmp_path / 'work'
    cwd.mkdir()
    (cwd / 'thesis.tex').write_text('months of work')
    (cwd / 'figures').mkdir()
    (cwd / 'figures' / 'plot.png').write_bytes(b'\x89PNG not really')
    before = snapshot(cwd)
    monkeypatch.chdir(str(cwd))
    with pytest.raises(classifier.ClassifierError):
        classifier.get_classifier('mnist_sample', cache_dir='.', steps=FEW_STEPS)
    assert snapshot(cwd) == before


def test_an_empty_folder_or_a_stale_cache_of_this_project_is_filled_in_place(tmp_path, monkeypatch):
    folder = tmp_path / 'cache'
    folder.mkdir()
    trained = count_training(monkeypatch)
    classifier.get_classifier('mnist_sample', cache_dir=str(folder), steps=FEW_STEPS).classifier.close()
    assert sorted(os.listdir(str(folder))) == sorted(classifier.CACHE_FILES)
    (folder / classifier.CACHE_INFO_FILE).write_text('{damaged')
    classifier.get_classifier('mnist_sample', cache_dir=str(folder), steps=FEW_STEPS).classifier.close()
    assert len(trained) == 2 and sorted(os.listdir(str(folder))) == sorted(classifier.CACHE_FILES)
    classifier.get_classifier('mnist_sample', cache_dir=str(folder), steps=FEW_STEPS).classifier.close()
    assert len(trained) == 2   # the rewritten cache is read
    assert sorted(os.listdir(str(tmp_path))) == ['cache', 'home']


def test_a_users_file_added_to_a_usable_cache_is_read_and_left_alone(tmp_path, monkeypatch):
    folder = tmp_path / 'cache'
    classifier.get_classifier('mnist_sample', cache_dir=str(folder), steps=FEW_STEPS).classifier.close()
    (folder / 'README.txt').write_text('shared cache, do not delete')
    trained = count_training(monkeypatch)
    classifier.get_classifier('mnist_sample', cache_dir=str(folder), steps=FEW_STEPS).classifier.close()
    assert trained == [] and (folder / 'README.txt').read_text() == 'shared cache, do not delete'


def test_evaluate_refuses_such_a_classifier_dir_in_one_line_exit_2(tmp_path, monkeypatch, capsys):
    folder = a_copied_run(tmp_path / 'my-run')
    before = snapshot(folder)

    class Run:
        config = {'dataset': 'mnist_sample', 'data': None, 'model': {}}
        settings = settings_lib.resolve({'dataset': 'mnist_sample'})[0]
        conditioned = True

        def close(self):
            pass
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: Run())
    assert evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '5', '--classifier-dir', str(folder)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith('dataset:')]
    assert len(err) == 1 and err[0].startswith('evaluate.py: error: ') and str(folder) in err[0], err
    assert snapshot(folder) == before


# ---------------------------------------------------------------- where the cache goes

def test_the_cache_goes_under_xdg_cache_home_not_the_working_directory(tmp_path, monkeypatch):
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    monkeypatch.chdir(str(cwd))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    classifier.get_classifier('mnist_sample', steps=FEW_STEPS).classifier.close()
    assert os.listdir(str(cwd)) == []
    root = tmp_path / 'xdg' / 'conditional-gan-mnist' / 'classifiers'
    (cache,) = os.listdir(str(root))
    assert cache.startswith('mnist_sample-')
    assert sorted(os.listdir(str(root / cache))) == sorted(classifier.CACHE_FILES)


def test_the_cache_root_is_home_dot_cache_unless_xdg_or_the_override_says_otherwise(tmp_path, monkeypatch):
    assert classifier.cache_root() == str(tmp_path / 'home' / '.cache' / 'conditional-gan-mnist' / 'classifiers')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert classifier.cache_root() == str(tmp_path / 'xdg' / 'conditional-gan-mnist' / 'classifiers')
    monkeypatch.setenv(ENVIRONMENT, str(tmp_path / 'mine'))
    assert classifier.cache_root() == str(tmp_path / 'mine')
    assert ENVIRONMENT in evaluate.build_parser().format_help()
    assert 'XDG_CACHE_HOME' in evaluate.build_parser().format_help()


def test_an_unwritable_cache_location_is_refused_before_training(tmp_path, monkeypatch):
    (tmp_path / 'a-file').write_text('not a folder')
    monkeypatch.setenv(ENVIRONMENT, str(tmp_path / 'a-file' / 'classifiers'))
    trained = count_training(monkeypatch)
    with pytest.raises(classifier.ClassifierError) as raised:
        classifier.get_classifier('mnist_sample', steps=FEW_STEPS)
    assert trained == []
    message = str(raised.value)
    assert len(message.splitlines()) == 1 and 'a-file' in message and ENVIRONMENT in message
    assert (tmp_path / 'a-file').read_text() == 'not a folder'


# ---------------------------------------------------------------- can evaluation run on this data?

def data_file(path, train_per_class, test_per_class=None, missing_test_digit=None):
    rng = np.random.default_rng(0)

    def digits(per_class):
        labels = np.repeat(np.arange(10), per_class)
        images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        return images, labels
    arrays = dict(zip(('x_train', 'y_train'), digits(train_per_class)))
    if test_per_class is not None:
        images, labels = digits(test_per_class)
        keep = labels != missing_test_digit
        arrays.update(x_test=images[keep], y_test=labels[keep])
    np.savez(str(path), **arrays)
    return str(path)


def test_evaluation_problem_is_none_where_evaluation_can_run(tmp_path, monkeypatch):
    monkeypatch.setenv(ENVIRONMENT, str(tmp_path / 'cache'))
    assert quality.evaluation_problem('mnist_sample', None, 1000) is None
    assert quality.evaluation_problem('mnist', data_file(tmp_path / 'd.npz', 3, test_per_class=2), 50) is None
    assert not os.path.exists(str(tmp_path / 'cache'))   # a check, not a write


def test_evaluation_problem_names_data_too_small_to_hold_digits_out(tmp_path):
    problem = quality.evaluation_problem('mnist', data_file(tmp_path / 'small.npz', 50), 1000)
    assert 'small.npz' in problem and 'test split' in problem and '100' in problem
    assert len(problem.splitlines()) == 1


def test_evaluation_problem_names_a_digit_missing_from_the_test_split(tmp_path):
    problem = quality.evaluation_problem('mnist', data_file(tmp_path / 'd.npz', 3, 5, missing_test_digit=7), 1000)
    assert 'd.npz' in problem and 'digit 7' in problem and 'test' in problem


def test_evaluation_problem_names_an_unwritable_cache_and_too_many_digits(tmp_path, monkeypatch):
    (tmp_path / 'a-file').write_text('')
    monkeypatch.setenv(ENVIRONMENT, str(tmp_path / 'a-file'))
    assert 'a-file' in quality.evaluation_problem('mnist_sample', None, 1000)
    monkeypatch.delenv(ENVIRONMENT)
    too_many = quality.MAX_NUM_PER_CLASS + 1
    assert str(quality.MAX_NUM_PER_CLASS) in quality.evaluation_problem('mnist_sample', None, too_many)
    assert 'nowhere.npz' in quality.evaluation_problem('mnist', str(tmp_path / 'nowhere.npz'), 1000)


def test_evaluation_problem_loads_no_tensorflow(tmp_path):
    env = dict(os.environ, GAN_OFFLINE='1', HOME=str(tmp_path), GAN_CLASSIFIER_CACHE=str(tmp_path / 'cache'))
    code = ('import sys, quality; print(quality.evaluation_problem("mnist_sample", None, 1000)); '
            'print("tensorflow" in sys.modules)')
    result = subprocess.run([sys.executable, '-c', code], cwd=HERE, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['None', 'False']
    assert result.stderr == ''   # a check says its answer, nothing else

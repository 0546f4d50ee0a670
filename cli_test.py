"""The two command-line programs, end to end: main.py trains, resumes and refuses bad input; generate.py draws.

The core path runs the real scripts as subprocesses; the many small cases call main() in-process to stay fast.
One tiny run (4 steps of a narrow model on the bundled MNIST sample) is trained once and copied where a test
needs a logdir it may change.
"""
import argparse
import glob
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import NO_R1

HERE = os.path.dirname(os.path.abspath(__file__))
TINY_MODEL = ['--dataset', 'mnist_sample', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8',
              '--condition-units', '8', '--seed', '0'] + NO_R1
# Constant rates (--lr-decay 0): the decay schedule spans a run's total steps, so only without it does a
# run extended from 4 to 6 steps repeat a 6-step one exactly.
TINY_RUN = TINY_MODEL + ['--save-every', '2', '--sample-every', '2', '--summary-every', '2', '--log-every', '1',
                         '--lr-decay', '0']
LOG_LINE = re.compile(r'^step (\d+)/(\d+)\b')


# ------------------------------------------------------------------------------------ helpers

def offline_env(home):
    return dict(os.environ, GAN_OFFLINE='1', HOME=str(home), KERAS_HOME=str(home / '.keras'),
                TF_CPP_MIN_LOG_LEVEL='2', PYTHONUNBUFFERED='1')


def run_script(script, args, home, cwd):
    return subprocess.run([sys.executable, os.path.join(HERE, script)] + [str(a) for a in args],
                          env=offline_env(home), cwd=str(cwd), capture_output=True, text=True, timeout=600)


def start_script(script, args, home, cwd):
    return subprocess.Popen([sys.executable, os.path.join(HERE, script)] + [str(a) for a in args],
                            env=offline_env(home), cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def read_until_step(process, step):
    """Read the training log until it reports `step`; returns the lines read."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        match = LOG_LINE.match(line)
        if match and int(match.group(1)) >= step:
            return lines
    raise AssertionError('training ended before step %d:\n%s\n%s' % (step, ''.join(lines), process.stderr.read()))


def checkpoint_steps(logdir):
    return sorted(int(re.search(r'-(\d+)\.index$', path).group(1))
                  for path in glob.glob(os.path.join(str(logdir), 'model.ckpt-*.index')))


def snapshot(directory):
    """Every file under directory with its bytes, to prove a failed run changed nothing."""
    files = {}
    for path in glob.glob(os.path.join(str(directory), '**', '*'), recursive=True):
        if os.path.isfile(path):
            with open(path, 'rb') as stream:
                files[os.path.relpath(path, str(directory))] = stream.read()
    return files


def metrics_of(line):
    """A log line without its speed figures: what must repeat exactly under the same seed."""
    return [part for part in line.strip().split('  ')
            if not any(word in part for word in ('steps/s', 'img/s', 'ETA'))]


def log_lines(text):
    return {int(LOG_LINE.match(line).group(1)): metrics_of(line)
            for line in text.splitlines() if LOG_LINE.match(line)}


def event_scalars(logdir):
    import tensorflow as tf
    scalars = {}
    for path in sorted(glob.glob(os.path.join(str(logdir), 'events.out.tfevents.*'))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField('simple_value'):
                    scalars[(value.tag, event.step)] = value.simple_value
    return scalars


def corrupt_latest_checkpoint(logdir):
    """Cut the newest checkpoint's data file in half, as a full disk or a killed copy would."""
    step = checkpoint_steps(logdir)[-1]
    (data_file,) = glob.glob(os.path.join(str(logdir), 'model.ckpt-%d.data-*' % step))
    with open(data_file, 'rb') as stream:
        data = stream.read()
    with open(data_file, 'wb') as stream:
        stream.write(data[:len(data) // 2])
    return step


def error_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def errors_besides_the_data_source(text):
    """stderr without load_dataset's line naming the source of the digits."""
    return '\n'.join(line for line in error_lines(text) if not line.startswith('dataset:'))


def every_file(directory):
    """Every file under directory, hidden ones too, relative to it."""
    return sorted(os.path.relpath(os.path.join(root, name), str(directory))
                  for root, _, names in os.walk(str(directory)) for name in names)


def assert_one_error_line(stderr, *words):
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    assert 'Traceback' not in stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope='module')
def trained(tmp_path_factory, home):
    """One real 4-step training run, shared (read-only) by the tests below."""
    base = tmp_path_factory.mktemp('trained')
    logdir = base / 'run'
    result = run_script('main.py', TINY_RUN + ['--logdir', logdir, '--steps', '4'], home, base)
    assert result.returncode == 0, result.stderr
    result.logdir = logdir
    return result


@pytest.fixture(autouse=True)
def offline(monkeypatch, home):
    """In-process calls see the same environment as the subprocesses."""
    for name, value in offline_env(home).items():
        if name in ('GAN_OFFLINE', 'HOME', 'KERAS_HOME', 'TF_CPP_MIN_LOG_LEVEL'):
            monkeypatch.setenv(name, value)


@pytest.fixture
def run_copy(trained, tmp_path):
    """A private copy of the trained run, for tests that resume, corrupt or write into it."""
    copy = tmp_path / 'run'
    shutil.copytree(str(trained.logdir), str(copy))
    return copy


def main_in_process(argv):
    import main
    return main.main([str(a) for a in argv])


def generate_in_process(argv):
    import generate
    return generate.main([str(a) for a in argv])


# ------------------------------------------------------------------------------------ training

def test_training_writes_config_checkpoints_events_and_grids(trained):
    logdir = trained.logdir
    with open(logdir / 'config.json') as stream:
        config = json.load(stream)
    assert config['dataset'] == 'mnist_sample' and config['data'] is None
    assert config['batch_size'] == 8 and config['k_steps'] == 1 and config['steps'] == 4
    model = config['model']
    assert (model['noise_len'], model['g_dim'], model['d_dim'], model['condition_units']) == (100, 8, 8, 8)
    assert (model['conditioning'], model['arch'], model['loss'], model['seed']) == ('matching', 'dcgan', 'gan', 0)
    assert model['learning_rate'] == 2e-4
    assert checkpoint_steps(logdir) == [2, 4]
    assert os.path.exists(str(logdir / 'model.ckpt-4.dataset.json'))
    assert glob.glob(str(logdir / 'events.out.tfevents.*'))
    assert sorted(os.listdir(str(logdir / 'samples'))) == ['step_0000002.png', 'step_0000004.png']


def test_training_says_where_everything_went(trained):
    out, logdir = trained.stdout, str(trained.logdir)
    assert sorted(log_lines(out)) == [1, 2, 3, 4]
    assert 'tensorboard --logdir %s' % logdir in out
    assert os.path.join(logdir, 'model.ckpt-4') in out
    assert os.path.join(logdir, 'samples', 'step_0000004.png') in out
    assert 'python generate.py --logdir %s --condition 3' % logdir in out
    assert 'dataset: mnist_sample' in trained.stderr     # load_dataset names its source
    assert 'Traceback' not in trained.stderr


def test_same_seed_gives_the_same_first_step_losses(tmp_path, capsys):
    def first_step(name, seed):
        logdir = tmp_path / name
        argv = TINY_MODEL + ['--seed', seed, '--logdir', logdir, '--steps', '1', '--log-every', '1',
                             '--summary-every', '1']
        assert main_in_process(argv) == 0
        return log_lines(capsys.readouterr().out)[1], event_scalars(logdir)

    first, again, other = first_step('a', 3), first_step('b', 3), first_step('c', 4)
    assert first == again
    assert first[0] != other[0]
    assert first[1] and first[1] == again[1]


def test_epochs_count_whole_passes_over_the_data(tmp_path, capsys):
    # The 4,000 digits trained on (of 5,000: the measuring stick's 1,000 are held out) in batches of 800 with 5
    # discriminator batches per generator step: one step an epoch.
    logdir = tmp_path / 'epochs'
    argv = TINY_MODEL + ['--logdir', logdir, '--epochs', '2', '--batch-size', '800', '--k-steps', '5']
    assert main_in_process(argv) == 0
    assert checkpoint_steps(logdir) == [2]
    assert json.loads((logdir / 'config.json').read_text())['steps'] == 2


def test_wgan_defaults_to_five_critic_steps_and_a_small_learning_rate(tmp_path, capsys):
    logdir = tmp_path / 'wgan'
    assert main_in_process(TINY_MODEL + ['--logdir', logdir, '--steps', '1', '--loss', 'wgan']) == 0
    config = json.loads((logdir / 'config.json').read_text())
    assert config['k_steps'] == 5 and config['model']['learning_rate'] == 5e-5 and config['model']['loss'] == 'wgan'


def test_non_finite_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    logdir = tmp_path / 'diverged'
    # Adam moves every weight by about the learning rate per step: 1e10 overflows within a few steps.
    argv = TINY_MODEL + ['--logdir', logdir, '--steps', '50', '--save-every', '1', '--learning-rate', '1e10']
    assert main_in_process(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in error_lines(err) if not line.startswith('dataset:')]
    assert len(lines) == 1 and 'non-finite' in lines[0] and 'Traceback' not in err
    failed_step = int(re.search(r'step (\d+)', lines[0]).group(1))
    assert checkpoint_steps(logdir)[-1:] == ([failed_step - 1] if failed_step > 1 else [])


# ------------------------------------------------------------------------------------ resuming

def test_resume_continues_the_step_count_then_says_already(run_copy, home, tmp_path):
    before = checkpoint_steps(run_copy)[-1]
    # The model comes back from config.json: no model flags needed.
    result = run_script('main.py', ['--logdir', run_copy, '--steps', '6', '--log-every', '1'], home, tmp_path)
    assert result.returncode == 0, result.stderr
    assert before == 4 and checkpoint_steps(run_copy)[-1] == 6
    assert 'resuming' in result.stdout and 'step 4' in result.stdout
    assert sorted(log_lines(result.stdout)) == [5, 6]

    unchanged = snapshot(run_copy)
    again = run_script('main.py', ['--logdir', run_copy, '--steps', '6'], home, tmp_path)
    assert again.returncode == 0, again.stderr
    assert 'already' in again.stdout and '6' in again.stdout
    assert snapshot(run_copy) == unchanged


def test_resumed_run_repeats_an_uninterrupted_one(run_copy, tmp_path, capsys):
    # Same seed, same data order, same optimizer state: steps 5 and 6 come out the same either way.
    straight = tmp_path / 'straight'
    assert main_in_process(TINY_RUN + ['--logdir', straight, '--steps', '6']) == 0
    uninterrupted = log_lines(capsys.readouterr().out)
    assert main_in_process(['--logdir', run_copy, '--steps', '6', '--log-every', '1']) == 0
    resumed = log_lines(capsys.readouterr().out)
    assert resumed[5] == uninterrupted[5] and resumed[6] == uninterrupted[6]


def test_kill_9_loses_only_the_steps_since_the_last_checkpoint(tmp_path, home):
    logdir = tmp_path / 'killed'
    process = start_script('main.py', TINY_RUN + ['--logdir', logdir, '--steps', '100000'], home, tmp_path)
    try:
        read_until_step(process, 5)
    finally:
        process.kill()
        process.communicate()
    saved = checkpoint_steps(logdir)[-1]
    assert saved >= 4
    # The killed trainer's lock file is left behind, holding its pid; its lock died with it.
    assert (logdir / 'training.lock').read_text().strip() == str(process.pid)
    result = run_script('main.py', ['--logdir', logdir, '--steps', saved + 2, '--log-every', '1'], home, tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'step %d' % saved in result.stdout
    assert sorted(log_lines(result.stdout)) == [saved + 1, saved + 2]
    assert checkpoint_steps(logdir)[-1] == saved + 2
    assert not os.path.exists(str(logdir / 'training.lock'))


def test_ctrl_c_saves_a_checkpoint_before_exiting(tmp_path, home):
    logdir = tmp_path / 'interrupted'
    argv = TINY_MODEL + ['--logdir', logdir, '--steps', '100000', '--save-every', '100000', '--log-every', '1']
    process = start_script('main.py', argv, home, tmp_path)
    try:
        read_until_step(process, 3)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert 'Traceback' not in err
    steps = checkpoint_steps(logdir)
    assert len(steps) == 1 and steps[0] >= 3
    assert os.path.join(str(logdir), 'model.ckpt-%d' % steps[0]) in out
    assert os.path.exists(str(logdir / ('model.ckpt-%d.dataset.json' % steps[0])))


# ------------------------------------------------------------------------------------ main.py bad input

def fresh(tmp_path):
    return tmp_path / 'new-run'


@pytest.mark.parametrize('script, flags', [
    ('main', ['--learning-rate', '-1']), ('main', ['--logdir', 'config.json']),
    ('generate', ['--logdir', 'nowhere']), ('generate', ['--logdir', '.', '--condition', '3']),
    ('evaluate', ['--logdir', 'nowhere']), ('evaluate', ['--compare', 'nowhere'])],
    ids=['main: a bad flag', 'main: a logdir that is a file', 'generate: no run', 'generate: no checkpoint',
         'evaluate: no run', 'evaluate: nothing to compare'])
def test_bad_input_is_answered_before_tensorflow_loads(script, flags, tmp_path):
    """Loading TensorFlow takes seconds: a mistake in the command line is said without waiting for it."""
    (tmp_path / 'config.json').write_text('{}')
    code = ('import sys, %s\n'
            'assert %s.main(%r) == 2\n'
            'print("tensorflow loaded" if "tensorflow" in sys.modules else "tensorflow not loaded")'
            % (script, script, flags))
    result = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path), capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=HERE, GAN_OFFLINE='1'), timeout=300)
    assert result.stdout.strip() == 'tensorflow not loaded', result.stderr


def vectors_file(tmp_path):
    """A usable --condition-vectors file: one row per class."""
    path = tmp_path / 'vectors.npy'
    np.save(str(path), np.eye(10, 4, dtype=np.float32))
    return path


BAD_TRAINING_INPUT = {
    'unknown dataset': (lambda run, tmp: ['--dataset', 'nmist', '--logdir', run], ['nmist']),
    'missing data path': (lambda run, tmp: ['--dataset', 'mnist', '--data', tmp / 'nowhere.npz',
                                            '--logdir', fresh(tmp)], ['nowhere.npz']),
    'zero steps': (lambda run, tmp: ['--logdir', run, '--steps', '0'], ['--steps']),
    'negative batch size': (lambda run, tmp: ['--logdir', run, '--batch-size', '-8'], ['--batch-size']),
    'negative learning rate': (lambda run, tmp: ['--logdir', run, '--learning-rate', '-1'], ['--learning-rate']),
    'zero learning rate': (lambda run, tmp: ['--logdir', run, '--learning-rate', '0'], ['--learning-rate']),
    'negative diversity weight': (lambda run, tmp: ['--logdir', run, '--diversity-weight', '-0.5'],
                                  ['--diversity-weight']),
    'infinite diversity weight': (lambda run, tmp: ['--logdir', run, '--diversity-weight', 'inf'],
                                  ['--diversity-weight']),
    'zero noise length': (lambda run, tmp: ['--logdir', fresh(tmp), '--noise-len', '0'], ['--noise-len']),
    'negative r1 weight': (lambda run, tmp: ['--logdir', fresh(tmp), '--r1-weight', '-1'], ['--r1-weight', '0 or a positive']),
    'r1 every 0 steps': (lambda run, tmp: ['--logdir', fresh(tmp), '--r1-every', '0'], ['--r1-every']),
    'an Adam beta1 of 1': (lambda run, tmp: ['--logdir', fresh(tmp), '--beta1', '1'], ['--beta1', 'below 1']),
    'a top-k share of 0': (lambda run, tmp: ['--logdir', fresh(tmp), '--top-k', '0'], ['--top-k', 'above 0']),
    'a top-k share above 1': (lambda run, tmp: ['--logdir', fresh(tmp), '--top-k', '1.5'], ['--top-k', 'up to 1']),
    'training on held-out images a run held out': (lambda run, tmp: ['--logdir', run, '--train-on-held-out'],
                                                   ['without --train-on-held-out', '--logdir']),
    'steps and epochs': (lambda run, tmp: ['--logdir', run, '--steps', '5', '--epochs', '1'], ['--epochs']),
    'logdir under a file': (lambda run, tmp: ['--logdir', run / 'config.json' / 'sub'], ['config.json']),
    'logdir is a file': (lambda run, tmp: ['--logdir', run / 'config.json'], ['config.json', '--logdir']),
    'contradicting stored config': (lambda run, tmp: ['--logdir', run, '--noise-len', '50', '--steps', '6'],
                                    ['100', '50', '--logdir']),
    'contradicting stored dataset': (lambda run, tmp: ['--logdir', run, '--dataset', 'fashion_mnist'],
                                     ['mnist_sample', 'fashion_mnist', '--logdir']),
    'empty logdir': (lambda run, tmp: ['--logdir', '', '--steps', '1'], ['--logdir is empty']),
    'the bundled sample with a data file': (lambda run, tmp: ['--dataset', 'mnist_sample', '--data', run / 'config.json',
                                                               '--logdir', fresh(tmp)],
                                             ['--dataset mnist_sample', '--data', '--dataset mnist']),
    'condition vectors without conditioning': (lambda run, tmp: TINY_MODEL + [
        '--conditioning', 'none', '--condition-vectors', vectors_file(tmp), '--logdir', fresh(tmp), '--steps', '1'],
        ['--conditioning none', '--condition-vectors']),
    'clusters with a conditioned model': (lambda run, tmp: TINY_MODEL + [
        '--clusters', '10', '--logdir', fresh(tmp), '--steps', '1'], ['--clusters 10', '--conditioning none']),
    'one cluster': (lambda run, tmp: TINY_MODEL + [
        '--conditioning', 'none', '--clusters', '1', '--logdir', fresh(tmp), '--steps', '1'],
        ['--clusters 1', 'at least 2']),
    'clusters with lapgan': (lambda run, tmp: TINY_MODEL + [
        '--model', 'lapgan', '--conditioning', 'none', '--clusters', '5', '--logdir', fresh(tmp), '--steps', '1'],
        ['--clusters 5', '--model gan']),
    'blended labels without labels': (lambda run, tmp: TINY_MODEL + [
        '--conditioning', 'none', '--interpolate-conditions', '--logdir', fresh(tmp), '--steps', '1'],
        ['--interpolate-conditions', '--conditioning matching or concat']),
    'lapgan with spectral normalisation': (lambda run, tmp: TINY_MODEL + [
        '--model', 'lapgan', '--spectral-norm', '--logdir', fresh(tmp), '--steps', '1'],
        ['--spectral-norm', '--model gan']),
    'lapgan with clipped critics': (lambda run, tmp: TINY_MODEL + [
        '--model', 'lapgan', '--loss', 'wgan', '--logdir', fresh(tmp), '--steps', '1'], ['--model lapgan', '--loss wgan']),
    'clusters without the noise to draw them from': (lambda run, tmp: TINY_MODEL + [
        '--conditioning', 'none', '--noise-len', '1', '--logdir', fresh(tmp), '--steps', '1'], ['--noise-len 1']),
    'a flag the stored run does not read': (lambda run, tmp: ['--logdir', run, '--clusters', '5', '--steps', '6'],
                                            ['--clusters 5', 'not read', 'the model of']),
}


@pytest.mark.parametrize('case', sorted(BAD_TRAINING_INPUT))
def test_bad_training_input_is_one_line_exit_2_and_changes_nothing(case, run_copy, tmp_path, capsys):
    make_argv, words = BAD_TRAINING_INPUT[case]
    before = snapshot(run_copy)
    assert main_in_process(make_argv(run_copy, tmp_path)) == 2
    assert_one_error_line(capsys.readouterr().err, *words)
    assert snapshot(run_copy) == before
    assert not os.path.exists(str(fresh(tmp_path)))


def test_a_logdir_that_cannot_hold_a_run_is_named_for_what_it_is_not_blamed_on_free_space(tmp_path, capsys):
    blocked = tmp_path / 'blocked'
    blocked.mkdir()
    (blocked / 'samples').write_text('a file of the user\'s')
    assert main_in_process(TINY_MODEL + ['--logdir', blocked, '--steps', '1']) == 2
    line = assert_one_error_line(capsys.readouterr().err, 'samples', 'is a file')
    assert 'space' not in line and (blocked / 'samples').read_text() == 'a file of the user\'s'
    dangling = tmp_path / 'dangling'
    os.symlink(str(tmp_path / 'gone'), str(dangling))
    assert main_in_process(TINY_MODEL + ['--logdir', dangling, '--steps', '1']) == 2
    assert 'space' not in assert_one_error_line(capsys.readouterr().err, 'link', 'does not exist')
    assert os.path.islink(str(dangling)) and not (tmp_path / 'gone').exists()


# Files a new run writes, as a user's folder that is no run (no config.json) may already hold them.
NAMES_A_NEW_RUN_WRITES = ['checkpoint', 'quality.jsonl', 'model.ckpt-1.index', 'model.ckpt-1.dataset.json',
                          'samples/step_0000001.png', 'training.lock']


@pytest.mark.parametrize('name', NAMES_A_NEW_RUN_WRITES)
def test_a_new_run_refuses_a_folder_holding_a_file_of_the_users_that_it_would_write_over(name, tmp_path, capsys):
    folder = tmp_path / 'mine'
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text('the user\'s own %s' % name)
    (folder / 'notes.txt').write_text('notes')
    before = snapshot(folder)
    assert main_in_process(TINY_MODEL + ['--logdir', folder, '--steps', '1', '--eval-every', '0']) == 2
    assert_one_error_line(capsys.readouterr().err, str(folder), name, 'no config.json', '--logdir')
    assert snapshot(folder) == before


def test_a_new_run_trains_beside_the_users_other_files_and_takes_over_a_lock_left_by_a_killed_trainer(tmp_path):
    folder = tmp_path / 'mine'
    (folder / 'samples').mkdir(parents=True)
    (folder / 'notes.txt').write_text('notes')
    (folder / 'samples' / 'sketch.png').write_text('a sketch')
    (folder / 'training.lock').write_text('12345\n')
    assert main_in_process(TINY_MODEL + ['--logdir', folder, '--steps', '1', '--eval-every', '0']) == 0
    assert (folder / 'config.json').exists() and not (folder / 'training.lock').exists()
    assert (folder / 'notes.txt').read_text() == 'notes'
    assert (folder / 'samples' / 'sketch.png').read_text() == 'a sketch'


def test_augment_choices_print_as_words():
    import main
    assert '--augment translation|cutout|translation,cutout' in main.build_parser().format_usage()


def test_a_width_that_the_mlp_does_not_read_is_dropped_with_a_note_and_not_stored(tmp_path, capsys):
    configs = []
    for width in ('1', '2000'):
        logdir = tmp_path / width
        argv = TINY_MODEL + ['--arch', 'mlp', '--g-dim', width, '--logdir', logdir, '--steps', '1']
        assert main_in_process(argv) == 0
        out = capsys.readouterr().out
        assert '--g-dim is not read by these parts (--arch mlp has fixed layer sizes): dropped' in out
        configs.append(json.loads((logdir / 'config.json').read_text()))
    assert configs[0]['model']['g_dim'] is None and configs[0] == configs[1]


def test_lapgan_trains_with_the_gradient_penalty_loss(tmp_path, capsys):
    logdir = tmp_path / 'lapgan'
    assert main_in_process(TINY_MODEL + ['--model', 'lapgan', '--loss', 'wgan-gp', '--logdir', logdir,
                                         '--steps', '1']) == 0
    assert json.loads((logdir / 'config.json').read_text())['model']['loss'] == 'wgan-gp'


def test_corrupt_checkpoint_is_one_line_exit_2_and_changes_nothing(run_copy, tmp_path, capsys):
    step = corrupt_latest_checkpoint(run_copy)
    before = snapshot(run_copy)
    assert main_in_process(['--logdir', run_copy, '--steps', '6']) == 2
    assert_one_error_line(capsys.readouterr().err, 'model.ckpt-%d' % step, 'corrupt')
    assert snapshot(run_copy) == before


def test_batch_larger_than_the_data_is_refused(tmp_path, capsys):
    assert main_in_process(TINY_MODEL + ['--logdir', fresh(tmp_path), '--batch-size', '6000']) == 2
    lines = [line for line in error_lines(capsys.readouterr().err) if not line.startswith('dataset:')]
    assert len(lines) == 1 and '--batch-size' in lines[0]
    assert not os.path.exists(str(fresh(tmp_path)))


SEED_OUT_OF_RANGE = {
    'main.py': lambda tmp: ['--dataset', 'mnist_sample', '--logdir', fresh(tmp), '--steps', '1',
                            '--seed', '4294967296'],
    'generate.py': lambda tmp: ['--logdir', fresh(tmp), '--seed', '-1'],
    'evaluate.py': lambda tmp: ['--logdir', fresh(tmp), '--seed', '-1'],
}


@pytest.mark.parametrize('script', sorted(SEED_OUT_OF_RANGE))
def test_a_seed_outside_0_to_2_32_is_one_line_naming_the_flag(script, tmp_path, capsys):
    module = importlib.import_module(script[:-len('.py')])
    assert module.main([str(a) for a in SEED_OUT_OF_RANGE[script](tmp_path)]) == 2
    assert_one_error_line(capsys.readouterr().err, '--seed', '4294967295')
    assert not os.path.exists(str(fresh(tmp_path)))


def test_a_seed_is_a_whole_number_from_0_to_2_32_minus_1():
    import cli
    assert cli.seed('0') == 0 and cli.seed('4294967295') == 2 ** 32 - 1
    for text in ('-1', '4294967296', '1.5', 'one'):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.seed(text)


def test_bad_training_input_as_a_real_process(tmp_path, home):
    result = run_script('main.py', ['--steps', '-3', '--logdir', fresh(tmp_path)], home, tmp_path)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, '--steps')
    assert not os.path.exists(str(fresh(tmp_path)))


# ------------------------------------------------------------------------------------ runs of earlier versions

LEGACY_RUNS = os.path.join(HERE, 'testdata', 'legacy_runs')


@pytest.mark.parametrize('name', ['gan', 'lapgan', 'wgan', 'concat', 'none'])
def test_a_run_saved_by_version_0_1_0_resumes_and_draws(name, tmp_path, capsys):
    copy = tmp_path / name
    shutil.copytree(os.path.join(LEGACY_RUNS, name), str(copy))
    assert checkpoint_steps(copy) == [2]
    assert main_in_process(['--logdir', copy, '--steps', '3']) == 0, capsys.readouterr().err
    assert checkpoint_steps(copy)[-1] == 3
    output = tmp_path / 'drawn.npy'
    assert generate_in_process(['--logdir', copy, '--num', '2', '--output', output]) == 0, capsys.readouterr().err
    assert np.load(str(output)).shape == (20, 28, 28)


# The model settings each version added: a run saved before it has none of them.
ADDED_IN = {5: ('r1_weight', 'top_k', 'ema_decay'), 6: ('spectral_norm',), 7: ('r1_every',)}


def as_saved_by_version(logdir, version):
    """The run as an earlier version saved it: config.json and the record beside each checkpoint without the
    settings added since (version 4: before the levers and the hold-out)."""
    added = [name for added_in, names in ADDED_IN.items() if added_in > version for name in names]
    config_path = logdir / 'config.json'
    config = json.loads(config_path.read_text())
    for name in added:
        del config['model'][name]
    if version < 5:
        del config['train_on_held_out']
    config['version'] = version
    config_path.write_text(json.dumps(config))
    for path in glob.glob(os.path.join(str(logdir), 'model.ckpt-*.dataset.json')):
        with open(path) as stream:
            state = json.load(stream)
        for name in added:
            del state['trained_as'][name]
        with open(path, 'w') as stream:
            json.dump(state, stream)


@pytest.mark.parametrize('version', [4, 5, 6])
def test_a_run_saved_before_the_levers_existed_still_draws(run_copy, tmp_path, capsys, version):
    as_saved_by_version(run_copy, version)
    assert generate_in_process(['--logdir', run_copy, '--condition', '3', '--output', tmp_path / 'three.png']) == 0
    assert (tmp_path / 'three.png').exists()


def test_a_checkpoint_of_another_model_is_refused_in_one_line(run_copy, tmp_path, capsys):
    for path in glob.glob(os.path.join(str(run_copy), 'model.ckpt-*.dataset.json')):
        with open(path) as stream:
            state = json.load(stream)
        state['trained_as']['top_k'] = 0.5
        with open(path, 'w') as stream:
            json.dump(state, stream)
    assert generate_in_process(['--logdir', run_copy, '--condition', '3', '--output', tmp_path / 'three.png']) == 2
    assert_one_error_line(capsys.readouterr().err, 'was trained with --top-k 0.5', 'config.json says --top-k 1.0')


# ------------------------------------------------------------------------------------ training time

def test_checkpoints_record_the_training_time_carried_across_resumes(run_copy, capsys):
    import checkpoints
    first, last = (checkpoints.training_seconds(str(run_copy / name)) for name in ('model.ckpt-2', 'model.ckpt-4'))
    assert 0 < first <= last
    # A resumed run adds its own time to the time recorded with the checkpoint it resumes from.
    state_path = checkpoints.dataset_state_path(str(run_copy / 'model.ckpt-4'))
    with open(state_path) as stream:
        state = json.load(stream)
    with open(state_path, 'w') as stream:
        json.dump(dict(state, training_seconds=1000.0), stream)
    assert main_in_process(['--logdir', run_copy, '--steps', '5']) == 0
    assert checkpoints.training_seconds(str(run_copy / 'model.ckpt-5')) > 1000.0


def test_checkpoints_written_before_the_training_time_was_recorded_have_none(tmp_path, capsys):
    import checkpoints
    copy = tmp_path / 'gan'
    shutil.copytree(os.path.join(LEGACY_RUNS, 'gan'), str(copy))
    assert checkpoints.training_seconds(str(copy / 'model.ckpt-2')) is None
    # Resumed, its time since version 0.1.0 is still unknown: no figure rather than a wrong one.
    assert main_in_process(['--logdir', copy, '--steps', '3']) == 0
    assert checkpoints.training_seconds(str(copy / 'model.ckpt-3')) is None
    assert checkpoints.training_seconds(str(tmp_path / 'nowhere' / 'model.ckpt-1')) is None


# ------------------------------------------------------------------------------------ generate.py

def test_generate_writes_a_png_row_of_the_digit_asked_for(run_copy, home, tmp_path):
    result = run_script('generate.py', ['--logdir', run_copy, '--condition', '3'], home, tmp_path)
    assert result.returncode == 0, result.stderr
    path = os.path.join(str(run_copy), 'generated_3.png')
    assert path in result.stdout
    assert Image.open(path).size == (10 * 30 + 2, 1 * 30 + 2)   # ten 28-pixel digits, 2-pixel frames


def test_generate_all_digits_is_a_row_per_digit(trained, tmp_path, capsys):
    output = tmp_path / 'all.png'
    assert generate_in_process(['--logdir', trained.logdir, '--condition', 'all', '--num', '4',
                                '--output', output]) == 0
    assert str(output) in capsys.readouterr().out
    assert Image.open(str(output)).size == (4 * 30 + 2, 10 * 30 + 2)


def test_generate_default_is_every_digit_into_the_logdir(run_copy, capsys):
    assert generate_in_process(['--logdir', run_copy, '--num', '2']) == 0
    assert Image.open(str(run_copy / 'generated_all.png')).size == (2 * 30 + 2, 10 * 30 + 2)


def test_generate_npy_is_raw_images_in_0_1(trained, tmp_path, capsys):
    output = tmp_path / 'sevens.npy'
    assert generate_in_process(['--logdir', trained.logdir, '--condition', '7', '--num', '5',
                                '--output', output]) == 0
    images = np.load(str(output))
    assert images.shape == (5, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.std() > 0


def test_generate_npz_has_images_and_labels(trained, tmp_path, capsys):
    output = tmp_path / 'all.npz'
    assert generate_in_process(['--logdir', trained.logdir, '--num', '2', '--output', output]) == 0
    with np.load(str(output)) as archive:
        assert archive['images'].shape == (20, 28, 28)
        assert archive['images'].min() >= 0.0 and archive['images'].max() <= 1.0
        assert archive['labels'].tolist() == np.repeat(np.arange(10), 2).tolist()


def test_same_seed_same_pictures_other_seed_other_pictures(trained, tmp_path, capsys):
    def draw(name, seed):
        output = tmp_path / name
        assert generate_in_process(['--logdir', trained.logdir, '--condition', '5', '--num', '3',
                                    '--seed', seed, '--output', output]) == 0
        return np.load(str(output))
    first = draw('a.npy', 1)
    assert np.array_equal(first, draw('b.npy', 1))
    assert not np.allclose(first, draw('c.npy', 2))


def as_unit(images):
    return (images[..., 0] + 1.0) / 2.0


def test_interpolate_morphs_one_digit_into_another_with_fixed_noise(trained, tmp_path, capsys):
    import generate
    import runs
    output = tmp_path / 'morph.npy'
    assert generate_in_process(['--logdir', trained.logdir, '--interpolate', '1', '7', '--num', '6',
                                '--seed', '4', '--output', output]) == 0
    row = np.load(str(output))
    assert row.shape == (6, 28, 28)
    generator = runs.load_generator(str(trained.logdir))
    try:
        one, seven = generator.sample([1], seed=4), generator.sample([7], seed=4)
        vectors, weights = generate.interpolation_vectors(generator.condition_table, 1, 7, 6)
        noise = runs.draw_noise(1, generator.noise_len, seed=4)
        middle = generator.sample_conditions(vectors[2:3], noise=noise)
    finally:
        generator.close()
    # The ends are the pure digits drawn from the same noise; in between, the same noise under blends of
    # the two digits' condition vectors (a 4-step model barely tells digits apart, so compare images exactly).
    np.testing.assert_allclose(row[0], as_unit(one)[0], atol=1e-5)
    np.testing.assert_allclose(row[-1], as_unit(seven)[0], atol=1e-5)
    assert np.abs(row[0] - row[-1]).max() > 1e-6
    np.testing.assert_allclose(weights, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], atol=1e-6)
    np.testing.assert_allclose(vectors[2], 0.6 * generator.condition_table[1] + 0.4 * generator.condition_table[7])
    np.testing.assert_allclose(row[2], as_unit(middle)[0], atol=1e-6)
    png = tmp_path / 'morph.png'
    assert generate_in_process(['--logdir', trained.logdir, '--interpolate', '1', '7', '--num', '6',
                                '--output', png]) == 0
    assert Image.open(str(png)).size == (6 * 30 + 2, 32)


def test_vary_noise_walks_the_noise_for_one_digit(trained, tmp_path, capsys):
    import runs
    output = tmp_path / 'walk.npy'
    assert generate_in_process(['--logdir', trained.logdir, '--condition', '4', '--vary-noise', '--num', '5',
                                '--seed', '9', '--output', output]) == 0
    row = np.load(str(output))
    assert row.shape == (5, 28, 28)
    generator = runs.load_generator(str(trained.logdir))
    try:
        start = generator.sample([4], seed=9)
    finally:
        generator.close()
    np.testing.assert_allclose(row[0], as_unit(start)[0], atol=1e-5)
    assert all(np.abs(row[i] - row[i + 1]).max() > 1e-6 for i in range(4))


def test_gif_of_the_training_samples(run_copy, capsys):
    assert generate_in_process(['--logdir', run_copy, '--gif']) == 0
    gif = Image.open(str(run_copy / 'progress.gif'))
    assert gif.n_frames == 2


def test_unconditioned_model_ignores_the_condition_with_one_line(tmp_path, capsys):
    logdir = tmp_path / 'plain'
    assert main_in_process(TINY_MODEL + ['--logdir', logdir, '--steps', '1', '--conditioning', 'none']) == 0
    capsys.readouterr()
    output = tmp_path / 'plain.npy'
    assert generate_in_process(['--logdir', logdir, '--condition', '3', '--num', '4', '--output', output]) == 0
    captured = capsys.readouterr()
    assert len([line for line in error_lines(captured.err) if 'ignored' in line]) == 1
    assert np.load(str(output)).shape == (4, 28, 28)
    # The line that says what was drawn does not contradict the warning.
    assert 'digit 3' not in captured.out and '4 random digits' in captured.out


# ------------------------------------------------------------------------------------ the generator API

def test_generator_uses_moving_statistics_whatever_the_batch(trained):
    import runs
    generator = runs.load_generator(str(trained.logdir))
    try:
        assert generator.noise_len == 100 and generator.num_classes == 10
        assert generator.config['model']['g_dim'] == 8
        noise = np.random.default_rng(0).standard_normal((100, 100)).astype(np.float32)
        alone = generator.sample([3], noise=noise[:1])
        all_threes = generator.sample([3] * 100, noise=noise)
        mixed = generator.sample(np.arange(3, 103) % 10, noise=noise)
        assert alone.shape == (1, 28, 28, 1) and alone.dtype == np.float32
        assert all_threes.min() >= -1.0 and all_threes.max() <= 1.0
        np.testing.assert_allclose(alone[0], all_threes[0], atol=1e-5)
        np.testing.assert_allclose(alone[0], mixed[0], atol=1e-5)
        assert np.array_equal(generator.sample([0, 1], seed=5), generator.sample([0, 1], seed=5))
        assert not np.allclose(generator.sample([0, 1], seed=5), generator.sample([0, 1], seed=6))
    finally:
        generator.close()


def copy_config_only(trained, tmp_path):
    logdir = tmp_path / 'config-only'
    logdir.mkdir()
    shutil.copy(str(trained.logdir / 'config.json'), str(logdir / 'config.json'))
    return logdir


def edit_noise_len(logdir, noise_len=50):
    """A config.json that no longer matches the checkpoints beside it."""
    config = json.loads((logdir / 'config.json').read_text())
    config['model']['noise_len'] = noise_len
    (logdir / 'config.json').write_text(json.dumps(config))
    return logdir


def replace_config(logdir, config):
    (logdir / 'config.json').write_text(json.dumps(config))
    return logdir


def remove_checkpoints(logdir):
    for path in glob.glob(str(logdir / 'model.ckpt-*')):
        os.remove(path)
    return logdir


def corrupted(logdir):
    corrupt_latest_checkpoint(logdir)
    return logdir


BROKEN_LOGDIRS = {
    'missing logdir': (lambda trained, copy, tmp: tmp / 'never-trained', ['never-trained', 'python main.py']),
    'no config': (lambda trained, copy, tmp: tmp, ['config.json', 'python main.py']),
    'no checkpoint': (lambda trained, copy, tmp: copy_config_only(trained, tmp), ['no checkpoint',
                                                                                  'python main.py']),
    'incompatible checkpoint': (lambda trained, copy, tmp: edit_noise_len(copy), ['model.ckpt-4', 'config.json']),
    'corrupt checkpoint': (lambda trained, copy, tmp: corrupted(copy), ['model.ckpt-4', 'corrupt']),
}


@pytest.mark.parametrize('case', sorted(BROKEN_LOGDIRS))
def test_load_generator_refuses_a_broken_logdir_with_one_line(case, trained, run_copy, tmp_path):
    import runs
    make_logdir, words = BROKEN_LOGDIRS[case]
    logdir = make_logdir(trained, run_copy, tmp_path)
    with pytest.raises(runs.RunError) as raised:
        runs.load_generator(str(logdir))
    message = str(raised.value)
    assert len(message.splitlines()) == 1 and str(logdir) in message
    for word in words:
        assert word in message, message


BAD_GENERATE_INPUT = {
    'condition out of range': (lambda run, tmp: ['--condition', '10'], ['--condition', '0..9']),
    'condition not a number': (lambda run, tmp: ['--condition', 'three'], ['three', '--condition']),
    'negative condition': (lambda run, tmp: ['--condition', '-1'], ['-1', '--condition']),
    'condition with a sign': (lambda run, tmp: ['--condition', '+7'], ['+7', '--condition']),
    'interpolate from a negative digit': (lambda run, tmp: ['--interpolate', '-1', '7'], ['-1']),
    'negative num': (lambda run, tmp: ['--num', '0'], ['--num']),
    'unknown extension': (lambda run, tmp: ['--output', tmp / 'x.jpg'], ['x.jpg', '.png']),
    'output under a file': (lambda run, tmp: ['--output', run / 'config.json' / 'x.png'], ['config.json']),
    'interpolate out of range': (lambda run, tmp: ['--interpolate', '1', '12'], ['12']),
    'vary noise without a digit': (lambda run, tmp: ['--vary-noise'], ['--condition']),
    'logdir is a file': (lambda run, tmp: ['--logdir', run / 'config.json'], ['config.json', 'is a file']),
    'no checkpoint': (lambda run, tmp: remove_checkpoints(run) and [], ['no checkpoint']),
    'incompatible checkpoint': (lambda run, tmp: edit_noise_len(run) and [], ['model.ckpt-4']),
    'corrupt checkpoint': (lambda run, tmp: corrupted(run) and [], ['corrupt']),
    'config holding a list': (lambda run, tmp: replace_config(run, [1, 2, 3]) and [], ['config.json', 'model']),
}


@pytest.mark.parametrize('case', sorted(BAD_GENERATE_INPUT))
def test_bad_generate_input_is_one_line_exit_2_and_changes_nothing(case, run_copy, tmp_path, capsys):
    make_argv, words = BAD_GENERATE_INPUT[case]
    extra = make_argv(run_copy, tmp_path)
    before = snapshot(run_copy)
    assert generate_in_process(['--logdir', run_copy] + extra) == 2
    assert_one_error_line(capsys.readouterr().err, *words)
    assert snapshot(run_copy) == before


@pytest.mark.parametrize('name', ['digits.png', 'digits.npz', 'progress.gif'])
def test_generate_run_again_replaces_its_own_output(name, run_copy, tmp_path):
    output = tmp_path / name
    picture = ['--gif'] if name.endswith('.gif') else ['--condition', '3']
    assert generate_in_process(['--logdir', run_copy] + picture + ['--output', output]) == 0
    first = output.stat().st_ino
    assert generate_in_process(['--logdir', run_copy] + picture + ['--output', output, '--seed', '1']) == 0
    assert output.stat().st_ino != first   # a new file took its place


def test_bad_generate_input_as_a_real_process(trained, home, tmp_path):
    result = run_script('generate.py', ['--logdir', tmp_path / 'nothing-here', '--condition', '3'], home, tmp_path)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, 'nothing-here', 'python main.py')


def resolved(*flags):
    """The settings main.py resolves for a new run from these flags."""
    import main
    import settings
    return settings.resolve(main.given_settings(main.build_parser().parse_args(list(flags))))[0]


def test_adams_first_moment_decay_is_a_flag_that_reaches_both_optimizers(tmp_path):
    """--beta1 0: Adam without momentum for both networks (each optimizer's running power of beta1 is 0)."""
    import tensorflow as tf
    import settings
    from model import GANModel
    v1 = tf.compat.v1
    logdir = tmp_path / 'run'
    assert main_in_process(TINY_MODEL + ['--beta1', '0', '--steps', '1', '--eval-every', '0', '--logdir', logdir]) == 0
    config = json.loads((logdir / 'config.json').read_text())
    assert config['model']['beta1'] == 0.0
    graph = tf.Graph()
    with graph.as_default():
        model = GANModel(settings.from_config(config).model)
        powers = [v for v in v1.global_variables() if re.search(r'beta1_power(_\d+)?$', v.op.name)]
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            assert len(powers) == 2 and session.run(powers) == [0.0, 0.0]
    assert model.settings.beta1 == 0.0


def test_a_default_is_written_once_and_reaches_main_the_config_and_the_model(tmp_path, monkeypatch, capsys):
    """settings.py holds each default once: changed there, it changes what main.py trains, what config.json
    stores and what the model builds; and a stored run rebuilds the same model when the default changes back."""
    import dataclasses
    import runs
    import settings
    field = {f.name: f for f in dataclasses.fields(settings.ModelSettings)}['condition_units']
    monkeypatch.setattr(field, 'default', 12)
    monkeypatch.setitem(settings.PART_DEFAULTS['loss'], 'gan', dict(settings.PART_DEFAULTS['loss']['gan'],
                                                                    learning_rate=1e-3))
    logdir = tmp_path / 'run'
    argv = ['--dataset', 'mnist_sample', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--steps', '1',
            '--eval-every', '0', '--logdir', logdir]
    assert main_in_process(argv) == 0
    model = json.loads((logdir / 'config.json').read_text())['model']
    # The discriminator's rate is a multiple of the generator's: it follows.
    assert (model['condition_units'], model['learning_rate'], model['d_learning_rate']) == (12, 1e-3, 2e-3)
    monkeypatch.undo()
    assert resolved().model.condition_units == 32
    with runs.load_generator(str(logdir)) as generator:
        assert generator.settings.model.condition_units == 12
        embedding = [v for v in generator._model.generator_variables if v.op.name == 'generator/condition/w']
        assert embedding[0].shape.as_list() == [10, 12]
    assert main_in_process(['--logdir', logdir, '--steps', '2']) == 0


def test_the_default_gan_keeps_its_rates_constant_and_the_members_tuned_with_a_decay_keep_it():
    assert resolved().lr_decay == 0.0
    for flags in (['--arch', 'mlp'], ['--conditioning', 'concat'], ['--conditioning', 'none'], ['--loss', 'wgan'],
                  ['--loss', 'wgan-gp'], ['--model', 'lapgan']):
        assert resolved(*flags).lr_decay == 0.5, flags
    assert resolved('--arch', 'mlp', '--lr-decay', '0').lr_decay == 0.0
    assert resolved('--lr-decay', '0.25').lr_decay == 0.25


def test_slower_variants_default_to_fewer_steps_so_each_default_run_takes_minutes_not_hours():
    import settings
    parts = settings.PART_DEFAULTS
    assert resolved().steps == 7000
    assert resolved('--loss', 'wgan').steps == parts['loss']['wgan']['steps'] < 7000   # five critic steps per step
    assert resolved('--loss', 'wgan-gp').steps == parts['loss']['wgan-gp']['steps'] < 7000   # and penalties
    assert resolved('--model', 'lapgan').steps == 2500    # three GANs per step
    # Parts that learn slowly ask for more steps than their loss rule's.
    assert resolved('--arch', 'mlp').steps == 10000
    assert resolved('--conditioning', 'concat').steps == 10000
    assert resolved('--loss', 'wgan', '--steps', '7').steps == 7
    assert resolved('--model', 'lapgan', '--epochs', '2').steps is None


def test_the_flags_offer_exactly_the_parts_of_the_family():
    import losses
    import main
    import networks
    import runs
    import settings
    assert settings.CHOICES['model_type'] == tuple(runs.MODEL_TYPES)
    assert settings.CHOICES['conditioning'] == tuple(networks.CONDITIONINGS)
    assert settings.CHOICES['arch'] == tuple(networks.ARCHITECTURES)
    assert settings.CHOICES['loss'] == tuple(losses.RULES)
    offered = {action.dest: tuple(action.choices) for action in main.build_parser()._actions if action.choices}
    for field in ('model_type', 'conditioning', 'arch', 'loss'):
        assert offered[field] == settings.FLAG_CHOICES[field]
    # --conditioning none is the clustered GAN unless --clusters 0: one spelling for each graph.
    assert set(settings.CHOICES['conditioning']) - set(offered['conditioning']) == {'clusters'}


@pytest.mark.parametrize('flags', [[], ['--loss', 'wgan'], ['--loss', 'wgan-gp'], ['--arch', 'mlp'],
                                   ['--model', 'lapgan'], ['--conditioning', 'none']])
def test_a_new_run_stores_the_values_its_variant_trains_with(flags):
    """config.json holds the variant's own defaults, not None: a later change of a default leaves it alone."""
    import settings
    run = resolved(*flags)
    model = run.model
    parts = {kind: getattr(model, kind) for kind in settings.PART_ORDER}
    for name, value in settings.part_defaults(parts).items():
        if isinstance(value, settings.TimesGeneratorRate):
            value = value.times * model.learning_rate
        if name not in settings.unread_fields(model):
            assert getattr(model if name in settings.MODEL_FIELDS else run, name) == value, name
    assert model.learning_rate is not None and model.d_learning_rate is not None
    assert model.diversity_weight is not None
    config = settings.to_config(run)
    assert config['version'] == settings.CONFIG_VERSION
    # Resumed, it rebuilds the same model: no setting is left for the legacy values of older runs to fill.
    assert settings.from_config(json.loads(json.dumps(config))) == run


def test_runs_stored_before_a_setting_existed_rebuild_the_networks_they_were_trained_with():
    import legacy
    old_mlp = {'model': {'arch': 'mlp', 'projection': True, 'diversity_weight': 0.3}, 'model_type': 'gan'}
    assert legacy.upgrade(old_mlp)['model']['projection'] is False   # 0.1.0's MLP had no projection term
    assert legacy.upgrade(dict(old_mlp, version=2))['model']['projection'] is True
    old_lapgan = {'model': {'diversity_weight': 0.3}, 'model_type': 'lapgan'}
    assert legacy.upgrade(old_lapgan)['model']['level_convs'] == 1     # one convolution per level
    # blocky upsampling, residuals judged
    assert legacy.upgrade(old_lapgan)['model']['level_design'] == legacy.LEVEL_DESIGNS[1]
    assert legacy.LEVEL_DESIGNS[1]['upsampling'] == 'nearest' and legacy.LEVEL_DESIGNS[1]['judge'] == 'residual'
    # No discriminator rate stored: the discriminator learnt at the generator's rate.
    stored = legacy.upgrade({'model': {'learning_rate': 1e-4, 'd_learning_rate': None}})
    assert stored['model']['d_learning_rate'] == 1e-4
    assert legacy.upgrade({'model': {}, 'model_type': 'gan'})['model']['level_convs'] is None
    # Version 2 said 'none' for the graph conditioned on clusters.
    assert legacy.upgrade({'model': {'conditioning': 'none', 'clusters': 50}, 'version': 2})['model'][
        'conditioning'] == 'clusters'


def test_a_run_stored_before_the_mode_seeking_term_resumes_without_it():
    import settings
    with open(os.path.join(LEGACY_RUNS, 'gan', 'config.json')) as stream:
        stored = json.load(stream)
    del stored['model']['diversity_weight']
    assert settings.resolve({}, stored)[0].model.diversity_weight == 0.0
    assert resolved().model.diversity_weight == 0.3


# ------------------------------------------------------------------------------------ a logdir in use, full disks,
# interruptions and damaged files: never a traceback, nothing saved lost

def test_a_second_trainer_into_a_logdir_in_use_stops_at_once_with_one_line(tmp_path, home, capsys):
    logdir = tmp_path / 'busy'
    first = start_script('main.py', TINY_RUN + ['--logdir', logdir, '--steps', '100000'], home, tmp_path)
    try:
        read_until_step(first, 3)
        config = (logdir / 'config.json').read_text()
        # The same command again would resume the run and train it alongside the first.
        assert main_in_process(TINY_RUN + ['--logdir', logdir, '--steps', '30']) == 2
        line = assert_one_error_line(capsys.readouterr().err, str(logdir), 'in use', str(first.pid),
                                     '--logdir')
        assert line.startswith('main.py: error: ')
        assert (logdir / 'config.json').read_text() == config
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 130
    # The lock is freed when its trainer ends: the run resumes.
    assert not os.path.exists(str(logdir / 'training.lock'))
    steps = checkpoint_steps(logdir)[-1]
    assert main_in_process(['--logdir', logdir, '--steps', steps + 1]) == 0
    assert not os.path.exists(str(logdir / 'training.lock'))


def test_a_lock_file_whose_process_is_gone_is_taken_over(run_copy, capsys):
    gone = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    (run_copy / 'training.lock').write_text(gone.stdout)
    assert main_in_process(['--logdir', run_copy, '--steps', '5']) == 0
    assert checkpoint_steps(run_copy)[-1] == 5 and not os.path.exists(str(run_copy / 'training.lock'))


def full_disk(monkeypatch, writer_fails_too=True):
    """From now on the saver fails as on a full disk, leaving part of a data file, and so may the event writer."""
    import tensorflow as tf

    def save(self, sess, save_path, global_step=None, **kwargs):
        partial = '%s-%d.data-00000-of-00001.tempstate8613' % (save_path, global_step)
        with open(partial, 'wb') as stream:
            stream.write(b'\0' * 1000)
        raise tf.errors.ResourceExhaustedError(None, None, '%s; No space left on device' % partial)

    real_close = tf.compat.v1.summary.FileWriter.close

    def close(self):
        real_close(self)
        raise RuntimeError('events file: No space left on device')

    monkeypatch.setattr(tf.compat.v1.train.Saver, 'save', save)
    if writer_fails_too:
        monkeypatch.setattr(tf.compat.v1.summary.FileWriter, 'close', close)


def test_a_full_disk_is_one_line_and_the_previous_checkpoint_stays_usable(run_copy, monkeypatch, capsys):
    import runs
    before, files_before = snapshot(run_copy), every_file(run_copy)
    full_disk(monkeypatch)
    assert main_in_process(['--logdir', run_copy, '--steps', '8', '--save-every', '2']) == 1
    line = assert_one_error_line(errors_besides_the_data_source(capsys.readouterr().err),
                                 'no space left on the device holding %s' % run_copy, 'model.ckpt-4')
    assert 'Traceback' not in line
    # Nothing saved changed; the only new files are the session's events; no partial or orphan file is left.
    after = snapshot(run_copy)
    assert {name: after[name] for name in before} == before
    assert all(name.startswith('events.out.tfevents.') for name in set(every_file(run_copy)) - set(files_before))
    monkeypatch.undo()
    generator = runs.load_generator(str(run_copy))
    try:
        assert generator.checkpoint_path.endswith('model.ckpt-4')
    finally:
        generator.close()


def test_a_new_run_stopped_by_a_full_disk_before_its_first_checkpoint_leaves_nothing(tmp_path, monkeypatch, capsys):
    logdir = tmp_path / 'new'
    full_disk(monkeypatch, writer_fails_too=False)
    assert main_in_process(TINY_MODEL + ['--logdir', logdir, '--steps', '4', '--save-every', '2']) == 1
    assert_one_error_line(errors_besides_the_data_source(capsys.readouterr().err),
                          'no space left on the device holding %s' % logdir, 'free some space')
    assert not os.path.exists(str(logdir))


def test_a_new_run_that_diverges_before_its_first_checkpoint_leaves_nothing_behind(tmp_path, capsys):
    logdir = tmp_path / 'diverged'
    logdir.mkdir()
    (logdir / 'notes.txt').write_text('mine')
    argv = TINY_MODEL + ['--logdir', logdir, '--steps', '50', '--save-every', '100', '--sample-every', '1',
                         '--learning-rate', '1e10']
    assert main_in_process(argv) == 1
    line = assert_one_error_line(errors_besides_the_data_source(capsys.readouterr().err), 'non-finite',
                                 '--learning-rate')
    assert 'Traceback' not in line
    assert every_file(logdir) == ['notes.txt']
    # The fix the line advises works in the same logdir.
    assert main_in_process(TINY_MODEL + ['--logdir', logdir, '--steps', '1', '--learning-rate', '1e-4']) == 0
    assert json.loads((logdir / 'config.json').read_text())['model']['learning_rate'] == 1e-4


def test_the_next_run_removes_what_an_interrupted_save_left_and_says_so(run_copy, capsys):
    leftovers = ['model.ckpt-6.data-00000-of-00001.tempstate10417700975738257532',
                 'model.ckpt-6.index.tempstate5114', 'model.ckpt-6.meta.tmp4f2a9c', 'checkpoint.tmp77ab',
                 '.model.ckpt-6.dataset.json.tmp', 'model.ckpt-6.dataset.json', 'model.ckpt-6.data-00000-of-00001',
                 '.config.json.tmp', os.path.join('samples', '.step_0000006.png.tmp')]
    for name in leftovers:
        (run_copy / name).write_bytes(b'\0' * 100)
    assert main_in_process(['--logdir', run_copy, '--steps', '5']) == 0
    out = capsys.readouterr().out
    assert 'removed %d temporary files' % len(leftovers) in out
    assert not set(leftovers) & set(every_file(run_copy))
    assert checkpoint_steps(run_copy) == [2, 4, 5]


def test_a_further_sigint_or_sigterm_cannot_cut_the_last_save_short():
    import main
    received = []
    previous = {signum: signal.signal(signum, lambda number, frame: received.append(number))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    mine = {signum: signal.getsignal(signum) for signum in previous}

    class Checkpoint(object):
        last_path = None

        def save(self, data, step):
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            return 'logdir/model.ckpt-%d' % step

    class Session(object):
        def run(self, fetch):
            return 7

    try:
        assert main.save_now(Session(), argparse.Namespace(global_step=None), None, Checkpoint()) == \
            'logdir/model.ckpt-7'
        assert received == []
        assert {signum: signal.getsignal(signum) for signum in previous} == mine
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# The last: the right count of images (the 4,000 trained on), and nothing else of the data order.
@pytest.mark.parametrize('damage', ['{"num_examples": 50', '[]', '{"num_examples": 4000}'])
def test_a_damaged_data_order_is_treated_like_a_missing_one(damage, run_copy, capsys):
    (run_copy / 'model.ckpt-4.dataset.json').write_text(damage)
    assert main_in_process(['--logdir', run_copy, '--steps', '5']) == 0
    out = capsys.readouterr().out
    assert 'model.ckpt-4.dataset.json' in out and 'corrupt' in out and 'reshuffled' in out
    assert checkpoint_steps(run_copy)[-1] == 5


def tiny_data_file(path, invert=False):
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    np.savez(str(path), x_train=255 - images if invert else images, y_train=np.arange(40) % 10)
    return path


def test_more_clusters_than_training_images_is_one_line_and_leaves_no_run(tmp_path, capsys):
    data = tiny_data_file(tmp_path / 'digits.npz')
    flags = ['--data', data, '--conditioning', 'none', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8',
             '--steps', '1']
    assert main_in_process(flags + ['--logdir', tmp_path / 'run']) == 2
    assert_one_error_line(errors_besides_the_data_source(capsys.readouterr().err), '--clusters 50', '40 images',
                          '--clusters 40')
    assert not os.path.exists(str(tmp_path / 'run'))
    assert main_in_process(flags + ['--logdir', tmp_path / 'run', '--clusters', '8']) == 0


def test_evaluation_that_cannot_run_is_checked_before_the_first_step(tmp_path, capsys):
    # 4 digits of each class and no test split: too few to hold any out for the measuring stick.
    data = tiny_data_file(tmp_path / 'digits.npz')
    flags = ['--data', data, '--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--steps', '4']
    assert main_in_process(flags + ['--eval-every', '2', '--logdir', tmp_path / 'asked']) == 2
    assert_one_error_line(errors_besides_the_data_source(capsys.readouterr().err), '--eval-every 2',
                          '--eval-every 0')
    assert not (tmp_path / 'asked').exists()
    # By default the run trains without quality points, and says why.
    logdir = tmp_path / 'default'
    assert main_in_process(flags + ['--logdir', logdir]) == 0
    assert 'no quality points' in capsys.readouterr().out
    assert checkpoint_steps(logdir) == [4] and not (logdir / 'quality.jsonl').exists()


def test_a_moved_data_file_is_accepted_at_its_new_path_and_other_data_is_not(tmp_path, capsys):
    original = tiny_data_file(tmp_path / 'digits.npz')
    logdir = tmp_path / 'run'
    model = ['--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--condition-units', '8']
    assert main_in_process(model + ['--data', original, '--logdir', logdir, '--steps', '2']) == 0
    moved = tmp_path / 'elsewhere' / 'digits.npz'
    moved.parent.mkdir()
    os.rename(str(original), str(moved))
    capsys.readouterr()
    before = snapshot(logdir)
    # Where the data went missing, the line says how to point the run at it.
    assert main_in_process(['--logdir', logdir, '--steps', '3']) == 2
    assert_one_error_line(errors_besides_the_data_source(capsys.readouterr().err), str(original), '--data NEWPATH')
    assert main_in_process(['--logdir', logdir, '--steps', '3', '--data', tiny_data_file(tmp_path / 'other.npz',
                                                                                         invert=True)]) == 2
    assert_one_error_line(errors_besides_the_data_source(capsys.readouterr().err), 'other.npz', 'other data')
    assert snapshot(logdir) == before
    assert main_in_process(['--logdir', logdir, '--steps', '3', '--data', moved]) == 0
    assert str(moved) in capsys.readouterr().out
    assert checkpoint_steps(logdir)[-1] == 3
    assert json.loads((logdir / 'config.json').read_text())['data'] == str(moved)
    assert main_in_process(['--logdir', logdir, '--steps', '4']) == 0   # the new path is the run's own now


@pytest.mark.parametrize('field, value, in_model', [('seed', 'x', True), ('lr_decay', 'x', False),
                                                    ('condition_vectors', 5, False)])
def test_every_hand_edited_setting_of_the_wrong_kind_is_one_line_naming_it(field, value, in_model, run_copy, capsys):
    config = json.loads((run_copy / 'config.json').read_text())
    (config['model'] if in_model else config)[field] = value
    (run_copy / 'config.json').write_text(json.dumps(config))
    before = snapshot(run_copy)
    assert main_in_process(['--logdir', run_copy, '--steps', '6']) == 2
    assert_one_error_line(capsys.readouterr().err, 'config.json', field)
    assert generate_in_process(['--logdir', run_copy, '--num', '1']) == 2
    assert_one_error_line(capsys.readouterr().err, 'config.json', field)
    assert snapshot(run_copy) == before


def test_a_hand_edited_config_of_the_wrong_kind_is_one_line(run_copy, capsys):
    config = json.loads((run_copy / 'config.json').read_text())
    (run_copy / 'config.json').write_text(json.dumps(dict(config, batch_size='big')))
    before = snapshot(run_copy)
    assert main_in_process(['--logdir', run_copy, '--steps', '6']) == 2
    assert_one_error_line(capsys.readouterr().err, 'config.json', 'batch_size', 'big')
    assert snapshot(run_copy) == before


# ------------------------------------------------------------------------------------ files the user owns, and
# what a run remembers

USER_FILES = ['.draft.tmp', os.path.join('samples', '.x.tmp'), 'checkpoint.tmp.txt', 'notes.txt']
# Named as a checkpoint's file: a new run refuses a folder that holds one (its own checkpoint of step 7 would
# replace it, and pruned, remove it), so this one joins the folder once it is a run.
USER_FILE_NAMED_AS_A_CHECKPOINTS = 'model.ckpt-7.meta'


def test_a_new_run_in_a_folder_of_the_users_removes_none_of_their_files(tmp_path, capsys):
    logdir = tmp_path / 'mine'
    (logdir / 'samples').mkdir(parents=True)
    for name in USER_FILES:
        (logdir / name).write_text('the user\'s ' + name)
    assert main_in_process(TINY_MODEL + ['--logdir', logdir, '--steps', '2', '--eval-every', '0']) == 0
    assert 'removed' not in capsys.readouterr().out
    for name in USER_FILES:
        assert (logdir / name).read_text() == 'the user\'s ' + name
    # Resumed (now a run of its own), its saves' leftovers go, by their exact names, and the user's stay.
    (logdir / '.config.json.tmp').write_text('cut short')
    (logdir / USER_FILE_NAMED_AS_A_CHECKPOINTS).write_text('the user\'s ' + USER_FILE_NAMED_AS_A_CHECKPOINTS)
    assert main_in_process(['--logdir', logdir, '--steps', '3']) == 0
    assert 'removed 1 temporary file' in capsys.readouterr().out
    assert not (logdir / '.config.json.tmp').exists()
    for name in USER_FILES + [USER_FILE_NAMED_AS_A_CHECKPOINTS]:
        assert (logdir / name).read_text() == 'the user\'s ' + name


def test_a_resumed_run_keeps_its_stored_cadence(tmp_path, capsys):
    logdir = tmp_path / 'run'
    argv = TINY_MODEL + ['--steps', '4', '--save-every', '2', '--sample-every', '2', '--log-every', '2',
                         '--eval-every', '0', '--logdir', logdir]
    assert main_in_process(argv) == 0
    capsys.readouterr()
    assert main_in_process(['--logdir', logdir, '--steps', '8']) == 0
    out = capsys.readouterr().out
    assert checkpoint_steps(logdir) == [4, 6, 8]
    assert sorted(os.listdir(str(logdir / 'samples'))) == ['step_%07d.png' % step for step in (2, 4, 6, 8)]
    assert sorted(log_lines(out)) == [6, 8]
    assert not os.path.exists(str(logdir / 'quality.jsonl'))   # evaluation stayed off
    # A flag overrides it for the session, saying so.
    assert main_in_process(['--logdir', logdir, '--steps', '9', '--save-every', '1']) == 0
    assert '--save-every 1' in capsys.readouterr().out and checkpoint_steps(logdir)[-1] == 9


def test_sigterm_while_a_new_run_starts_leaves_nothing(tmp_path, monkeypatch, capsys):
    import callbacks
    real = callbacks.for_run

    def stopped_while_starting(*args, **kwargs):
        made = real(*args, **kwargs)   # config.json and an events file are written by now
        os.kill(os.getpid(), signal.SIGTERM)
        return made
    monkeypatch.setattr(callbacks, 'for_run', stopped_while_starting)
    logdir = tmp_path / 'new'
    assert main_in_process(TINY_MODEL + ['--logdir', logdir, '--steps', '4', '--eval-every', '0']) == 128 + 15
    assert_one_error_line(errors_besides_the_data_source(capsys.readouterr().err), 'interrupted', 'nothing')
    assert not logdir.exists()
    # The same command with other flags starts it afresh.
    monkeypatch.undo()
    assert main_in_process(TINY_MODEL + ['--logdir', logdir, '--steps', '1', '--loss', 'wgan']) == 0


def test_ctrl_c_while_tensorflow_loads_is_one_line(tmp_path, monkeypatch, capsys):
    import cli

    def interrupted():
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, 'import_tensorflow_quietly', interrupted)
    assert main_in_process(TINY_MODEL + ['--logdir', tmp_path / 'run', '--steps', '1']) == 130
    assert_one_error_line(capsys.readouterr().err, 'interrupted')
    assert not (tmp_path / 'run').exists()


def test_a_checkpoint_of_another_loss_is_refused_in_one_line(run_copy, tmp_path, capsys):
    import runs
    config = json.loads((run_copy / 'config.json').read_text())
    config['model'].update(loss='wgan-gp')
    (run_copy / 'config.json').write_text(json.dumps(config))
    before = snapshot(run_copy)
    assert main_in_process(['--logdir', run_copy, '--steps', '6']) == 2
    assert_one_error_line(capsys.readouterr().err, 'model.ckpt-4', '--loss "gan"', '--loss "wgan-gp"')
    assert snapshot(run_copy) == before
    with pytest.raises(runs.RunError, match='trained with --loss'):
        runs.load_generator(str(run_copy))


def test_a_renamed_checkpoint_is_refused_in_one_line(run_copy, capsys):
    for path in glob.glob(str(run_copy / 'model.ckpt-2.*')):
        os.remove(path)
    for path in glob.glob(str(run_copy / 'model.ckpt-4.*')):
        os.rename(path, path.replace('model.ckpt-4.', 'model.ckpt-999.'))
    assert main_in_process(['--logdir', run_copy, '--steps', '1000']) == 2
    assert_one_error_line(capsys.readouterr().err, 'model.ckpt-999', 'holds step 4', 'model.ckpt-4')


# ------------------------------------------------------------------------------------ generate.py at any size

@pytest.mark.parametrize('extension', ['.npy', '.npz', '.png'])
def test_generate_draws_in_chunks_and_streams_them_into_the_output(extension, trained, tmp_path, monkeypatch,
                                                                   capsys):
    import tracemalloc
    import generate
    import grids
    import runs
    monkeypatch.setattr(generate, 'CHUNK', 100, raising=False)
    count = 2000
    output = tmp_path / ('threes' + extension)
    args = generate.build_parser().parse_args(['--logdir', str(trained.logdir), '--condition', '3', '--num',
                                               str(count), '--output', str(output)])
    generator = runs.load_generator(str(trained.logdir))
    try:
        expected = generator.sample(np.full(count, 3), seed=0)   # all at once
        asked = []
        sample = generator.sample
        monkeypatch.setattr(generator, 'sample', lambda labels, **kwargs: asked.append(len(labels)) or sample(
            labels, **kwargs))
        tracemalloc.start()
        try:
            assert generate.draw(args, generator) == 0
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        generator.close()
    assert max(asked) <= 100 and sum(asked) == count
    # Memory holds a chunk, not the output: the images alone would take count * 3,136 bytes.
    assert peak < count * 28 * 28 * 4 / 4, peak
    unit = as_unit(expected)
    if extension == '.npy':
        np.testing.assert_allclose(np.load(str(output)), unit, atol=1e-6)
    elif extension == '.npz':
        with np.load(str(output)) as archive:
            np.testing.assert_allclose(archive['images'], unit, atol=1e-6)
            assert archive['labels'].tolist() == [3] * count
    else:
        np.testing.assert_array_equal(np.asarray(Image.open(str(output))), grids.make_grid(expected, 10))


def test_generate_refuses_an_output_that_would_not_fit_on_the_disk(trained, tmp_path, monkeypatch, capsys):
    usage = shutil.disk_usage(str(tmp_path))
    monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage._replace(free=10 ** 6))
    for num in (1000, 100000000):   # 3 MB; 3.1 TB, which would not even fit in memory at once
        output = tmp_path / 'many.npz'
        assert generate_in_process(['--logdir', trained.logdir, '--condition', 'all', '--num', num,
                                    '--output', output]) == 2
        line = assert_one_error_line(capsys.readouterr().err, str(output), 'free', '--num')
        assert 'GB' in line if num > 1000 else 'MB' in line
        assert os.listdir(str(tmp_path)) == []


def test_generate_refuses_a_png_too_large_for_image_programs(trained, tmp_path, capsys):
    output = tmp_path / 'wide.png'
    assert generate_in_process(['--logdir', trained.logdir, '--condition', 'all', '--num', '10000',
                                '--output', output]) == 2
    assert_one_error_line(capsys.readouterr().err, str(output), 'pixels', '.npy')
    assert not os.path.exists(str(output))


def test_generate_takes_extensions_in_upper_case(trained, tmp_path, capsys):
    output = tmp_path / 'THREES.PNG'
    assert generate_in_process(['--logdir', trained.logdir, '--condition', '3', '--num', '2', '--output', output]) == 0
    assert Image.open(str(output)).format == 'PNG'
    assert generate_in_process(['--logdir', trained.logdir, '--num', '1', '--output', tmp_path / 'ALL.NPZ']) == 0
    with np.load(str(tmp_path / 'ALL.NPZ')) as archive:
        assert archive['images'].shape == (10, 28, 28)

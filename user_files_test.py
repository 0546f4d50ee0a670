"""Every command line's error paths, as real processes, with a file the user owns in the way: in the logdir, in the
--classifier-dir, at or next to the output. Each run says one line `prog: error: ...`, exits 2 (input to change),
and leaves every file of the user's as it was, byte for byte, and no new one."""
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from conftest import NO_R1, snapshot

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = ['--dataset', 'mnist_sample', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--condition-units', '8',
        '--seed', '0', '--steps', '2', '--save-every', '2', '--sample-every', '2', '--eval-every', '0'] + NO_R1
NOTES = b'what I tried, and why\n'


def environment(home):
    env = {key: value for key, value in os.environ.items()
           if key not in ('XDG_CACHE_HOME', 'GAN_CLASSIFIER_CACHE', 'KERAS_HOME')}
    return dict(env, GAN_OFFLINE='1', HOME=str(home), TF_CPP_MIN_LOG_LEVEL='2', PYTHONUNBUFFERED='1')


def run_script(script, args, home, cwd):
    return subprocess.run([sys.executable, os.path.join(HERE, script)] + [str(a) for a in args],
                          env=environment(home), cwd=str(cwd), capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def trained(tmp_path_factory, home):
    """A real two-step run, copied into each test's workspace."""
    base = tmp_path_factory.mktemp('trained')
    result = run_script('main.py', TINY + ['--logdir', base / 'run'], home, base)
    assert result.returncode == 0, result.stderr
    return base / 'run'


@pytest.fixture
def workspace(trained, tmp_path):
    """The user's folder: a copy of their run with their notes in it, and their notes beside it."""
    space = tmp_path / 'work'
    shutil.copytree(str(trained), str(space / 'run'))
    (space / 'run' / 'notes.txt').write_bytes(NOTES)
    (space / 'notes.txt').write_bytes(NOTES)
    return space


def png_of_size(path, width, height):
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0))
                     + chunk(b'IDAT', zlib.compress(b'\0' * 1000)))


def mine(path, content=NOTES):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def a_users_classifier_dir(space):
    folder = space / 'my-classifier'
    mine(folder / 'notes.txt')
    mine(folder / 'classifier.json', b'{"mine": true}')
    return folder


def garbage_quality_record(space):
    mine(space / 'run' / 'quality.jsonl', b'{"step": 250, "training_seconds": 60, "accuracy": 0.9}\n{"step": 5\n')


def earlier_output_at(space, name):
    """A picture this project wrote at the output (so that the output may be replaced, and a later error is what
    stops the command), and a file of the user's named as a temporary file of it would be."""
    import grids
    from PIL import Image
    path = space / name
    if name.endswith('.gif'):
        grids.save_gif([Image.new('L', (4, 4))], str(path))
    else:
        grids.save_png(str(path), np.zeros((4, 4), np.uint8))
    mine(space / ('.%s.tmp' % name))
    return path


def users_files_beside(space, name):
    """A file of the user's at the output and one named as a temporary file of it would be."""
    mine(space / name)
    mine(space / ('.%s.tmp' % name))
    return space / name


# case: (script, set-up of the workspace -> the arguments, words of the error line)
CASES = {
    'main.py: a negative learning rate with an exponent': (
        'main.py', lambda s: ['--logdir', s / 'run', '--learning-rate', '-1e-4'], ['--learning-rate', 'positive']),
    'main.py: a logdir that is the user\'s file': (
        'main.py', lambda s: TINY + ['--logdir', s / 'notes.txt'], ['notes.txt']),
    'generate.py: a digit out of range': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--condition', '12'], ['--condition']),
    'generate.py: bad input with the user\'s file at the output': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--interpolate', '1', '12', '--output',
                                  users_files_beside(s, 'mine.png')], ['12']),
    'generate.py: an output under the user\'s file': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--output', s / 'notes.txt' / 'x.png'], ['notes.txt']),
    'generate.py: an output that is the user\'s folder': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--output', mine(s / 'pictures.png' / 'a.txt').parent],
        ['pictures.png', 'directory']),
    'generate.py: --num with --arithmetic': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--arithmetic', '--num', '3', '--output',
                                  users_files_beside(s, 'sum.png')], ['--num', '--arithmetic']),
    'generate.py: a GIF frame too large, an earlier GIF at the output': (
        'generate.py', lambda s: png_of_size(s / 'run' / 'samples' / 'step_9999999.png', 15000, 15000) or [
            '--logdir', s / 'run', '--gif', '--output', earlier_output_at(s, 'progress.gif')],
        ['step_9999999.png']),
    'generate.py: the user\'s picture at the output': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--condition', '3', '--output', mine(s / 'mine.png')],
        ['mine.png', 'not replaced']),
    'generate.py: the user\'s arrays at the output': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--output', mine(s / 'mine.npy')], ['mine.npy', '.npy']),
    'generate.py: the user\'s archive at the output': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--output', mine(s / 'mine.npz')],
        ['mine.npz', 'not replaced']),
    'generate.py: the user\'s GIF at the --gif output': (
        'generate.py', lambda s: ['--logdir', s / 'run', '--gif', '--output', mine(s / 'mine.gif')],
        ['mine.gif', 'not replaced']),
    'evaluate.py: the user\'s picture at the sheet': (
        'evaluate.py', lambda s: ['--compare', s / 'run', '--sheet', mine(s / 'sheet.png')],
        ['--sheet', 'sheet.png', 'not replaced']),
    'evaluate.py: the user\'s picture at the curves\' output': (
        'evaluate.py', lambda s: ['--curves', s / 'run', '--output', mine(s / 'curves.png')],
        ['--output', 'curves.png', 'not replaced']),
    'evaluate.py: a classifier dir of the user\'s': (
        'evaluate.py', lambda s: ['--logdir', s / 'run', '--num-per-class', '5', '--classifier-dir',
                                  a_users_classifier_dir(s)], ['my-classifier', '--classifier-dir']),
    'evaluate.py: the working directory as classifier dir': (
        'evaluate.py', lambda s: ['--logdir', 'run', '--num-per-class', '5', '--classifier-dir', '.'],
        ['--classifier-dir']),
    'evaluate.py: a missing run, an earlier sheet at the sheet': (
        'evaluate.py', lambda s: ['--compare', s / 'run', s / 'missing', '--sheet',
                                  earlier_output_at(s, 'sheet.png')],
        ['missing']),
    'evaluate.py: a sheet under the user\'s file': (
        'evaluate.py', lambda s: ['--compare', s / 'run', '--sheet', s / 'notes.txt' / 'sheet.png'], ['--sheet']),
    'evaluate.py: a garbage quality record, earlier curves at the output': (
        'evaluate.py', lambda s: garbage_quality_record(s) or ['--curves', s / 'run', '--output',
                                                               earlier_output_at(s, 'curves.png')],
        ['quality.jsonl', 'line 2']),
    'evaluate.py: too many digits per class': (
        'evaluate.py', lambda s: ['--logdir', s / 'run', '--num-per-class', '1000000000'], ['--num-per-class']),
    'evaluate.py: the run\'s data moved, pointed at other data': (
        'evaluate.py', lambda s: ['--logdir', s / 'run', '--data', s / 'notes.txt'], ['--data']),
    'benchmark.py: a garbage quality record': (
        'benchmark.py', lambda s: garbage_quality_record(s) or ['--logdir', s / 'run'], ['quality.jsonl', 'line 2']),
    'benchmark.py: a peak size beyond its limit': (
        'benchmark.py', lambda s: ['--peak-size', '40000', '--logdir', s / 'run'], ['--peak-size']),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_an_error_path_leaves_every_file_of_the_user_as_it_was(case, workspace, home):
    script, make_args, words = CASES[case]
    args = make_args(workspace)
    before = snapshot(workspace)
    result = run_script(script, args, home, workspace)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith('dataset:')]
    assert 'Traceback' not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith('%s: error: ' % script), result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert result.returncode == 2, result.stderr
    assert snapshot(workspace) == before


def test_the_cases_cover_every_command_line():
    assert {script for script, _, _ in CASES.values()} == {'main.py', 'generate.py', 'evaluate.py', 'benchmark.py'}

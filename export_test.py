"""generate.py --export: a SavedModel of the generator that plain TensorFlow loads, with no code of the project, and
that draws exactly what the run's generator draws; and the user's files around it left as they were."""
import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import generate
import runs
from conftest import NO_R1, offline_environment, snapshot

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = ['--dataset', 'mnist_sample', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--seed', '0',
        '--steps', '2', '--save-every', '2', '--sample-every', '2', '--eval-every', '0'] + NO_R1
# The kinds of generator an export holds: labels in or not, one network or a pyramid, clusters or none, averaged
# weights with their recomputed statistics (every --loss gan run keeps an average) or trained weights (lapgan).
KINDS = {'gan': [], 'lapgan': ['--model', 'lapgan'], 'clusters': ['--conditioning', 'none'],
         'original': ['--conditioning', 'none', '--clusters', '0']}
NOTES = b'what I tried, and why\n'

# Run in a fresh process: loads the export with TensorFlow alone, draws for the given noise and labels, and writes
# what it found. The project's folder and its editable install are taken off the import path first.
LOADER = r'''
import importlib.util
import json
import os
import sys

project, directory, given, found = sys.argv[1:5]
modules = json.loads(sys.argv[5])
sys.meta_path[:] = [finder for finder in sys.meta_path if not finder.__module__.startswith('__editable__')]
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or '.') != project]
reachable = [name for name in modules if importlib.util.find_spec(name) is not None]
assert not reachable, 'project modules importable: %s' % reachable

import numpy as np
import tensorflow as tf

assert tf.executing_eagerly()
exported = tf.saved_model.load(directory)
serve = exported.signatures['serving_default']
inputs = sorted(serve.structured_input_signature[1])
arrays = np.load(given)
feed = {'noise': tf.constant(arrays['noise'])}
if 'label' in inputs:
    feed['label'] = tf.constant(arrays['labels'])
images = serve(**feed)['images'].numpy()
metadata = exported.signatures['metadata']()
loaded = sorted(set(sys.modules) & set(modules))
assert not loaded, 'project modules imported: %s' % loaded
np.save(found + '.npy', images)
with open(found + '.json', 'w') as stream:
    json.dump({'inputs': inputs, 'outputs': sorted(serve.structured_outputs),
               'class_names': [name.decode() for name in metadata['class_names'].numpy()],
               'noise_len': int(metadata['noise_len'].numpy()), 'noise_len_dtype': metadata['noise_len'].dtype.name,
               'variables': sorted(variable.name for variable in serve.variables)}, stream)
'''


pytestmark = pytest.mark.usefixtures('offline')


@pytest.fixture(scope='module')
def trained(tmp_path_factory, home):
    """trained(kind): the logdir of a two-step run of that kind, trained once for the module."""
    done = {}

    def train(kind):
        if kind not in done:
            import main
            logdir = str(tmp_path_factory.mktemp(kind) / 'run')
            with pytest.MonkeyPatch.context() as patch:
                for key, value in offline_environment(home).items():
                    patch.setenv(key, value)
                assert main.main(TINY + KINDS[kind] + ['--logdir', logdir]) == 0
            done[kind] = logdir
        return done[kind]
    return train


@pytest.fixture(scope='module')
def exported(trained, tmp_path_factory):
    """The export of the default run."""
    directory = tmp_path_factory.mktemp('exported') / 'generator'
    assert generate.main(['--logdir', trained('gan'), '--export', str(directory)]) == 0
    return directory


def error_lines(capsys):
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return [line for line in err.splitlines() if line.strip() and not line.startswith('dataset:')]


def project_modules():
    return sorted(name[:-3] for name in os.listdir(HERE) if name.endswith('.py'))


def fresh_environment():
    env = {key: value for key, value in os.environ.items() if key != 'PYTHONPATH'}
    return dict(env, TF_CPP_MIN_LOG_LEVEL='3')


def load_elsewhere(directory, noise, labels, workdir):
    """(images, what else the loader found) from the export loaded in a fresh process, in plain TensorFlow."""
    workdir.mkdir()
    given, found, script = workdir / 'given.npz', workdir / 'found', workdir / 'load_export.py'
    np.savez(str(given), noise=noise, labels=labels)
    script.write_text(LOADER)
    result = subprocess.run([sys.executable, str(script), HERE, str(directory), str(given), str(found),
                             json.dumps(project_modules())], cwd=str(workdir), env=fresh_environment(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    with open(str(found) + '.json') as stream:
        return np.load(str(found) + '.npy'), json.load(stream)


# ---------------------------------------------------------------- what the export draws

@pytest.mark.parametrize('kind', sorted(KINDS))
def test_the_export_loads_in_plain_tensorflow_and_draws_the_runs_images(kind, trained, tmp_path, capsys):
    logdir = trained(kind)
    directory = tmp_path / 'exported' / 'generator'
    assert generate.main(['--logdir', logdir, '--export', str(directory)]) == 0
    out = capsys.readouterr().out
    assert str(directory) in out and not error_lines(capsys)
    assert sorted(os.listdir(str(tmp_path / 'exported'))) == ['generator']   # nothing beside it

    labels = np.array([0, 3, 7, 9, 1, 5], np.int64)
    with runs.load_generator(logdir) as generator:
        noise = runs.draw_noise(len(labels), generator.noise_len, seed=3)
        expected = np.clip((generator.sample(labels, noise=noise) + 1.0) / 2.0, 0.0, 1.0)
        names, noise_len, conditioned = generate.class_names_of(generator), generator.noise_len, generator.conditioned
        assert generator.keeps_average == (kind != 'lapgan')   # both ways of drawing are exported
    images, found = load_elsewhere(directory, noise, labels, tmp_path / 'elsewhere')

    assert images.shape == (len(labels), 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images, expected, atol=1e-5)
    assert found['inputs'] == (['label', 'noise'] if conditioned else ['noise'])
    assert found['outputs'] == ['images']
    assert found['class_names'] == names == [str(i) for i in range(10)]
    assert (found['noise_len'], found['noise_len_dtype']) == (noise_len, 'int64')
    # The generator's weights and batch-norm statistics (and the clusters' shares) only.
    assert found['variables'] and all(name.startswith(('generator/', 'clusters/shares')) for name in found['variables'])
    with open(str(directory / 'assets' / 'class_names.txt')) as stream:
        assert stream.read().splitlines() == names


def test_the_export_holds_the_inference_path_alone(exported):
    """No discriminator, no training branch of batch norm, nothing that switches between them."""
    from tensorflow.core.protobuf import saved_model_pb2
    saved = saved_model_pb2.SavedModel()
    with open(str(exported / 'saved_model.pb'), 'rb') as stream:
        saved.ParseFromString(stream.read())
    graph = saved.meta_graphs[0].graph_def
    nodes = list(graph.node) + [node for function in graph.library.function for node in function.node_def]
    assert not [node.name for node in nodes if 'discriminator' in node.name]
    assert not [node.name for node in nodes if node.op in ('If', 'StatelessIf', 'PlaceholderWithDefault')]
    assert not [node.name for node in nodes if node.op == 'FusedBatchNormV3' and node.attr['is_training'].b]
    assert [node.name for node in nodes if node.op == 'FusedBatchNormV3']


def test_saved_model_cli_shows_the_serving_signature(exported):
    cli = os.path.join(os.path.dirname(sys.executable), 'saved_model_cli')
    result = subprocess.run([cli, 'show', '--dir', str(exported), '--all'], env=fresh_environment(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    serving = shown[shown.index("signature_def['serving_default']"):]
    serving = serving[:serving.index('Method name is')]
    for text in ("inputs['noise']", 'shape: (-1, 100)', "inputs['label']", 'dtype: DT_INT64', "outputs['images']",
                 'shape: (-1, 28, 28, 1)'):
        assert text in serving, shown
    metadata = shown[shown.index("signature_def['metadata']"):]
    metadata = metadata[:metadata.index('Method name is')]
    assert "outputs['class_names']" in metadata and "outputs['noise_len']" in metadata and 'inputs[' not in metadata


def test_an_empty_folder_takes_the_export(trained, tmp_path, capsys):
    directory = tmp_path / 'generator'
    directory.mkdir()
    assert generate.main(['--logdir', trained('gan'), '--export', str(directory)]) == 0
    assert 'saved_model.pb' in os.listdir(str(directory)) and os.listdir(str(tmp_path)) == ['generator']


# ---------------------------------------------------------------- bad input, and the user's files

def export_refused(argv, capsys, code=2):
    """The one error line of generate.py given argv, after checking its exit code."""
    assert generate.main(argv) == code
    lines = error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith('generate.py: error: '), lines
    return lines[0]


def test_a_missing_run_is_refused_in_one_line(tmp_path, capsys):
    line = export_refused(['--logdir', str(tmp_path / 'missing'), '--export', str(tmp_path / 'generator')], capsys)
    assert 'no training run' in line and 'missing' in line and os.listdir(str(tmp_path)) == []


def test_a_run_without_a_checkpoint_is_refused_in_one_line(trained, tmp_path, capsys):
    logdir = tmp_path / 'run'
    logdir.mkdir()
    with open(os.path.join(trained('gan'), runs.CONFIG_NAME), 'rb') as stream:
        (logdir / runs.CONFIG_NAME).write_bytes(stream.read())
    line = export_refused(['--logdir', str(logdir), '--export', str(tmp_path / 'generator')], capsys)
    assert 'no checkpoint' in line and sorted(os.listdir(str(tmp_path))) == ['run']


def users_file_in_the_way(space, case):
    """(the --export argument, what the error line names) with a file of the user's in the way."""
    if case == 'a file':
        (space / 'generator').write_bytes(NOTES)
        return space / 'generator', 'is a file'
    if case == 'a folder not empty':
        (space / 'generator').mkdir()
        (space / 'generator' / 'notes.txt').write_bytes(NOTES)
        return space / 'generator', 'not empty'
    (space / 'notes.txt').write_bytes(NOTES)
    return space / 'notes.txt' / 'generator', 'notes.txt is a file'


@pytest.mark.parametrize('case', ['a file', 'a folder not empty', 'a file above it'])
def test_an_export_over_the_users_file_is_refused_and_the_file_kept(case, trained, tmp_path, monkeypatch, capsys):
    space = tmp_path / 'mine'
    space.mkdir()
    target, word = users_file_in_the_way(space, case)
    before = snapshot(space)
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: pytest.fail('loaded the run first'))
    line = export_refused(['--logdir', trained('gan'), '--export', str(target)], capsys)
    assert '--export' in line and word in line, line
    assert snapshot(space) == before


@pytest.mark.parametrize('flags', [['--gif'], ['--pyramid'], ['--arithmetic'], ['--vary-noise'],
                                   ['--interpolate', '1', '7'], ['--condition', '3'], ['--num', '4'],
                                   ['--output', 'x.png'], ['--seed', '1']])
def test_export_with_a_mode_or_flag_it_does_not_take_is_one_line(flags, trained, tmp_path, capsys):
    line = export_refused(['--logdir', trained('gan'), '--export', str(tmp_path / 'generator')] + flags, capsys)
    assert '--export' in line and flags[0] in line, line
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('failure', ['OSError', 'OpError'])
def test_an_export_that_fails_half_way_leaves_nothing_and_is_exit_1(failure, trained, tmp_path, monkeypatch, capsys):
    import tensorflow as tf

    def fails(module, directory, signatures=None, **kwargs):
        with open(os.path.join(directory, 'saved_model.pb'), 'wb') as stream:
            stream.write(b'half')
        if failure == 'OSError':
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise tf.errors.UnknownError(None, None, 'could not write: disk failed')
    monkeypatch.setattr(tf.saved_model, 'save', fails)
    (tmp_path / 'notes.txt').write_bytes(NOTES)
    before = snapshot(tmp_path)
    export_refused(['--logdir', trained('gan'), '--export', str(tmp_path / 'generator')], capsys, code=1)
    assert snapshot(tmp_path) == before


def test_a_real_process_refuses_a_folder_not_empty_in_one_line(trained, tmp_path, home):
    (tmp_path / 'generator').mkdir()
    (tmp_path / 'generator' / 'notes.txt').write_bytes(NOTES)
    before = snapshot(tmp_path)
    env = dict(os.environ, GAN_OFFLINE='1', HOME=str(home), TF_CPP_MIN_LOG_LEVEL='2')
    result = subprocess.run([sys.executable, os.path.join(HERE, 'generate.py'), '--logdir', trained('gan'),
                             '--export', 'generator'], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                            timeout=600)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith('generate.py: error: '), result.stderr
    assert 'not empty' in lines[0], lines
    assert snapshot(tmp_path) == before


def test_a_users_folder_named_as_the_exports_temporary_one_is_kept_when_the_export_fails(trained, tmp_path,
                                                                                          monkeypatch, capsys):
    import secrets
    import tensorflow as tf
    # The user's folder has the very name the export draws first; the export must take another, and its
    # failure must remove only the folder it made.
    users = tmp_path / '.generator.0badc0de.tmp'
    users.mkdir()
    (users / 'notes.txt').write_bytes(NOTES)
    real_token_hex, calls = secrets.token_hex, []

    def token_hex(size):   # the user's name at every other draw: the check before the work and the export
        calls.append(size)
        return '0badc0de' if len(calls) % 2 else real_token_hex(size)
    monkeypatch.setattr(secrets, 'token_hex', token_hex)
    made = []

    def fails(module, directory, signatures=None, **kwargs):
        made.append(os.path.basename(directory))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(tf.saved_model, 'save', fails)
    before = snapshot(tmp_path)
    export_refused(['--logdir', trained('gan'), '--export', str(tmp_path / 'generator')], capsys, code=1)
    assert len(made) == 1 and made[0] != users.name and made[0].startswith('.generator.'), made
    assert snapshot(tmp_path) == before

"""generate.py's modes at their edges: the pyramid a chunk at a time, flags a mode ignores, GIF frames of any size,
and exit codes (2: change the input, 1: the machine failed)."""
import errno
import os
import struct
import types
import zlib

import numpy as np
import pytest

import generate
import grids
import own_files
import runs
from conftest import NO_R1, offline_environment

TINY = ['--dataset', 'mnist_sample', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--condition-units', '8',
        '--seed', '0', '--steps', '2', '--save-every', '2', '--sample-every', '2', '--eval-every', '0'] + NO_R1


pytestmark = pytest.mark.usefixtures('offline')


def train(tmp_path_factory, home, name, flags=()):
    import main
    logdir = str(tmp_path_factory.mktemp(name) / 'run')
    with pytest.MonkeyPatch.context() as patch:
        for key, value in offline_environment(home).items():
            patch.setenv(key, value)
        assert main.main(TINY + list(flags) + ['--logdir', logdir]) == 0
    return logdir


@pytest.fixture(scope='module')
def run(tmp_path_factory, home):
    return train(tmp_path_factory, home, 'gan')


@pytest.fixture(scope='module')
def lapgan_run(tmp_path_factory, home):
    return train(tmp_path_factory, home, 'lapgan', ['--model', 'lapgan'])


def error_lines(capsys):
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return [line for line in err.splitlines() if line.strip() and not line.startswith('dataset:')]


def as_unit(images):
    return ((np.asarray(images, np.float32)[..., 0] + 1.0) / 2.0).clip(0.0, 1.0)


@pytest.fixture(scope='module')
def clustered_run(tmp_path_factory, home):
    return train(tmp_path_factory, home, 'clustered', ['--conditioning', 'none', '--clusters', '3'])


# ---------------------------------------------------------------- noise drawn wider or narrower

def test_a_restored_generator_draws_its_noise_scaled_as_asked(run):
    with runs.load_generator(run) as generator:
        labels = np.arange(10)
        scaled = generator.sample(labels, seed=3, noise_scale=2.0)
        np.testing.assert_array_equal(scaled, generator.sample(
            labels, noise=2.0 * runs.draw_noise(10, generator.noise_len, 3)))
        assert not np.array_equal(scaled, generator.sample(labels, seed=3))


def test_the_clustered_gans_cluster_picking_value_is_never_scaled(clustered_run):
    """Its first noise value picks the cluster through the clusters' shares: scaling it would change them."""
    with runs.load_generator(clustered_run) as generator:
        noise = runs.draw_noise(10, generator.noise_len, 3)
        scaled = noise * 2.0
        scaled[:, 0] = noise[:, 0]
        np.testing.assert_array_equal(generator.sample(np.zeros(10), seed=3, noise_scale=2.0),
                                      generator.sample(np.zeros(10), noise=scaled))


def drawn_npy(logdir, tmp_path, capsys, flags, name='x.npy'):
    """What generate.py writes to a .npy for these flags, and the line it prints."""
    output = str(tmp_path / name)
    assert generate.main(['--logdir', logdir, '--output', output, '--seed', '5'] + flags) == 0
    return np.load(output), capsys.readouterr().out


@pytest.mark.parametrize('fixture', ['run', 'clustered_run'])
def test_generate_draws_its_noise_scaled_as_asked_and_says_so(fixture, request, tmp_path, capsys):
    """--noise-scale S draws the grid's noise from N(0, S^2), as evaluate.py's does; the clustered GAN's picking
    value is left as it is."""
    logdir = request.getfixturevalue(fixture)
    scaled, line = drawn_npy(logdir, tmp_path, capsys, ['--condition', '3', '--noise-scale', '2'])
    with runs.load_generator(logdir) as generator:
        noise = runs.draw_noise(10, generator.noise_len, 5)
        wide = noise * 2.0
        if fixture == 'clustered_run':
            wide[:, 0] = noise[:, 0]
        np.testing.assert_array_equal(scaled, as_unit(generator.sample(np.full(10, 3), noise=wide)))
    assert 'noise scaled by 2' in line
    plain, line = drawn_npy(logdir, tmp_path, capsys, ['--condition', '3'], 'plain.npy')
    assert not np.array_equal(scaled, plain) and 'noise scaled' not in line


@pytest.mark.parametrize('mode', [['--interpolate', '1', '7'], ['--vary-noise', '--condition', '4'],
                                  ['--arithmetic', '--condition', '4']])
def test_every_mode_that_draws_noise_draws_it_scaled(mode, run, tmp_path, capsys):
    plain, _ = drawn_npy(run, tmp_path, capsys, mode, 'plain.npy')
    same, _ = drawn_npy(run, tmp_path, capsys, mode + ['--noise-scale', '1'], 'same.npy')
    scaled, line = drawn_npy(run, tmp_path, capsys, mode + ['--noise-scale', '0.5'])
    np.testing.assert_array_equal(plain, same)
    assert not np.array_equal(plain, scaled) and 'noise scaled by 0.5' in line


def test_the_pyramid_draws_its_noise_scaled_too(lapgan_run, tmp_path, capsys):
    plain, _ = drawn_npy(lapgan_run, tmp_path, capsys, ['--pyramid', '--num', '1'], 'plain.npy')
    scaled, line = drawn_npy(lapgan_run, tmp_path, capsys, ['--pyramid', '--num', '1', '--noise-scale', '0.5'])
    assert not np.array_equal(plain, scaled) and 'noise scaled by 0.5' in line


@pytest.mark.parametrize('flags, words', [
    (['--noise-scale', '0'], ['--noise-scale', 'positive']),
    (['--noise-scale', '2', '--gif'], ['--noise-scale', '--gif']),
    (['--noise-scale', '2', '--export', 'EXPORT'], ['--noise-scale', '--export']),
])
def test_noise_scale_is_positive_and_only_for_what_draws_noise(flags, words, run, tmp_path, capsys):
    export = str(tmp_path / 'exported')
    assert generate.main(['--logdir', run] + [export if flag == 'EXPORT' else flag for flag in flags]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and all(word in lines[0] for word in words), lines
    assert not os.path.exists(export)


# ---------------------------------------------------------------- --pyramid

def test_the_pyramid_draws_its_noise_a_chunk_at_a_time_and_the_same_digits(lapgan_run, tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.setattr(generate, 'CHUNK', 100)   # 100 cells: chunks that split a sample's three stages
    drawn = []
    source = runs.noise_source

    def recording_source(noise_len, seed=None):
        draw = source(noise_len, seed)
        return lambda count: drawn.append(count) or draw(count)
    monkeypatch.setattr(runs, 'noise_source', recording_source)
    count, output = 200, tmp_path / 'pyramid.npy'
    assert generate.main(['--logdir', lapgan_run, '--pyramid', '--condition', '3', '--num', str(count),
                          '--output', str(output)]) == 0
    assert max(drawn) <= 100 and sum(drawn) == count   # each sample's noise once, never all at once
    monkeypatch.setattr(runs, 'noise_source', source)
    generator = runs.load_generator(lapgan_run)
    try:
        stages = generator.sample_stages(np.full(count, 3), runs.draw_noise(count, generator.noise_len, 0))
    finally:
        generator.close()
    cells = np.load(str(output))
    assert cells.shape == (3 * count, 28, 28)
    np.testing.assert_allclose(cells[2::3], as_unit(stages[-1]), atol=1e-5)
    np.testing.assert_allclose(cells[0::3], as_unit(stages[0].repeat(4, 1).repeat(4, 2)), atol=1e-5)


class UnconditionedPyramid:
    """An unconditioned LAPGAN's generator, as far as pyramid_picture asks."""
    num_classes, noise_len, stages, conditioned = 10, 4, 3, False

    def sample_stages(self, labels, noise):
        return [np.zeros((len(labels), side, side, 1), np.float32) for side in (7, 14, 28)]


def test_the_pyramid_of_an_unconditioned_model_is_titled_as_random_digits_not_the_condition():
    args = types.SimpleNamespace(condition=3, num=2, seed=0)
    picture = generate.pyramid_picture(args, UnconditionedPyramid())
    assert 'digit 3' not in picture.description and 'random' in picture.description
    assert picture.name == 'generated_random_pyramid'
    assert picture.count == 2 * 3   # --num samples, not --num of every digit


def test_the_pyramid_of_every_class_is_named_after_all_of_them():
    pyramid = UnconditionedPyramid()
    pyramid.conditioned = True
    picture = generate.pyramid_picture(types.SimpleNamespace(condition=None, num=2, seed=0), pyramid)
    assert picture.name == 'generated_all_pyramid' and 'each class' in picture.description
    assert picture.count == 10 * 2 * 3


# ---------------------------------------------------------------- flags a mode does not take

@pytest.mark.parametrize('mode', [['--arithmetic'], ['--gif']])
def test_a_mode_of_a_fixed_size_refuses_num_in_one_line(mode, run, tmp_path, capsys):
    assert generate.main(['--logdir', run, '--num', '3', '--output', str(tmp_path / 'x.png')] + mode) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and '--num' in lines[0] and mode[0] in lines[0], lines
    assert os.listdir(str(tmp_path)) == []


# ---------------------------------------------------------------- --gif

def png_header(path, width, height):
    """A PNG's header and the start of its pixels: enough for an image library to open it and read its size."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    path.write_bytes(own_files.PNG_SIGNATURE + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0))
                     + chunk(b'IDAT', zlib.compress(b'\0' * 1000)))


def samples_of(tmp_path):
    logdir = tmp_path / 'run'
    (logdir / 'samples').mkdir(parents=True)
    grids.save_png(str(logdir / 'samples' / 'step_0000001.png'), np.zeros((40, 40), np.uint8))
    return logdir


@pytest.mark.parametrize('frame', ['too large', 'not a picture'])
def test_a_gif_frame_too_large_or_unreadable_is_one_line_and_writes_nothing(frame, tmp_path, capsys):
    logdir = samples_of(tmp_path)
    bad = logdir / 'samples' / 'step_0000002.png'
    if frame == 'too large':
        png_header(bad, 15000, 15000)
    else:
        bad.write_bytes(b'half a picture')
    assert generate.main(['--logdir', str(logdir), '--gif']) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'step_0000002.png' in lines[0], lines
    assert '--output' not in lines[0]   # the frame is the problem, not the GIF's place
    assert sorted(os.listdir(str(logdir))) == ['samples']


# ---------------------------------------------------------------- exit codes

def test_an_output_that_is_a_folder_is_refused_before_drawing(run, tmp_path, monkeypatch, capsys):
    folder = tmp_path / 'digits.png'
    folder.mkdir()
    (folder / 'mine.txt').write_text('mine')
    monkeypatch.setattr(runs.Generator, 'sample', lambda *args, **kwargs: pytest.fail('drew digits first'))
    assert generate.main(['--logdir', run, '--output', str(folder)]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'digits.png' in lines[0] and 'directory' in lines[0]
    assert os.listdir(str(folder)) == ['mine.txt']


@pytest.mark.parametrize('number', [errno.EIO, errno.ENOSPC])
def test_a_write_that_fails_is_exit_1(number, run, tmp_path, monkeypatch, capsys):
    def fails(path, picture):
        raise OSError(number, os.strerror(number))
    monkeypatch.setattr(generate, 'write_picture', fails)
    assert generate.main(['--logdir', run, '--num', '1', '--output', str(tmp_path / 'x.png')]) == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and ('x.png' in lines[0] or str(tmp_path) in lines[0]), lines


def test_a_gif_that_cannot_be_written_is_exit_1(tmp_path, monkeypatch, capsys):
    logdir = samples_of(tmp_path)

    def fails(frames, path):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    monkeypatch.setattr(grids, 'save_gif', fails)
    assert generate.main(['--logdir', str(logdir), '--gif']) == 1
    assert len(error_lines(capsys)) == 1


def test_a_run_with_an_averaged_generator_draws_from_the_averaged_weights(tmp_path_factory, home):
    """The checkpoint keeps the averages beside the weights; a restored generator reads them."""
    logdir = train(tmp_path_factory, home, 'averaged', ['--ema-decay', '0.5'])
    with runs.load_generator(logdir) as generator:
        model = generator._model
        averages = [v for v in generator.variables if v.op.name.endswith('_average')]
        assert len(averages) == len(model.generator_variables)
        drawn = generator.sample(np.arange(10), seed=0)
        weights = {v.op.name: v for v in model.generator_variables}
        trained = generator.values(weights[v.op.name[:-len('_average')]] for v in averages)
        assert any(not np.array_equal(a, t) for a, t in zip(generator.values(averages), trained))
        with model.graph.as_default():
            for average, value in zip(averages, trained):
                average.load(value, generator._session)
        assert not np.allclose(generator.sample(np.arange(10), seed=0), drawn, atol=1e-4)


def test_an_averaged_run_read_for_its_trained_weights_draws_what_the_run_without_an_average_draws(
        tmp_path_factory, home):
    """--ema-decay changes what is drawn, not how a run trains: the same run without it has the same weights,
    which evaluate.py --trained-weights scores (one run measures both)."""
    plain_logdir = train(tmp_path_factory, home, 'plain_twin', ['--ema-decay', '0'])
    averaged_logdir = train(tmp_path_factory, home, 'averaged_twin', ['--ema-decay', '0.5'])
    labels = np.arange(10)
    with runs.load_generator(plain_logdir) as plain, runs.load_generator(averaged_logdir) as averaged:
        from_average, expected = averaged.sample(labels, seed=0), plain.sample(labels, seed=0)
        averaged.draw_with_trained_weights()
        np.testing.assert_allclose(averaged.sample(labels, seed=0), expected, atol=1e-6)
        assert not np.allclose(from_average, expected, atol=1e-4)
        plain.draw_with_trained_weights()   # a run without an average draws from its trained weights anyway
        np.testing.assert_array_equal(plain.sample(labels, seed=0), expected)

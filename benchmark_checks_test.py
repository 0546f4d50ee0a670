"""benchmark.py checks its flags and its --logdir before any timing, and says what is wrong in one line.

Every timing function is replaced by one that fails the test: nothing here is timed."""
import json
import os

import pytest

import benchmark
import quality
import settings


@pytest.fixture(autouse=True)
def no_timing(monkeypatch):
    def timed(*args, **kwargs):
        raise AssertionError('timed before the checks')
    for name in ('matmul_peak_gflops', 'train_images_per_second', 'gflop_per_step', 'generate_100_seconds',
                 'compare_settings', 'train_one_step'):
        monkeypatch.setattr(benchmark, name, timed)
    monkeypatch.setenv('GAN_OFFLINE', '1')


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith('dataset:')]
    assert len(lines) == 1, err
    return lines[0]


def test_a_peak_size_beyond_the_documented_limit_is_one_line_exit_2(capsys):
    assert benchmark.main(['--peak-size', '40000']) == 2
    line = one_error_line(capsys)
    assert '--peak-size' in line and str(benchmark.MAX_PEAK_SIZE) in line
    assert str(benchmark.MAX_PEAK_SIZE) in benchmark.build_parser().format_help()


def test_a_negative_warm_up_is_one_line_exit_2(capsys):
    assert benchmark.main(['--warmup', '-1']) == 2
    line = one_error_line(capsys)
    assert '--warmup' in line and '0 or more' in line


def test_a_missing_logdir_is_said_before_any_timing(tmp_path, capsys):
    assert benchmark.main(['--logdir', str(tmp_path / 'nowhere')]) == 2
    assert 'nowhere' in one_error_line(capsys)


def a_run_with_a_quality_record(folder, lines):
    """A run folder as benchmark.py reads it before timing: a config.json, a checkpoint's index, its quality points."""
    folder.mkdir()
    run, _ = settings.resolve({'dataset': 'mnist_sample', 'batch_size': 8, 'steps': 2})
    (folder / 'config.json').write_text(json.dumps(settings.to_config(run)))
    (folder / 'model.ckpt-2.index').write_bytes(b'')
    (folder / 'model.ckpt-2.data-00000-of-00001').write_bytes(b'')
    (folder / quality.QUALITY_RECORD_NAME).write_text('\n'.join(lines) + '\n')
    return folder


@pytest.mark.parametrize('garbage', ['{"step": 250', 'not json at all', '"a string"'])
def test_a_garbage_quality_record_is_one_line_before_any_timing_and_is_left_as_it_is(garbage, tmp_path, capsys):
    good = json.dumps({'step': 250, 'training_seconds': 90.0, 'accuracy': 0.9, 'frechet_ratio': 3.0})
    run = a_run_with_a_quality_record(tmp_path / 'run', [good, garbage])
    before = (run / quality.QUALITY_RECORD_NAME).read_bytes()
    assert benchmark.main(['--logdir', str(run)]) == 2
    line = one_error_line(capsys)
    assert 'quality.jsonl' in line and 'line 2' in line
    assert (run / quality.QUALITY_RECORD_NAME).read_bytes() == before


def test_a_logdir_without_a_checkpoint_is_said_before_any_timing(tmp_path, capsys):
    run = a_run_with_a_quality_record(tmp_path / 'run', [])
    for name in os.listdir(str(run)):
        if name.startswith('model.ckpt'):
            os.remove(str(run / name))
    assert benchmark.main(['--logdir', str(run)]) == 2
    assert 'no checkpoint' in one_error_line(capsys)

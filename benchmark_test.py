"""benchmark.py prints its figures as JSON: the keys the README's speed table is built from."""
import json

import pytest

import benchmark
import quality


def test_prints_one_json_object_with_every_speed_figure(capsys, tmp_path):
    assert benchmark.main(['--steps', '2', '--warmup', '1', '--peak-size', '256']) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {'train_img_per_s_b64', 'train_img_per_s_b256', 'gflop_per_step', 'achieved_gflops',
                            'matmul_peak_gflops', 'utilisation', 'generate_100_s', 'precision',
                            'minutes_to_quality'}
    assert figures['precision'] in ('float32', 'bfloat16')
    assert figures['minutes_to_quality'] is None   # a one-step run has no quality record
    assert all(value > 0 for key, value in figures.items() if key not in ('precision', 'minutes_to_quality'))
    assert abs(figures['utilisation'] - figures['achieved_gflops'] / figures['matmul_peak_gflops']) < 0.01


def test_settings_compares_training_speed_of_each_alternative(capsys):
    assert benchmark.main(['--steps', '2', '--warmup', '1', '--settings']) == 0
    speeds = json.loads(capsys.readouterr().out)
    assert set(speeds) == set(benchmark.SETTINGS)
    for name, result in speeds.items():
        # Every setting runs on this CPU build: a row with an error is a failure, not a result.
        assert result['error'] == '', '%s: %s' % (name, result['error'])
        figures = [value for key, value in result.items() if key != 'error']
        assert figures and all(value > 0 for value in figures), name


def quality_point(step, minutes, accuracy, ratio):
    return json.dumps({'step': step, 'training_seconds': 60.0 * minutes, 'accuracy': accuracy,
                       'frechet_ratio': ratio})


def test_time_to_quality_is_read_from_the_runs_quality_record(tmp_path):
    # Accuracy and FD ratio must both be reached at one point: here at the third, after 4.5 minutes.
    (tmp_path / quality.QUALITY_RECORD_NAME).write_text('\n'.join([
        quality_point(250, 1.5, 0.95, 3.0), quality_point(500, 3.0, 0.995, 2.4),
        quality_point(750, 4.5, 0.991, 1.9), quality_point(1000, 6.0, 0.999, 1.5)]) + '\n')
    assert benchmark.time_to_quality(str(tmp_path)) == pytest.approx(4.5)
    (tmp_path / quality.QUALITY_RECORD_NAME).write_text(quality_point(250, 1.5, 0.95, 3.0) + '\n')
    assert benchmark.time_to_quality(str(tmp_path)) is None


def test_precision_flag_chooses_the_training_arithmetic():
    assert benchmark.session_config_for('float32').graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 == 0
    assert benchmark.session_config_for('bfloat16').graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 != 0

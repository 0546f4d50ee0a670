"""benchmark.py prints its figures as JSON: the keys the README's speed table is built from."""
import json

import benchmark


def test_prints_one_json_object_with_every_speed_figure(capsys, tmp_path):
    assert benchmark.main(['--steps', '2', '--peak-size', '256']) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {'train_img_per_s_b64', 'train_img_per_s_b256', 'gflop_per_step', 'achieved_gflops',
                            'matmul_peak_gflops', 'utilisation', 'generate_100_s'}
    assert all(value > 0 for value in figures.values())
    assert abs(figures['utilisation'] - figures['achieved_gflops'] / figures['matmul_peak_gflops']) < 0.01


def test_settings_compares_training_speed_of_each_alternative(capsys):
    assert benchmark.main(['--steps', '2', '--settings']) == 0
    speeds = json.loads(capsys.readouterr().out)
    assert set(speeds) == set(benchmark.SETTINGS)
    for name, result in speeds.items():
        # Every setting runs on this CPU build: a row with an error is a failure, not a result.
        assert result['error'] == '', '%s: %s' % (name, result['error'])
        figures = [value for key, value in result.items() if key != 'error']
        assert figures and all(value > 0 for value in figures), name

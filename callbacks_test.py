"""Callbacks write what they promise, and what they write can be read back."""
import glob
import io
import json
import os
import re
import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import callbacks
import checkpoints
from dataset import GANDataset
from model import GANModel
import ops

v1 = tf.compat.v1


@pytest.fixture
def trained():
    graph = tf.Graph()
    with graph.as_default():
        model = GANModel(noise_len=8, g_dim=8, d_dim=8, condition_units=8, seed=0)
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(20, 28, 28, 1)).astype(np.float32)
    dataset = GANDataset(images, np.arange(20) % 10, noise_len=8, batch_size=4, seed=0)
    yield model, session, dataset
    session.close()


def read_events(logdir):
    scalars, images = {}, {}
    for path in glob.glob(os.path.join(logdir, 'events.out.tfevents.*')):
        for event in v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField('image'):
                    images.setdefault(value.tag, []).append(value.image)
                elif value.HasField('simple_value'):
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars, images


def test_summary_callback_writes_probabilities_losses_and_a_digit_grid(trained, tmp_path):
    model, session, dataset = trained
    summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=2)
    model.fit(session, dataset, epochs=None, max_steps=4, callbacks=[summary])
    summary.close()
    scalars, images = read_events(str(tmp_path))
    for tag in ('probabilities/p_real', 'probabilities/p_fake', 'probabilities/p_wrong'):
        assert [step for step, _ in scalars[tag]] == [2, 4]
        assert all(0.0 <= value <= 1.0 for _, value in scalars[tag])
    for tag in ('loss/generator_loss', 'loss/discriminator_loss', 'loss/discriminator_real_right_loss',
                'loss/discriminator_real_wrong_loss', 'loss/discriminator_fake_loss'):
        assert len(scalars[tag]) == 2 and all(np.isfinite(v) for _, v in scalars[tag])
    [tag] = [t for t in images if t.startswith('generated_digits')]
    grid = images[tag][-1]
    picture = np.asarray(Image.open(io.BytesIO(grid.encoded_image_string)))
    assert (grid.height, grid.width) == (10 * 28, 10 * 28)   # a row per digit, ten columns
    assert picture.min() >= 0 and picture.max() <= 255


def test_a_second_session_into_the_same_logdir_keeps_the_first_sessions_events(trained, tmp_path):
    # TensorFlow names an events file by the second it was opened: a run resumed within the same second
    # (a quick restart, a test) must open a file of its own, not truncate the earlier session's.
    model, session, dataset = trained
    for last_step in (1, 2):
        summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=1)
        model.fit(session, dataset, epochs=None, max_steps=last_step, callbacks=[summary])
        summary.close()
    names = sorted(os.path.basename(path) for path in glob.glob(os.path.join(str(tmp_path), 'events.out.tfevents.*')))
    assert len(names) == 2
    # ... and sorts after it, as TensorBoard reads the files of a directory in the order of their names.
    steps = [[event.step for event in v1.train.summary_iterator(os.path.join(str(tmp_path), name))
              if any(value.tag == 'probabilities/p_real' for value in event.summary.value)] for name in names]
    assert steps == [[1], [2]]


def test_checkpoint_restores_weights_step_and_data_order(trained, tmp_path):
    model, session, dataset = trained
    checkpoint = callbacks.CheckpointCallback(session, str(tmp_path), every_step=3)
    model.fit(session, dataset, epochs=None, max_steps=3, callbacks=[checkpoint])
    weights = session.run(model.generator_variables)
    expected_next = dataset.next_batch()
    path = v1.train.latest_checkpoint(str(tmp_path))
    assert path.endswith('model.ckpt-3')

    with model.graph.as_default():
        session.run(v1.global_variables_initializer())  # forget everything
        v1.train.Saver(ops.saved_variables()).restore(session, path)   # all but what is recomputed
    assert session.run(model.global_step) == 3
    for before, after in zip(weights, session.run(model.generator_variables)):
        np.testing.assert_array_equal(before, after)
    # A resumed run rebuilds the dataset and reads the state saved beside the checkpoint.
    with open(checkpoints.dataset_state_path(path)) as f:
        state = json.load(f)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(20, 28, 28, 1)).astype(np.float32)
    resumed = GANDataset(images, np.arange(20) % 10, noise_len=8, batch_size=4, seed=0)
    resumed.load_state_dict(state)
    for a, b in zip(resumed.next_batch(), expected_next):
        np.testing.assert_array_equal(a, b)


def test_sample_grid_callback_writes_a_png_with_a_row_per_digit(trained, tmp_path):
    model, session, dataset = trained
    samples = callbacks.SampleGridCallback(session, model, str(tmp_path), every_step=2, columns=5)
    model.fit(session, dataset, epochs=None, max_steps=4, callbacks=[samples])
    pngs = sorted(glob.glob(str(tmp_path / 'samples' / '*.png')))
    assert [os.path.basename(p) for p in pngs] == ['step_0000002.png', 'step_0000004.png']
    picture = np.asarray(Image.open(pngs[-1]))
    assert picture.shape == (10 * 30 + 2, 5 * 30 + 2)


def test_what_draws_during_training_draws_with_statistics_recomputed_for_that_steps_averaged_weights(
        trained, tmp_path):
    """The grids, the TensorBoard grid and the quality points draw the averaged generator: each first recomputes its
    batch-norm statistics for the averaged weights of the step it draws at."""
    model, session, dataset = trained
    assert model.drawing_statistics

    def recomputed_now():
        drawn_with = [session.run(v).copy() for v in model.drawing_statistics]
        session.run(model.networks.recompute, model.drawing_reference())
        return drawn_with, [session.run(v) for v in model.drawing_statistics]

    summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=100, image_every_step=2)
    drawers = [callbacks.SampleGridCallback(session, model, str(tmp_path), every_step=2, columns=5), summary,
               callbacks.EvaluationCallback(session, model, summary.writer, CountingEvaluator, every_step=2)]
    for drawer in drawers:
        session.run([v.initializer for v in model.drawing_statistics])   # as restored: not saved
        initial = [session.run(v) for v in model.drawing_statistics]
        model.fit(session, dataset, epochs=None, max_steps=session.run(model.global_step) + 2, callbacks=[drawer])
        drawn_with, recomputed = recomputed_now()
        for statistic, expected in zip(drawn_with, recomputed):
            np.testing.assert_allclose(statistic, expected, rtol=1e-5, atol=1e-6)
        assert not all(np.allclose(a, b) for a, b in zip(drawn_with, initial))
    summary.close()


def test_log_callback_prints_step_losses_probabilities_and_speed(trained):
    model, session, dataset = trained
    stream = io.StringIO()
    log = callbacks.LogCallback(model, batch_size=4, every_step=2, total_steps=4, stream=stream)
    model.fit(session, dataset, epochs=None, max_steps=4, callbacks=[log])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[-1].startswith('step 4/4')
    for word in ('d_loss', 'g_loss', 'p_real', 'p_fake', 'p_wrong', 'steps/s', 'img/s', 'ETA'):
        assert word in lines[-1]


def test_log_line_shows_the_means_of_the_steps_since_the_last_line():
    model = types.SimpleNamespace(last_metrics={})
    stream = io.StringIO()
    log = callbacks.LogCallback(model, batch_size=4, every_step=2, stream=stream)
    for step, p_real in enumerate([0.1, 0.3, 0.5, 0.9], start=1):
        model.last_metrics = {'p_real': p_real, 'generator_loss': 2.0 * step}
        if step % log.every_step == 0:
            log(None, step)
    assert [re.findall(r'(g_loss|p_real) (\S+)', line) for line in stream.getvalue().splitlines()] == [
        [('g_loss', '3.000'), ('p_real', '0.200')], [('g_loss', '7.000'), ('p_real', '0.700')]]


def test_old_checkpoints_leave_with_their_data_order_files(trained, tmp_path):
    model, session, dataset = trained
    checkpoint = callbacks.CheckpointCallback(session, str(tmp_path), every_step=1, keep=2)
    model.fit(session, dataset, epochs=None, max_steps=4, callbacks=[checkpoint])
    states = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / '*.dataset.json')))
    assert states == ['model.ckpt-3.dataset.json', 'model.ckpt-4.dataset.json']


class CountingEvaluator:
    """Stands in for quality.Evaluator: records what it was asked to score."""
    created = 0

    def __init__(self):
        CountingEvaluator.created += 1
        self.batches = []
        self.conditioned = []

    def evaluate(self, sample_fn, seed=0, conditioned=True):
        labels = np.repeat(np.arange(10), 3)
        images = sample_fn(labels)
        self.batches.append(images)
        self.conditioned.append(conditioned)
        return {'conditioned': conditioned, 'accuracy': 0.5 if conditioned else None,
                'per_class_accuracy': [0.1 * d for d in range(10)] if conditioned else None,
                'class_shares': [0.1] * 10, 'frechet_distance': 12.0, 'frechet_ratio': 1.5,
                'diversity_ratio': [1.0] * 9 + [0.25], 'memorisation_ratio': 0.95, 'memorisation_flag': False,
                'precision': 0.8, 'recall': 0.6, 'density': 0.9, 'coverage': 0.7}


def read_quality_records(logdir):
    with open(os.path.join(logdir, 'quality.jsonl')) as stream:
        return [json.loads(line) for line in stream]


def test_evaluation_callback_writes_quality_scalars_with_one_evaluator(trained, tmp_path):
    model, session, dataset = trained
    CountingEvaluator.created = 0
    summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=100)
    evaluation = callbacks.EvaluationCallback(session, model, summary.writer, CountingEvaluator, every_step=2)
    model.fit(session, dataset, epochs=None, max_steps=4, callbacks=[evaluation])
    summary.close()
    assert CountingEvaluator.created == 1
    first, second = evaluation.evaluator.batches
    assert first.shape == (30, 28, 28, 1) and -1 <= first.min() and first.max() <= 1
    assert evaluation.evaluator.conditioned == [True, True]
    scalars, _ = read_events(str(tmp_path))
    assert [step for step, _ in scalars['quality/accuracy']] == [2, 4]
    assert scalars['quality/frechet_distance'][-1][1] == pytest.approx(12.0)
    assert scalars['quality/frechet_ratio'][-1][1] == pytest.approx(1.5)
    assert scalars['quality/memorisation_ratio'][-1][1] == pytest.approx(0.95)
    assert scalars['quality/min_diversity_ratio'][-1][1] == pytest.approx(0.25)
    assert scalars['quality_per_digit/accuracy_7'][-1][1] == pytest.approx(0.7)
    for name, value in (('precision', 0.8), ('recall', 0.6), ('density', 0.9), ('coverage', 0.7)):
        assert [step for step, _ in scalars['quality/' + name]] == [2, 4]
        assert scalars['quality/' + name][-1][1] == pytest.approx(value)


def test_evaluation_callback_appends_one_record_per_point_with_the_clock(trained, tmp_path):
    model, session, dataset = trained
    summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=100)
    clock_readings = iter([30.0, 60.0])
    evaluation = callbacks.EvaluationCallback(session, model, summary.writer, CountingEvaluator, every_step=2,
                                              clock=lambda: next(clock_readings))
    model.fit(session, dataset, epochs=None, max_steps=4, callbacks=[evaluation])
    summary.close()
    records = read_quality_records(str(tmp_path))
    assert [record['step'] for record in records] == [2, 4]
    assert [record['training_seconds'] for record in records] == [30.0, 60.0]
    assert records[0]['accuracy'] == 0.5 and records[0]['lowest_digit_accuracy'] == 0.0
    assert records[0]['frechet_ratio'] == 1.5 and records[0]['memorisation_ratio'] == 0.95
    assert (records[0]['min_diversity_ratio'], records[0]['max_diversity_ratio']) == (0.25, 1.0)
    assert [records[0][name] for name in ('precision', 'recall', 'density', 'coverage')] == [0.8, 0.6, 0.9, 0.7]
    assert records[0]['evaluation_seconds'] >= 0


def test_evaluation_callback_forgets_points_a_resumed_run_redoes(trained, tmp_path):
    model, session, dataset = trained
    with open(os.path.join(str(tmp_path), 'quality.jsonl'), 'w') as stream:
        stream.write('{"step": 1}\n{"step": 2}\n{"step": 3}\n{"ste')   # killed while writing step 3's line
    summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=100)
    evaluation = callbacks.EvaluationCallback(session, model, summary.writer, CountingEvaluator, every_step=2)
    model.fit(session, dataset, epochs=None, max_steps=2, callbacks=[evaluation])
    summary.close()
    assert [record['step'] for record in read_quality_records(str(tmp_path))] == [1, 2]


def test_evaluation_callback_adds_a_point_at_the_last_step_once(trained, tmp_path):
    # A run of 5 steps evaluated every 2 would otherwise end without a point at its last step.
    model, session, dataset = trained
    summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=100)
    evaluation = callbacks.EvaluationCallback(session, model, summary.writer, CountingEvaluator, every_step=2)
    step = model.fit(session, dataset, epochs=None, max_steps=5, callbacks=[evaluation])
    evaluation.finish(dataset, step)
    evaluation.finish(dataset, step)
    summary.close()
    assert [record['step'] for record in read_quality_records(str(tmp_path))] == [2, 4, 5]


def test_evaluation_callback_leaves_a_run_shorter_than_its_period_unmeasured(trained, tmp_path):
    model, session, dataset = trained
    summary = callbacks.SummaryCallback(session, model, str(tmp_path), every_step=100)
    evaluation = callbacks.EvaluationCallback(session, model, summary.writer, CountingEvaluator, every_step=10)
    CountingEvaluator.created = 0
    step = model.fit(session, dataset, epochs=None, max_steps=3, callbacks=[evaluation])
    evaluation.finish(dataset, step)
    summary.close()
    assert CountingEvaluator.created == 0
    assert not os.path.exists(os.path.join(str(tmp_path), 'quality.jsonl'))

"""Spec tests for the measuring stick: metric functions, the cached classifier and evaluate_samples."""
import json
import os
import shutil
import sys
import types

import numpy as np
import pytest

import classifier
import evaluate

# Enough for >= 95% on the held-out sample digits, small enough to keep this file quick.
TEST_TRAIN_STEPS = 500


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """One classifier per test session, trained on mnist_sample into a temporary cache."""
    cache_dir = str(tmp_path_factory.mktemp('classifiers') / 'mnist_sample')
    clf, images, labels, accuracy = classifier.get_classifier(
        'mnist_sample', cache_dir=cache_dir, steps=TEST_TRAIN_STEPS)
    yield types.SimpleNamespace(classifier=clf, images=images, labels=labels,
                                accuracy=accuracy, cache_dir=cache_dir)
    clf.close()


@pytest.fixture(scope='session')
def real_reference(trained):
    """Real held-out features and reference row, shared so each test skips recomputing them."""
    return evaluate.RealReference(trained.classifier, trained.images, trained.labels)


def real_digit_sampler(images, labels, label_shift=0, seed=0):
    """A sample_fn that answers each requested label with a real digit of label + label_shift."""
    rng = np.random.default_rng(seed)
    by_class = [images[labels == digit] for digit in range(10)]

    def sample_fn(requested):
        out = np.empty((len(requested), 28, 28, 1), np.float32)
        for i, label in enumerate(requested):
            pool = by_class[(int(label) + label_shift) % 10]
            out[i] = pool[rng.integers(len(pool))]
        return out
    return sample_fn


# ---------------------------------------------------------------- metric functions

def test_frechet_distance_of_a_set_with_itself_is_zero():
    feats = np.random.default_rng(0).normal(size=(500, 8))
    assert evaluate.frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_closed_form_for_shifted_gaussians():
    # For N(mu_a, sa^2 I) and N(mu_b, sb^2 I) in d dimensions: |mu_a - mu_b|^2 + d (sa - sb)^2.
    rng = np.random.default_rng(1)
    dims = 4
    base = rng.normal(size=(20000, dims))
    distances = []
    for shift in (0.5, 1.0, 2.0):
        mean_shift = np.full(dims, shift)
        fd = evaluate.frechet_distance(base, base + mean_shift)
        assert fd == pytest.approx(dims * shift ** 2, rel=1e-3)
        distances.append(fd)
    assert distances[0] < distances[1] < distances[2]

    other = rng.normal(size=(20000, dims)) * 2.0 + 1.0
    expected = dims * 1.0 ** 2 + dims * (1.0 - 2.0) ** 2
    assert evaluate.frechet_distance(base, other) == pytest.approx(expected, rel=0.05)


def test_frechet_distance_is_a_real_float_for_singular_covariances():
    # Fewer rows than dimensions: the matrix square root picks up tiny imaginary parts.
    rng = np.random.default_rng(2)
    fd = evaluate.frechet_distance(rng.normal(size=(10, 32)), rng.normal(size=(10, 32)) + 1.0)
    assert isinstance(fd, float)
    assert np.isfinite(fd) and fd > 0


def test_mean_pairwise_distance_known_values():
    assert evaluate.mean_pairwise_distance(np.ones((7, 5))) == 0.0
    assert evaluate.mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    triangle = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert evaluate.mean_pairwise_distance(triangle) == pytest.approx((3 + 4 + 5) / 3)


def test_diversity_ratio_known_values():
    real = np.random.default_rng(3).normal(size=(200, 6))
    assert evaluate.diversity_ratio(real, real) == pytest.approx(1.0)
    assert evaluate.diversity_ratio(real * 2.0, real) == pytest.approx(2.0)
    assert evaluate.diversity_ratio(np.tile(real[:1], (50, 1)), real) == 0.0


def test_per_class_accuracy_known_values():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 5])
    per_class = evaluate.per_class_accuracy(predicted, labels)
    assert len(per_class) == 10
    assert per_class[:3] == pytest.approx([0.5, 2 / 3, 0.0])
    assert all(np.isnan(value) for value in per_class[3:])  # no samples of those digits


# ---------------------------------------------------------------- classifier

def test_classifier_is_accurate_on_held_out_sample_digits(trained):
    assert np.bincount(trained.labels, minlength=10).tolist() == [100] * 10  # stratified hold-out
    assert trained.images.shape == (1000, 28, 28, 1) and trained.images.dtype == np.float32
    predicted = trained.classifier.predict(trained.images)
    assert predicted.shape == (1000,)
    assert np.mean(predicted == trained.labels) == pytest.approx(trained.accuracy)
    assert trained.accuracy >= 0.95


def test_classifier_outputs_have_the_documented_shapes(trained):
    images = trained.images[:7]
    features = trained.classifier.features(images)
    assert features.dtype == np.float32 and features.ndim == 2 and features.shape[0] == 7
    probabilities = trained.classifier.probabilities(images)
    assert probabilities.shape == (7, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert trained.classifier.logits(images).shape == (7, 10)


def test_second_call_loads_the_cache_instead_of_training(trained, monkeypatch):
    def refuse_to_train(*args, **kwargs):
        raise AssertionError('the cached classifier should have been loaded')
    monkeypatch.setattr(classifier.Classifier, 'train', refuse_to_train)
    clf, images, labels, accuracy = classifier.get_classifier(
        'mnist_sample', cache_dir=trained.cache_dir, steps=TEST_TRAIN_STEPS)
    try:
        assert accuracy == trained.accuracy
        np.testing.assert_array_equal(images, trained.images)
        np.testing.assert_array_equal(labels, trained.labels)
        np.testing.assert_allclose(clf.features(images[:50]),
                                   trained.classifier.features(images[:50]), rtol=1e-5, atol=1e-5)
    finally:
        clf.close()


def count_training_runs(monkeypatch):
    runs = []
    original_train = classifier.Classifier.train

    def counting_train(self, *args, **kwargs):
        runs.append(1)
        return original_train(self, *args, **kwargs)
    monkeypatch.setattr(classifier.Classifier, 'train', counting_train)
    return runs


def test_corrupt_cache_is_retrained_once(trained, tmp_path, monkeypatch, capsys):
    cache_dir = str(tmp_path / 'cache')
    shutil.copytree(trained.cache_dir, cache_dir)
    data_files = [name for name in os.listdir(cache_dir) if '.data-' in name]
    assert data_files
    with open(os.path.join(cache_dir, data_files[0]), 'r+b') as handle:
        handle.truncate(16)

    runs = count_training_runs(monkeypatch)
    clf, _, _, _ = classifier.get_classifier('mnist_sample', cache_dir=cache_dir, steps=20)
    clf.close()
    assert len(runs) == 1
    message_lines = [line for line in capsys.readouterr().err.splitlines() if 'retraining' in line]
    assert len(message_lines) == 1 and cache_dir in message_lines[0]

    clf, _, _, _ = classifier.get_classifier('mnist_sample', cache_dir=cache_dir, steps=20)
    clf.close()
    assert len(runs) == 1  # the retrained cache is sound


def test_cache_with_garbage_metadata_is_retrained(trained, tmp_path, monkeypatch):
    cache_dir = str(tmp_path / 'cache')
    shutil.copytree(trained.cache_dir, cache_dir)
    with open(os.path.join(cache_dir, classifier.CACHE_INFO_FILE), 'w') as handle:
        handle.write('{not json')
    runs = count_training_runs(monkeypatch)
    clf, _, _, _ = classifier.get_classifier('mnist_sample', cache_dir=cache_dir, steps=20)
    clf.close()
    assert len(runs) == 1
    with open(os.path.join(cache_dir, classifier.CACHE_INFO_FILE)) as handle:
        assert 'accuracy' in json.load(handle)


def test_interrupted_cache_write_leaves_no_cache(tmp_path, monkeypatch):
    def interrupted_save(self, directory):
        with open(os.path.join(directory, 'model.ckpt.index'), 'w') as handle:
            handle.write('half written')
        raise KeyboardInterrupt
    monkeypatch.setattr(classifier.Classifier, 'save', interrupted_save)
    cache_dir = str(tmp_path / 'cache')
    with pytest.raises(KeyboardInterrupt):
        classifier.get_classifier('mnist_sample', cache_dir=cache_dir, steps=5)
    assert not os.path.exists(cache_dir)
    assert os.listdir(str(tmp_path)) == []  # no temporary directory left behind either


# ---------------------------------------------------------------- evaluate_samples

EXPECTED_KEYS = {'accuracy', 'per_class_accuracy', 'frechet_distance', 'diversity_ratio',
                 'mode_collapse', 'reference'}


def test_real_digits_of_the_requested_class_score_high(trained, real_reference):
    sample_fn = real_digit_sampler(trained.images, trained.labels)
    result = evaluate.evaluate_samples(trained.classifier, sample_fn, trained.images,
                                       trained.labels, num_per_class=60, seed=0, real_reference=real_reference)
    assert set(result) == EXPECTED_KEYS
    assert result['accuracy'] >= 0.9
    assert len(result['per_class_accuracy']) == 10 and min(result['per_class_accuracy']) >= 0.7
    assert len(result['diversity_ratio']) == 10
    assert all(0.6 <= ratio <= 1.5 for ratio in result['diversity_ratio'])
    assert result['mode_collapse'] == []
    json.dumps(result)  # plain python numbers only


def test_digits_of_a_different_class_score_low(trained, real_reference):
    right = evaluate.evaluate_samples(
        trained.classifier, real_digit_sampler(trained.images, trained.labels),
        trained.images, trained.labels, num_per_class=60, seed=0, real_reference=real_reference)
    wrong = evaluate.evaluate_samples(
        trained.classifier, real_digit_sampler(trained.images, trained.labels, label_shift=1),
        trained.images, trained.labels, num_per_class=60, seed=0, real_reference=real_reference)
    assert wrong['accuracy'] <= 0.1
    # The class-blind distance barely moves: only the per-class check notices wrong conditioning.
    assert wrong['frechet_distance'] < 2 * right['frechet_distance'] + 1.0


def test_identical_images_are_flagged_as_mode_collapse(trained, real_reference):
    real_sampler = real_digit_sampler(trained.images, trained.labels)
    one_three = trained.images[trained.labels == 3][:1]

    def collapsed_threes(requested):
        out = real_sampler(requested)
        out[requested == 3] = one_three
        return out
    result = evaluate.evaluate_samples(trained.classifier, collapsed_threes, trained.images,
                                       trained.labels, num_per_class=40, seed=0, real_reference=real_reference)
    assert result['diversity_ratio'][3] == pytest.approx(0.0, abs=1e-6)
    assert result['mode_collapse'] == [3]


def test_real_reference_row(trained):
    result = evaluate.evaluate_samples(
        trained.classifier, real_digit_sampler(trained.images, trained.labels),
        trained.images, trained.labels, num_per_class=20, seed=0)
    reference = result['reference']
    assert reference['accuracy'] == pytest.approx(trained.accuracy)
    assert len(reference['per_class_accuracy']) == 10
    assert reference['frechet_distance'] >= 0
    assert all(0.8 <= ratio <= 1.25 for ratio in reference['diversity_ratio'])
    assert reference['mode_collapse'] == []


def test_generation_is_chunked_and_balanced(trained, real_reference):
    requests = []
    real_sampler = real_digit_sampler(trained.images, trained.labels)

    def recording_sampler(requested):
        requests.append(np.array(requested))
        return real_sampler(requested)
    evaluate.evaluate_samples(trained.classifier, recording_sampler, trained.images,
                              trained.labels, num_per_class=120, seed=0, real_reference=real_reference)
    assert max(len(chunk) for chunk in requests) <= evaluate.CHUNK_SIZE < 1200
    assert np.bincount(np.concatenate(requests), minlength=10).tolist() == [120] * 10


def test_sample_fn_with_the_wrong_shape_is_reported(trained, real_reference):
    with pytest.raises(ValueError, match='sample_fn'):
        evaluate.evaluate_samples(trained.classifier, lambda labels: np.zeros((len(labels), 28, 28)),
                                  trained.images, trained.labels, num_per_class=5, seed=0, real_reference=real_reference)


def test_evaluator_reuses_cache_and_real_features(trained, monkeypatch):
    runs = count_training_runs(monkeypatch)
    evaluator = evaluate.Evaluator('mnist_sample', data_path=None, cache_dir=trained.cache_dir,
                                   num_per_class=30)
    featurized = []
    original_features = evaluator.classifier.features

    def recording_features(images):
        featurized.append(len(images))
        return original_features(images)
    evaluator.classifier.features = recording_features
    try:
        first = evaluator.evaluate(real_digit_sampler(trained.images, trained.labels), seed=0)
        second = evaluator.evaluate(real_digit_sampler(trained.images, trained.labels), seed=0)
    finally:
        evaluator.close()
    assert runs == []
    assert featurized == [300, 300]  # only the generated digits; the real features were kept
    assert set(first) == EXPECTED_KEYS
    assert first == second
    direct = evaluate.evaluate_samples(
        trained.classifier, real_digit_sampler(trained.images, trained.labels),
        trained.images, trained.labels, num_per_class=30, seed=0)
    assert direct['accuracy'] == pytest.approx(first['accuracy'])
    assert direct['reference']['frechet_distance'] == pytest.approx(
        first['reference']['frechet_distance'], rel=1e-4)


# ---------------------------------------------------------------- command line

class FakeGenerator:
    """Stands in for a trained generator: answers with real held-out digits."""

    def __init__(self, images, labels):
        self.config = {'dataset': 'mnist_sample', 'data': None}
        self.sampler = real_digit_sampler(images, labels)
        self.closed = False

    def sample(self, labels, seed=None):
        return self.sampler(labels)

    def close(self):
        self.closed = True


def fake_generate_module(generator):
    module = types.ModuleType('generate')

    class GenerateError(Exception):
        pass

    def load_generator(logdir):
        if not os.path.isdir(logdir):
            raise GenerateError('no checkpoint in %s: train first with python main.py' % logdir)
        return generator
    module.GenerateError = GenerateError
    module.load_generator = load_generator
    return module


def test_cli_json_prints_exactly_one_json_object(trained, tmp_path, monkeypatch, capsys):
    generator = FakeGenerator(trained.images, trained.labels)
    monkeypatch.setitem(sys.modules, 'generate', fake_generate_module(generator))
    code = evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '20', '--json',
                          '--classifier-dir', trained.cache_dir])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert EXPECTED_KEYS <= set(result)
    assert result['accuracy'] >= 0.8
    assert generator.closed


def test_cli_table_has_generated_and_reference_rows(trained, tmp_path, monkeypatch, capsys):
    generator = FakeGenerator(trained.images, trained.labels)
    monkeypatch.setitem(sys.modules, 'generate', fake_generate_module(generator))
    code = evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '20',
                          '--classifier-dir', trained.cache_dir])
    out = capsys.readouterr().out
    assert code == 0
    assert 'generated' in out and 'real reference' in out
    assert 'FD' in out and 'diversity' in out


def test_cli_rejects_bad_arguments_with_one_line(capsys):
    assert evaluate.main(['--logdir', 'x', '--num-per-class', '1']) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'num-per-class' in err


def test_cli_missing_checkpoint_is_one_line_exit_2(tmp_path, capsys):
    pytest.importorskip('generate', reason='generate.py (the generator loader) is not in the tree yet')
    code = evaluate.main(['--logdir', str(tmp_path / 'does-not-exist'), '--num-per-class', '5'])
    assert code == 2
    err_lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err_lines and 'does-not-exist' in err_lines[-1]
    assert not any('Traceback' in line for line in err_lines)

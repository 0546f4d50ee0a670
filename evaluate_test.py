"""Spec tests for the measuring stick: metric functions, the cached classifier and evaluate_samples."""
import json
import os
import shutil
import types

import numpy as np
import pytest

import classifier
import evaluate
import quality
import runs
import settings
from conftest import NO_R1

# Enough for >= 95% on the held-out sample digits, small enough to keep this file quick.
TEST_TRAIN_STEPS = 500


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """One classifier per test session, trained on mnist_sample into a temporary cache."""
    cache_dir = str(tmp_path_factory.mktemp('classifiers') / 'mnist_sample')
    stick = classifier.get_classifier('mnist_sample', cache_dir=cache_dir, steps=TEST_TRAIN_STEPS)
    yield types.SimpleNamespace(classifier=stick.classifier, images=stick.held_images, labels=stick.held_labels,
                                train_images=stick.train_images, train_labels=stick.train_labels,
                                accuracy=stick.accuracy, cache_dir=cache_dir)
    stick.classifier.close()


@pytest.fixture(scope='session')
def real(trained):
    """The real digits' features and figures, shared so each test skips recomputing them."""
    return quality.RealDigits(trained.classifier, trained.images, trained.labels,
                              trained.train_images, trained.train_labels)


def real_digit_sampler(images, labels, label_shift=0, seed=0, num_classes=10):
    """A sample_fn that answers each requested label with a real digit of label + label_shift.

    Like a generator, it repeats no digit while others of its class are unused: repeats would inflate FD.
    """
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(images[labels == digit]) for digit in range(num_classes)]
    used = [0] * num_classes

    def sample_fn(requested):
        out = np.empty((len(requested), 28, 28, 1), np.float32)
        for i, label in enumerate(requested):
            digit = (int(label) + label_shift) % num_classes
            out[i] = by_class[digit][used[digit] % len(by_class[digit])]
            used[digit] += 1
        return out
    return sample_fn


# ---------------------------------------------------------------- metric functions

def test_frechet_distance_of_a_set_with_itself_is_zero():
    feats = np.random.default_rng(0).normal(size=(500, 8))
    assert quality.frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_closed_form_for_shifted_gaussians():
    # For N(mu_a, sa^2 I) and N(mu_b, sb^2 I) in d dimensions: |mu_a - mu_b|^2 + d (sa - sb)^2.
    rng = np.random.default_rng(1)
    dims = 4
    base = rng.normal(size=(20000, dims))
    distances = []
    for shift in (0.5, 1.0, 2.0):
        mean_shift = np.full(dims, shift)
        fd = quality.frechet_distance(base, base + mean_shift)
        assert fd == pytest.approx(dims * shift ** 2, rel=1e-3)
        distances.append(fd)
    assert distances[0] < distances[1] < distances[2]

    other = rng.normal(size=(20000, dims)) * 2.0 + 1.0
    expected = dims * 1.0 ** 2 + dims * (1.0 - 2.0) ** 2
    assert quality.frechet_distance(base, other) == pytest.approx(expected, rel=0.05)


def test_frechet_distance_against_a_fitted_gaussian_is_the_same():
    rng = np.random.default_rng(4)
    real, generated = rng.normal(size=(400, 16)), rng.normal(size=(300, 16)) * 1.5 + 0.3
    fitted = quality.Gaussian(real)
    assert quality.frechet_distance(generated, fitted) == pytest.approx(quality.frechet_distance(generated, real))
    assert quality.frechet_distance(generated, fitted) == pytest.approx(
        quality.frechet_distance(quality.Gaussian(generated), real))


def test_frechet_distance_is_a_real_float_for_singular_covariances():
    # Fewer rows than dimensions: the matrix square root picks up tiny imaginary parts.
    rng = np.random.default_rng(2)
    fd = quality.frechet_distance(rng.normal(size=(10, 32)), rng.normal(size=(10, 32)) + 1.0)
    assert isinstance(fd, float)
    assert np.isfinite(fd) and fd > 0


def test_mean_pairwise_distance_known_values():
    assert quality.mean_pairwise_distance(np.ones((7, 5))) == 0.0
    assert quality.mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    triangle = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert quality.mean_pairwise_distance(triangle) == pytest.approx((3 + 4 + 5) / 3)


def test_diversity_ratio_known_values():
    real = np.random.default_rng(3).normal(size=(200, 6))
    assert quality.diversity_ratio(real, real) == pytest.approx(1.0)
    assert quality.diversity_ratio(real * 2.0, real) == pytest.approx(2.0)
    assert quality.diversity_ratio(np.tile(real[:1], (50, 1)), real) == 0.0


def test_per_class_accuracy_known_values():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 5])
    per_class = quality.per_class_accuracy(predicted, labels, num_classes=10)
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
    stick = classifier.get_classifier('mnist_sample', cache_dir=trained.cache_dir, steps=TEST_TRAIN_STEPS)
    try:
        assert stick.accuracy == trained.accuracy
        np.testing.assert_array_equal(stick.held_images, trained.images)
        np.testing.assert_array_equal(stick.held_labels, trained.labels)
        np.testing.assert_allclose(stick.classifier.features(trained.images[:50]),
                                   trained.classifier.features(trained.images[:50]), rtol=1e-5, atol=1e-5)
    finally:
        stick.classifier.close()


def test_training_and_held_out_digits_are_disjoint(trained):
    assert len(trained.train_labels) == 4000 and len(trained.labels) == 1000   # 5,000 bundled digits
    flat_train = {image.tobytes() for image in trained.train_images}
    assert not any(image.tobytes() in flat_train for image in trained.images)


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
    classifier.get_classifier('mnist_sample', cache_dir=cache_dir, steps=20).classifier.close()
    assert len(runs) == 1
    message_lines = [line for line in capsys.readouterr().err.splitlines() if 'retraining' in line]
    assert len(message_lines) == 1 and cache_dir in message_lines[0]

    classifier.get_classifier('mnist_sample', cache_dir=cache_dir, steps=20).classifier.close()
    assert len(runs) == 1  # the retrained cache is sound


def test_cache_with_garbage_metadata_is_retrained(trained, tmp_path, monkeypatch):
    cache_dir = str(tmp_path / 'cache')
    shutil.copytree(trained.cache_dir, cache_dir)
    with open(os.path.join(cache_dir, classifier.CACHE_INFO_FILE), 'w') as handle:
        handle.write('{not json')
    runs = count_training_runs(monkeypatch)
    classifier.get_classifier('mnist_sample', cache_dir=cache_dir, steps=20).classifier.close()
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

EXPECTED_KEYS = {'conditioned', 'accuracy', 'per_class_accuracy', 'class_shares', 'frechet_distance',
                 'frechet_per_class', 'frechet_ratio', 'diversity_ratio', 'mode_collapse', 'memorisation_ratio',
                 'memorisation_flag', 'precision', 'recall', 'density', 'coverage', 'reference'}
MANIFOLD_KEYS = ('precision', 'recall', 'density', 'coverage')


def score(real, sample_fn, num_per_class=60, conditioned=True):
    return quality.evaluate_samples(real, sample_fn, num_per_class=num_per_class, seed=0, conditioned=conditioned)


def test_real_digits_of_the_requested_class_score_high(trained, real):
    result = score(real, real_digit_sampler(trained.images, trained.labels))
    assert set(result) == EXPECTED_KEYS
    assert result['accuracy'] >= 0.9
    assert len(result['per_class_accuracy']) == 10 and min(result['per_class_accuracy']) >= 0.7
    assert len(result['diversity_ratio']) == 10
    assert all(0.6 <= ratio <= 1.5 for ratio in result['diversity_ratio'])
    assert result['mode_collapse'] == []
    json.dumps(result)  # plain python numbers only


def test_digits_of_a_different_class_score_low(trained, real):
    right = score(real, real_digit_sampler(trained.images, trained.labels))
    wrong = score(real, real_digit_sampler(trained.images, trained.labels, label_shift=1))
    assert wrong['accuracy'] <= 0.1
    # The class-blind distance barely moves: only the per-class check notices wrong conditioning.
    assert wrong['frechet_distance'] < 2 * right['frechet_distance'] + 1.0


def test_identical_images_are_flagged_as_mode_collapse(trained, real):
    real_sampler = real_digit_sampler(trained.images, trained.labels)
    one_three = trained.images[trained.labels == 3][:1]

    def collapsed_threes(requested):
        out = real_sampler(requested)
        out[requested == 3] = one_three
        return out
    result = score(real, collapsed_threes, num_per_class=40)
    assert result['diversity_ratio'][3] == pytest.approx(0.0, abs=1e-6)
    assert result['mode_collapse'] == [3]


def test_real_reference_row(trained, real):
    reference = score(real, real_digit_sampler(trained.images, trained.labels), num_per_class=20)['reference']
    assert reference['accuracy'] == pytest.approx(trained.accuracy)   # on the held-out digits
    assert len(reference['per_class_accuracy']) == 10
    assert reference['frechet_distance'] > 0
    assert all(0.8 <= ratio <= 1.25 for ratio in reference['diversity_ratio'])
    assert reference['mode_collapse'] == []
    assert sum(reference['class_shares']) == pytest.approx(1.0)


@pytest.mark.parametrize('num_per_class', [20, 300])
def test_training_digits_score_a_frechet_ratio_near_one_at_any_size(trained, real, num_per_class):
    """The reference is measured at the generated digits' size, so real data scores about 1 whatever the size."""
    result = score(real, real_digit_sampler(trained.train_images, trained.train_labels, seed=1), num_per_class)
    assert result['frechet_per_class'] == num_per_class == result['reference']['frechet_per_class']
    assert 0.8 <= result['frechet_ratio'] <= 1.25
    assert result['frechet_ratio'] == pytest.approx(
        result['frechet_distance'] / result['reference']['frechet_distance'])


def test_small_samples_inflate_the_raw_distance_but_not_the_ratio(trained, real):
    training_digits = real_digit_sampler(trained.train_images, trained.train_labels, seed=1)
    small, large = score(real, training_digits, 20), score(real, training_digits, 300)
    assert small['frechet_distance'] > 2 * large['frechet_distance']
    assert small['reference']['frechet_distance'] > 2 * large['reference']['frechet_distance']


def test_reference_size_is_capped_by_the_training_digits(trained, real):
    scarcest = np.bincount(trained.train_labels).min()   # 400 a class in the 5,000 bundled digits
    result = score(real, real_digit_sampler(trained.train_images, trained.train_labels), scarcest + 20)
    assert result['frechet_per_class'] == scarcest == result['reference']['frechet_per_class']


def noise_sampler(requested):
    return np.random.default_rng(len(requested)).uniform(-1, 1, (len(requested), 28, 28, 1)).astype(np.float32)


def one_digit_per_class_sampler(images, labels):
    firsts = np.stack([images[labels == digit][0] for digit in range(10)])
    return lambda requested: firsts[requested]


def test_noise_or_one_digit_repeated_scores_a_frechet_ratio_far_above_one(trained, real):
    assert score(real, noise_sampler)['frechet_ratio'] > 5
    assert score(real, one_digit_per_class_sampler(trained.images, trained.labels))['frechet_ratio'] > 5


def test_one_digit_repeated_per_class_is_precise_but_recalls_and_covers_little(trained, real):
    result = score(real, one_digit_per_class_sampler(trained.images, trained.labels))
    assert result['precision'] > 0.9    # each is a real digit
    assert result['recall'] < 0.1 and result['coverage'] < 0.1


def test_noise_is_neither_precise_nor_covering(trained, real):
    result = score(real, noise_sampler)
    # A few real outliers' wide balls take in some noise; density counts each of them only once in k.
    assert result['precision'] < 0.25 and result['recall'] < 0.1
    assert result['density'] < 0.1 and result['coverage'] < 0.1


@pytest.mark.parametrize('num_per_class', [20, 300])
def test_training_digits_score_the_reference_rows_precision_recall_density_coverage(trained, real, num_per_class):
    result = score(real, real_digit_sampler(trained.train_images, trained.train_labels, seed=1), num_per_class)
    reference = result['reference']
    for name in MANIFOLD_KEYS:
        assert result[name] == pytest.approx(reference[name], abs=0.1), name
    assert reference['precision'] > 0.8 and reference['recall'] > 0.8
    assert reference['density'] == pytest.approx(1.0, abs=0.2)


def test_precision_recall_density_coverage_are_measured_at_the_frechet_sizes(trained, monkeypatch):
    # Both rows: the generated (or training) digits FD uses, against every held-out digit.
    real = quality.RealDigits(trained.classifier, trained.images, trained.labels,   # its reference rows: none yet
                              trained.train_images, trained.train_labels)
    sizes = []
    original = quality.manifold_figures

    def recording(gen_feats, real_feats, *args, **kwargs):
        sizes.append((len(gen_feats), real_feats))
        return original(gen_feats, real_feats, *args, **kwargs)
    monkeypatch.setattr(quality, 'manifold_figures', recording)
    score(real, real_digit_sampler(trained.images, trained.labels), 30)
    assert sizes == [(10 * 30, real.held_manifold)] * 2   # the reference row, then the generated one
    assert len(real.held_manifold.feats) == len(trained.labels)


def test_a_generator_returning_training_digits_is_flagged_as_copying(trained, real):
    result = score(real, real_digit_sampler(trained.train_images, trained.train_labels))
    assert result['memorisation_ratio'] < 0.1
    assert result['memorisation_flag'] is True


def test_a_generator_returning_fresh_digits_is_not_flagged(trained, real):
    result = score(real, real_digit_sampler(trained.images, trained.labels))   # never in the training part
    assert 0.85 <= result['memorisation_ratio'] <= 1.15
    assert result['memorisation_flag'] is False


def test_copies_of_training_digits_with_mild_noise_are_still_flagged(trained, real):
    copies = real_digit_sampler(trained.train_images, trained.train_labels)
    rng = np.random.default_rng(0)

    def noisy_copies(requested):
        images = copies(requested)
        return np.clip(images + rng.normal(scale=0.1, size=images.shape), -1, 1).astype(np.float32)
    assert score(real, noisy_copies)['memorisation_flag'] is True


# ---------------------------------------------------------------- stand-ins: what the figures mean

def test_stand_ins_are_training_digits_of_the_class_asked_for_altered_as_named(real):
    labels = np.repeat(np.arange(10), 3)
    for name, _ in quality.STAND_INS:
        images = quality.stand_in_sampler(real, name, seed=0)(labels)
        assert images.shape == (30, 28, 28, 1) and images.dtype == np.float32
        assert images.min() >= -1 and images.max() <= 1
    copies = quality.stand_in_sampler(real, 'copies', seed=0)(labels)
    as_rows = real.train_images.reshape(len(real.train_images), -1)
    for image, label in zip(copies, labels):
        same = np.flatnonzero((as_rows == image.reshape(1, -1)).all(axis=1))
        assert len(same) and real.train_labels[same[0]] == label
    moved = quality.stand_in_sampler(real, 'moved', seed=0)(labels)
    # The same digits (one seed picks them), most of them moved, each as a whole: its ink kept where the border
    # lets it.
    assert np.allclose((moved + 1).sum(axis=(1, 2, 3)), (copies + 1).sum(axis=(1, 2, 3)), rtol=0.05)
    assert (np.abs(moved - copies).max(axis=(1, 2, 3)) > 0).mean() > 0.5


def test_stand_ins_show_how_little_it_takes_to_raise_the_frechet_ratio(trained, real):
    """A generator that copies its training digits is flagged, and moving them by a pixel or blurring them
    raises the FD ratio far above that of the copies: the ratio is a strict judge of shapes."""
    ratios = {}
    for name, _ in quality.STAND_INS:
        result = score(real, quality.stand_in_sampler(real, name, seed=0))
        ratios[name] = result['frechet_ratio']
        if name == 'copies':
            assert result['memorisation_flag'] is True and result['accuracy'] > 0.9
    assert 1.2 * ratios['copies'] < ratios['moved'] < ratios['blurred'], ratios


def test_cli_stand_ins_print_one_row_each_and_the_reference(trained, capsys):
    argv = ['--stand-ins', 'mnist_sample', '--num-per-class', '20', '--classifier-dir', trained.cache_dir]
    assert evaluate.main(argv + ['--json']) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row['stand_in'] for row in result['rows']] == ['real reference'] + [n for n, _ in quality.STAND_INS]
    assert result['rows'][0]['frechet_ratio'] == 1.0
    assert all(row['frechet_ratio'] > 0 and 0 <= row['recall'] <= 1 for row in result['rows'])
    assert result['dataset'] == 'mnist_sample' and result['num_per_class'] == 20
    assert evaluate.main(argv) == 0
    table = capsys.readouterr().out
    assert all(what in table for _, what in quality.STAND_INS) and 'FD ratio' in table


@pytest.mark.parametrize('extra, words', [
    (['--compare', 'run'], ['--stand-ins', '--compare']),
    (['--curves', 'run'], ['--stand-ins', '--curves']),
    (['--trained-weights'], ['--stand-ins', '--trained-weights']),
])
def test_cli_stand_ins_take_no_run(extra, words, capsys):
    assert evaluate.main(['--stand-ins'] + extra) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and all(word in lines[0] for word in words), lines


def test_unconditioned_generator_reports_class_shares_instead_of_accuracy(trained, real):
    rng = np.random.default_rng(0)
    any_digit = real_digit_sampler(trained.images, trained.labels)

    def ignores_labels(requested):
        return any_digit(rng.permutation(requested))   # the same balanced digits, not the requested ones
    result = score(real, ignores_labels, num_per_class=40, conditioned=False)
    assert set(result) == EXPECTED_KEYS and result['conditioned'] is False
    assert result['accuracy'] is None and result['per_class_accuracy'] is None
    assert result['class_shares'] == pytest.approx([0.1] * 10, abs=0.03)
    assert all(0.6 <= ratio <= 1.5 for ratio in result['diversity_ratio'])   # per class the classifier assigns
    json.dumps(result)


def test_unconditioned_generator_missing_a_digit_shows_in_the_class_shares(trained, real):
    no_sevens = real_digit_sampler(trained.images, trained.labels)

    def never_seven(requested):
        return no_sevens(np.where(requested == 7, 1, requested))
    result = score(real, never_seven, num_per_class=40, conditioned=False)
    assert result['class_shares'][7] < 0.02 and result['class_shares'][1] > 0.15


def test_generation_is_chunked_and_balanced(trained, real):
    requests = []
    real_sampler = real_digit_sampler(trained.images, trained.labels)

    def recording_sampler(requested):
        requests.append(np.array(requested))
        return real_sampler(requested)
    score(real, recording_sampler, num_per_class=120)
    assert max(len(chunk) for chunk in requests) <= quality.CHUNK_SIZE < 1200
    assert np.bincount(np.concatenate(requests), minlength=10).tolist() == [120] * 10


def test_sample_fn_with_the_wrong_shape_is_reported(trained, real):
    with pytest.raises(ValueError, match='sample_fn'):
        score(real, lambda labels: np.zeros((len(labels), 28, 28)), num_per_class=5)


def test_nearest_neighbour_distances_known_values():
    neighbours = quality.NearestNeighbours(np.array([[0.0, 0.0], [10.0, 0.0]]), chunk=2)
    queries = np.array([[3.0, 4.0], [10.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(neighbours.distances(queries), [5.0, 1.0, 0.0], atol=1e-4)


def test_evaluator_reuses_cache_and_real_features(trained, real, monkeypatch):
    runs = count_training_runs(monkeypatch)
    evaluator = quality.Evaluator('mnist_sample', data_path=None, cache_dir=trained.cache_dir, num_per_class=30)
    featurized = []
    original = evaluator.classifier.features_and_predictions

    def recording(images):
        featurized.append(len(images))
        return original(images)
    evaluator.classifier.features_and_predictions = recording
    try:
        first = evaluator.evaluate(real_digit_sampler(trained.images, trained.labels), seed=0)
        second = evaluator.evaluate(real_digit_sampler(trained.images, trained.labels), seed=0)
    finally:
        evaluator.close()
    assert runs == []
    assert featurized == [300, 300]  # only the generated digits; the real features were kept
    assert set(first) == EXPECTED_KEYS
    assert first == second
    direct = score(real, real_digit_sampler(trained.images, trained.labels), num_per_class=30)
    assert direct['accuracy'] == pytest.approx(first['accuracy'])
    assert direct['reference']['frechet_distance'] == pytest.approx(first['reference']['frechet_distance'], rel=1e-4)


# ---------------------------------------------------------------- classes of a data set's own

SHAPES = ['bar', 'pole', 'box']


def shapes_file(path, per_class=110):
    """An .npz of three named classes, per_class images each and no test split: a bright bar across, one down, or a
    box, on faint noise."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(SHAPES)), per_class)
    images = rng.integers(0, 60, (len(labels), 28, 28)).astype(np.uint8)
    places = [(slice(12, 16), slice(4, 24)), (slice(4, 24), slice(12, 16)), (slice(8, 20), slice(8, 20))]
    for index, label in enumerate(labels):
        rows, columns = places[label]
        images[index, rows, columns] = rng.integers(200, 256)
    np.savez(str(path), x_train=images, y_train=labels, class_names=np.array(SHAPES))
    return str(path)


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    """A measuring stick for the three shapes, trained briefly into a cache of its own."""
    base = tmp_path_factory.mktemp('shapes')
    path, cache_dir = shapes_file(base / 'shapes.npz'), str(base / 'cache')
    stick = classifier.get_classifier('mnist', path, cache_dir=cache_dir, steps=30)
    yield types.SimpleNamespace(stick=stick, path=path, cache_dir=cache_dir)
    stick.classifier.close()


def test_the_classifier_has_an_output_per_class_of_its_data_and_its_cache_keeps_them(shapes, monkeypatch):
    stick = shapes.stick
    assert stick.class_names == SHAPES
    assert np.bincount(stick.held_labels).tolist() == [classifier.HOLD_OUT_PER_CLASS] * 3
    assert stick.classifier.probabilities(stick.held_images[:4]).shape == (4, 3)
    runs = count_training_runs(monkeypatch)
    again = classifier.get_classifier('mnist', shapes.path, cache_dir=shapes.cache_dir, steps=30)
    try:
        assert runs == [] and again.classifier.logits(stick.held_images[:4]).shape == (4, 3)
    finally:
        again.classifier.close()


def test_every_figure_of_a_class_is_measured_for_each_class_of_the_data(shapes):
    stick = shapes.stick
    real = quality.RealDigits(stick.classifier, stick.held_images, stick.held_labels, stick.train_images,
                              stick.train_labels)
    sampler = real_digit_sampler(stick.held_images, stick.held_labels, num_classes=3)
    result = quality.evaluate_samples(real, sampler, num_per_class=10, seed=0)
    for row in (result, result['reference']):
        for name in ('per_class_accuracy', 'diversity_ratio', 'class_shares'):
            assert len(row[name]) == 3, name
    assert result['frechet_per_class'] == 10 and sum(result['class_shares']) == pytest.approx(1.0)
    unconditioned = quality.evaluate_samples(real, sampler, num_per_class=10, seed=0, conditioned=False)
    assert len(unconditioned['class_shares']) == len(unconditioned['diversity_ratio']) == 3


# ---------------------------------------------------------------- command line

class FakeGenerator:
    """Stands in for a trained generator: answers with real digits (held-out ones unless told)."""
    weights, keeps_average, batch_norm = 'trained', False, 'trained'

    def __init__(self, images, labels, conditioned=True):
        self.settings = settings.resolve(dict(dataset='mnist_sample', conditioning='matching' if conditioned
                                              else 'none'))[0]
        self.config = settings.to_config(self.settings)
        self.conditioned = conditioned
        self.checkpoint_path = '/nowhere/model.ckpt-1234'
        self.sampler = real_digit_sampler(images, labels)
        self.closed = False

    def sample(self, labels, seed=None, noise_scale=1.0):
        return self.sampler(labels)

    def close(self):
        self.closed = True


def test_cli_json_prints_exactly_one_json_object(trained, tmp_path, monkeypatch, capsys):
    generator = FakeGenerator(trained.images, trained.labels)
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: generator)
    code = evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '20', '--json',
                          '--classifier-dir', trained.cache_dir])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert EXPECTED_KEYS <= set(result)
    assert result['accuracy'] >= 0.8
    assert result['memorisation_flag'] is False and 0.85 <= result['memorisation_ratio'] <= 1.15
    assert result['settings']['steps'] == 1234 and result['settings']['variant'] == '--dataset mnist_sample'
    assert generator.closed
    for row in (result, result['reference']):
        assert all(0.0 <= row[name] <= 1.0 for name in ('precision', 'recall', 'coverage'))
        assert row['density'] > 0
    assert result['settings']['manifold_k'] == quality.MANIFOLD_K


def test_trained_weights_are_scored_in_place_of_the_average_and_said_so(trained, tmp_path, monkeypatch, capsys):
    """--trained-weights: what a run trained with --ema-decay would draw without it; the JSON, the table and the
    comparison name which weights drew."""
    class AveragedRun(FakeGenerator):
        weights, keeps_average = 'averaged', True

        def draw_with_trained_weights(self):
            self.sampler = real_digit_sampler(trained.images, trained.labels, label_shift=1)   # another drawing
            self.weights = 'trained'

    def scored(flags):
        generator = AveragedRun(trained.images, trained.labels)
        generator.settings = settings.resolve(dict(dataset='mnist_sample', ema_decay=0.5))[0]
        monkeypatch.setattr(runs, 'load_generator', lambda logdir: generator)
        assert evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '20', '--json',
                              '--classifier-dir', trained.cache_dir] + flags) == 0
        return json.loads(capsys.readouterr().out)

    average, weights = scored([]), scored(['--trained-weights'])
    assert (average['settings']['weights'], weights['settings']['weights']) == ('averaged', 'trained')
    assert average['accuracy'] >= 0.8 and weights['accuracy'] <= 0.2
    assert weights['settings']['variant'] == average['settings']['variant'] == '--ema-decay 0.5 --dataset mnist_sample'
    row = dict(variant='--ema-decay 0.5', weights='trained', keeps_average=True)
    assert evaluate.variant_text(row) == '`--ema-decay 0.5`, trained weights'
    # A run drawn as it draws (every default run of the gan loss keeps an average) needs no note.
    assert evaluate.variant_text(dict(row, weights='averaged')) == '`--ema-decay 0.5`'
    assert evaluate.variant_text(dict(row, variant='--arch mlp', keeps_average=False)) == '`--arch mlp`'


def test_noise_scale_scores_the_run_drawing_from_wider_or_narrower_noise_and_says_so(trained, tmp_path, monkeypatch,
                                                                                     capsys):
    """--noise-scale S: noise from N(0, S^2) instead of N(0, 1), below 1 the truncation trick's fidelity for variety,
    above 1 the other way; the JSON, the table and the comparison say the scale."""
    asked = []

    class Recording(FakeGenerator):
        def sample(self, labels, seed=None, noise_scale=1.0):
            asked.append(noise_scale)
            return super().sample(labels, seed)
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: Recording(trained.images, trained.labels))
    argv = ['--logdir', str(tmp_path), '--num-per-class', '20', '--classifier-dir', trained.cache_dir]
    assert evaluate.main(argv + ['--noise-scale', '0.8', '--json']) == 0
    assert json.loads(capsys.readouterr().out)['settings']['noise_scale'] == 0.8 and set(asked) == {0.8}
    assert evaluate.main(argv + ['--noise-scale', '1.2']) == 0
    assert 'noise scaled by 1.2' in capsys.readouterr().out and asked[-1] == 1.2
    assert evaluate.main(argv + ['--json']) == 0
    assert json.loads(capsys.readouterr().out)['settings']['noise_scale'] == 1.0 and asked[-1] == 1.0
    row = dict(variant='--arch mlp', weights='trained', keeps_average=False, noise_scale=0.8)
    assert evaluate.variant_text(row) == '`--arch mlp`, noise scaled by 0.8'


@pytest.mark.parametrize('argv, words', [
    (['--noise-scale', '0'], ['--noise-scale', 'positive']),
    (['--noise-scale', '2', '--curves', 'run'], ['--noise-scale', '--curves']),
    (['--noise-scale', '2', '--stand-ins'], ['--noise-scale', '--stand-ins']),
])
def test_noise_scale_is_positive_and_scores_a_generator(argv, words, capsys):
    assert evaluate.main(argv) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and all(word in lines[0] for word in words), lines


def test_cli_table_shows_the_json_precision_recall_density_coverage_of_both_rows(trained, tmp_path, monkeypatch,
                                                                                   capsys):
    argv = ['--logdir', str(tmp_path), '--num-per-class', '20', '--classifier-dir', trained.cache_dir]
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: FakeGenerator(trained.images, trained.labels))
    assert evaluate.main(argv + ['--json']) == 0
    result = json.loads(capsys.readouterr().out)
    assert evaluate.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    [header] = [index for index, line in enumerate(lines) if line.split()[:4] == list(MANIFOLD_KEYS)]
    for line, row in zip(lines[header + 1:header + 3], (result, result['reference'])):
        title, numbers = line[:16].strip(), [float(cell) for cell in line[16:].split()]
        assert title == ('generated' if row is result else 'real reference')
        assert numbers == pytest.approx([row[name] for name in MANIFOLD_KEYS], abs=5e-4)
    assert any('k = %d' % quality.MANIFOLD_K in line for line in lines[header + 3:])


def test_cli_table_has_generated_and_reference_rows(trained, tmp_path, monkeypatch, capsys):
    generator = FakeGenerator(trained.images, trained.labels)
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: generator)
    code = evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '20',
                          '--classifier-dir', trained.cache_dir])
    out = capsys.readouterr().out
    assert code == 0
    assert 'generated' in out and 'real reference' in out
    assert 'FD ratio' in out and 'diversity' in out and 'memorisation' in out
    assert 'no sign of copying' in out


def test_cli_flags_a_run_that_copies_training_digits(trained, tmp_path, monkeypatch, capsys):
    generator = FakeGenerator(trained.train_images, trained.train_labels)
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: generator)
    assert evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '20',
                          '--classifier-dir', trained.cache_dir]) == 0
    assert 'COPYING' in capsys.readouterr().out


def test_cli_reports_no_accuracy_for_an_unconditioned_run(trained, tmp_path, monkeypatch, capsys):
    generator = FakeGenerator(trained.images, trained.labels, conditioned=False)
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: generator)
    assert evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '20', '--json',
                          '--classifier-dir', trained.cache_dir]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result['accuracy'] is None and result['per_class_accuracy'] is None
    assert len(result['class_shares']) == 10 and result['settings']['variant'] == '--conditioning none --dataset mnist_sample'
    assert evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '20',
                          '--classifier-dir', trained.cache_dir]) == 0
    out = capsys.readouterr().out
    assert 'accuracy  generated' not in out and 'share     generated' in out and 'unconditioned' in out


def test_cli_rejects_bad_arguments_with_one_line(capsys):
    assert evaluate.main(['--logdir', 'x', '--num-per-class', '1']) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'num-per-class' in err


@pytest.mark.parametrize('argv, words', [
    (['--sheet', 'sheet.png'], ['--sheet', '--compare']),
    (['--baseline', 'run'], ['--baseline', '--compare']),
    (['--compare', 'run', '--sheet', 'sheet.jpg'], ['--sheet', '.png']),
    (['--seed', '-1'], ['--seed']),
])
def test_cli_misused_flags_are_one_line_exit_2(argv, words, capsys):
    assert evaluate.main(argv) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and all(word in lines[0] for word in words), lines


def error_lines(capsys):
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return [line for line in err.splitlines() if line.strip() and not line.startswith('dataset:')]


def test_cli_missing_checkpoint_is_one_line_exit_2(tmp_path, capsys):
    code = evaluate.main(['--logdir', str(tmp_path / 'does-not-exist'), '--num-per-class', '5'])
    assert code == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'does-not-exist' in lines[0]


def test_cli_logdir_that_is_a_file_says_so(tmp_path, capsys):
    path = tmp_path / 'notes.txt'
    path.write_text('not a run')
    assert evaluate.main(['--logdir', str(path), '--num-per-class', '5']) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'is a file' in lines[0] and 'no such directory' not in lines[0]


def test_cli_config_that_is_not_an_object_is_one_line(tmp_path, capsys):
    (tmp_path / 'config.json').write_text('[1, 2, 3]')
    assert evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '5']) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'config.json' in lines[0]


# ---------------------------------------------------------------- --compare

TINY = ['--dataset', 'mnist_sample', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--condition-units', '8',
        '--seed', '0', '--save-every', '2', '--sample-every', '2', '--summary-every', '1', '--log-every', '1',
        '--eval-every', '0', '--steps', '2'] + NO_R1


@pytest.fixture(scope='module')
def tiny_runs(tmp_path_factory):
    """Two runs of two steps each, trained in this process: the default model and an unconditioned one."""
    import main as main_lib
    home = tmp_path_factory.mktemp('home')
    runs = [str(tmp_path_factory.mktemp('default_run')), str(tmp_path_factory.mktemp('plain_gan'))]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (('GAN_OFFLINE', '1'), ('HOME', str(home)), ('KERAS_HOME', str(home / '.keras'))):
            patch.setenv(name, value)
        assert main_lib.main(TINY + ['--logdir', runs[0]]) == 0
        assert main_lib.main(TINY + ['--conditioning', 'none', '--logdir', runs[1]]) == 0
    return runs


def count_panels(path):
    """Grids on a contact sheet: each is one connected patch of frame grey, hundreds of pixels large."""
    from PIL import Image
    from scipy import ndimage
    sheet = np.asarray(Image.open(path).convert('L'))
    patches, count = ndimage.label(sheet == 128)
    return int(np.sum(np.bincount(patches.ravel())[1:] > 1000))


def test_compare_prints_one_row_per_run_and_draws_one_panel_each(trained, tiny_runs, tmp_path, capsys):
    sheet = str(tmp_path / 'sheet.png')
    code = evaluate.main(['--compare'] + tiny_runs + ['--num-per-class', '20', '--sheet', sheet,
                                                      '--classifier-dir', trained.cache_dir])
    out, err = capsys.readouterr()
    assert code == 0, err
    table = [line for line in out.splitlines() if line.startswith('|')]
    assert len(table) == 2 + 2   # header, rule, one row per run
    assert 'FD / baseline' in table[0] and 'memorisation' in table[0]
    assert table[1] == '|' + '---|' * table[0].count(' | ') + '---|'   # a Markdown rule under the header
    default_row, plain_row = table[2:]
    # A variant is named by the flags that differ from the default run's: these tiny runs' sizes, too.
    # The plain GAN keeps no R1 by default, so its --r1-weight 0 is no difference.
    tiny = '--g-dim 8 --d-dim 8 --condition-units 8 %s--dataset mnist_sample --batch-size 8'
    assert '`%s`' % (tiny % '--r1-weight 0 ') in default_row and '| 2 |' in default_row
    assert '`--conditioning none %s`' % (tiny % '') in plain_row
    assert default_row.split('|')[10].strip() == '1.00'   # the first run is the baseline
    assert plain_row.split('|')[5].strip() == '-'          # no accuracy without labels
    columns = [cell.strip() for cell in table[0].split('|')]
    for row in (default_row, plain_row):
        cells = dict(zip(columns, row.split('|')))
        assert all(0.0 <= float(cells[name]) for name in MANIFOLD_KEYS)
    assert count_panels(sheet) == 2


def test_compare_tells_the_clustered_gan_from_the_original_one(trained, tiny_runs, tmp_path, capsys):
    import main as main_lib
    original = str(tmp_path / 'original')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('GAN_OFFLINE', '1')
        assert main_lib.main(TINY + ['--conditioning', 'none', '--clusters', '0', '--logdir', original]) == 0
    capsys.readouterr()
    code = evaluate.main(['--compare', tiny_runs[1], original, '--num-per-class', '5', '--sheet',
                          str(tmp_path / 'sheet.png'), '--classifier-dir', trained.cache_dir, '--json'])
    assert code == 0
    clustered, plain = [row['variant'] for row in json.loads(capsys.readouterr().out)['runs']]
    assert clustered.startswith('--conditioning none ') and '--clusters' not in clustered
    assert plain.startswith('--conditioning none ') and '--clusters 0' in plain


def test_compare_json_and_an_explicit_baseline(trained, tiny_runs, tmp_path, capsys):
    sheet = str(tmp_path / 'sheet.png')
    code = evaluate.main(['--compare', tiny_runs[0], '--baseline', tiny_runs[1], '--num-per-class', '20',
                          '--sheet', sheet, '--json', '--classifier-dir', trained.cache_dir])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [row['run'] for row in report['runs']] == [tiny_runs[1], tiny_runs[0]]   # the baseline comes first
    assert report['runs'][0]['frechet_vs_baseline'] == pytest.approx(1.0)
    assert all(isinstance(row[name], float) for row in report['runs'] for name in MANIFOLD_KEYS)
    assert count_panels(sheet) == 2


def test_contact_sheet_caption_names_precision_recall_density_coverage():
    row = dict(run='runs/wgan', variant='--loss wgan', weights='trained', keeps_average=False, steps=5000,
               seconds=300.0, accuracy=0.98,
               lowest_digit_accuracy=0.95, min_class_share=0.09, max_class_share=0.11, frechet_distance=12.0,
               frechet_ratio=1.3, frechet_vs_baseline=1.1, min_diversity_ratio=0.9, max_diversity_ratio=1.1,
               memorisation_ratio=0.97, memorisation_flag=False, precision=0.812, recall=0.634, density=0.957,
               coverage=0.701)
    assert 'precision 0.81, recall 0.63, density 0.96, coverage 0.70' in evaluate.caption(row)


def test_compare_names_the_run_it_cannot_read(trained, tiny_runs, tmp_path, capsys):
    sheet = tmp_path / 'sheet.png'
    code = evaluate.main(['--compare', tiny_runs[0], str(tmp_path / 'missing'), '--num-per-class', '5',
                          '--sheet', str(sheet), '--classifier-dir', trained.cache_dir])
    assert code == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'missing' in lines[0]
    assert not sheet.exists()


# --- curves: quality against training minutes, from each run's quality.jsonl ------------------------

def write_record(logdir, points):
    os.makedirs(str(logdir), exist_ok=True)
    with open(os.path.join(str(logdir), 'quality.jsonl'), 'w') as stream:
        for step, minutes, accuracy, ratio in points:
            stream.write(json.dumps({'step': step, 'training_seconds': 60 * minutes, 'accuracy': accuracy,
                                     'frechet_ratio': ratio}) + '\n')


def test_minutes_to_quality_is_read_from_the_first_point_meeting_both_targets(tmp_path):
    write_record(tmp_path / 'run', [(500, 1.0, 0.95, 4.0), (1000, 2.0, 0.992, 2.5), (1500, 3.0, 0.991, 1.9),
                                    (2000, 4.0, 0.999, 1.5)])
    records = quality.read_quality_record(str(tmp_path / 'run'))
    assert [r['step'] for r in records] == [500, 1000, 1500, 2000]
    assert quality.minutes_to_quality(records, accuracy=0.99, frechet_ratio=2.0) == pytest.approx(3.0)
    assert quality.minutes_to_quality(records, accuracy=0.9999, frechet_ratio=2.0) is None


def test_a_resumed_runs_record_keeps_the_last_point_of_each_step(tmp_path):
    write_record(tmp_path / 'run', [(500, 1.0, 0.9, 4.0), (1000, 2.0, 0.95, 3.0), (1000, 2.5, 0.96, 2.9)])
    assert [r['accuracy'] for r in quality.read_quality_record(str(tmp_path / 'run'))] == [0.9, 0.96]


def test_curves_draw_every_run_into_one_picture(tmp_path, capsys):
    from PIL import Image
    write_record(tmp_path / 'a', [(500, 1.0, 0.5, 9.0), (1000, 2.0, 0.8, 4.0)])
    write_record(tmp_path / 'b', [(500, 3.0, 0.7, 6.0), (1000, 6.0, 0.95, 2.0)])
    output = tmp_path / 'curves.png'
    assert evaluate.main(['--curves', str(tmp_path / 'a'), str(tmp_path / 'b'), '--output', str(output)]) == 0
    with Image.open(str(output)) as picture:
        assert picture.size[0] > 600 and picture.size[1] > 300
    assert str(output) in capsys.readouterr().out


def test_curves_drawn_again_replace_their_own_picture_and_never_the_users(tmp_path, capsys):
    write_record(tmp_path / 'a', [(500, 1.0, 0.5, 9.0), (1000, 2.0, 0.8, 4.0)])
    output = tmp_path / 'curves.png'
    for _ in range(2):   # the second run finds the first one's picture, marked as the project's, and replaces it
        assert evaluate.main(['--curves', str(tmp_path / 'a'), '--output', str(output)]) == 0
    output.write_bytes(b'my own picture')
    assert evaluate.main(['--curves', str(tmp_path / 'a'), '--output', str(output)]) == 2
    assert 'not replaced' in capsys.readouterr().err and output.read_bytes() == b'my own picture'


def test_curves_of_a_run_without_a_quality_record_is_one_line(tmp_path, capsys):
    (tmp_path / 'empty').mkdir()
    assert evaluate.main(['--curves', str(tmp_path / 'empty')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'quality.jsonl' in err[0] and '--eval-every' in err[0]


# ---------------------------------------------------------------- limits, checks before the work, one line each

def test_more_digits_per_class_than_the_documented_limit_is_one_line_at_once(trained, tmp_path, monkeypatch, capsys):
    generator = FakeGenerator(trained.images, trained.labels)
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: generator)
    assert evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '1000000000',
                          '--classifier-dir', trained.cache_dir]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and '--num-per-class' in lines[0] and '{:,}'.format(quality.MAX_NUM_PER_CLASS) in lines[0]
    assert '{:,}'.format(quality.MAX_NUM_PER_CLASS) in evaluate.build_parser().format_help()


@pytest.mark.parametrize('line', ['"hello"', '[1, 2]', '{"step": "one", "training_seconds": 60}',
                                  '{"step": 1, "training_seconds": "long"}', '{"step": 1, "accuracy": "high"}',
                                  '{"step": 1'])
def test_curves_of_a_quality_record_line_of_the_wrong_kind_is_one_line(line, tmp_path, capsys):
    write_record(tmp_path / 'run', [(500, 1.0, 0.5, 9.0)])
    with open(str(tmp_path / 'run' / 'quality.jsonl'), 'a') as stream:
        stream.write(line + '\n')
    assert evaluate.main(['--curves', str(tmp_path / 'run'), '--output', str(tmp_path / 'c.png')]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'quality.jsonl' in lines[0] and 'line 2' in lines[0], lines
    assert not (tmp_path / 'c.png').exists()


def test_curves_of_a_run_with_a_corrupt_config_is_one_line(tmp_path, capsys):
    write_record(tmp_path / 'run', [(500, 1.0, 0.5, 9.0)])
    (tmp_path / 'run' / 'config.json').write_text('{"model": ')
    assert evaluate.main(['--curves', str(tmp_path / 'run'), '--output', str(tmp_path / 'c.png')]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'config.json' in lines[0], lines


def test_curves_with_json_print_their_points(tmp_path, capsys):
    write_record(tmp_path / 'a', [(500, 1.0, 0.5, 9.0), (1000, 2.0, 0.8, 4.0)])
    output = tmp_path / 'curves.png'
    assert evaluate.main(['--curves', str(tmp_path / 'a'), '--output', str(output), '--json']) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['output'] == str(output) and output.exists()
    (run,) = report['runs']
    assert run['run'] == str(tmp_path / 'a')
    assert run['points'] == [{'step': 500, 'minutes': 1.0, 'accuracy': 0.5, 'frechet_ratio': 9.0},
                             {'step': 1000, 'minutes': 2.0, 'accuracy': 0.8, 'frechet_ratio': 4.0}]


def counting_measure_run(monkeypatch):
    measured = []
    original = evaluate.measure_run

    def counting(logdir, *args, **kwargs):
        measured.append(logdir)
        return original(logdir, *args, **kwargs)
    monkeypatch.setattr(evaluate, 'measure_run', counting)
    return measured


def test_compare_scores_a_run_given_twice_once(trained, tiny_runs, tmp_path, monkeypatch, capsys):
    measured = counting_measure_run(monkeypatch)
    again = os.path.join(tiny_runs[0], '.')
    assert evaluate.main(['--compare', tiny_runs[0], tiny_runs[0], again, '--num-per-class', '5', '--sheet',
                          str(tmp_path / 'sheet.png'), '--json', '--classifier-dir', trained.cache_dir]) == 0
    assert measured == [tiny_runs[0]]
    assert [row['run'] for row in json.loads(capsys.readouterr().out)['runs']] == [tiny_runs[0]]


def refuse_to_score(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('a run was scored before the checks')
    monkeypatch.setattr(evaluate, 'measure_run', refuse)


def test_compare_checks_the_sheet_before_scoring_any_run(tiny_runs, tmp_path, monkeypatch, capsys):
    (tmp_path / 'notes.txt').write_text('mine')
    refuse_to_score(monkeypatch)
    assert evaluate.main(['--compare'] + tiny_runs + ['--sheet', str(tmp_path / 'notes.txt' / 'sheet.png')]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and '--sheet' in lines[0] and 'notes.txt' in lines[0]
    assert (tmp_path / 'notes.txt').read_text() == 'mine'


def test_compare_checks_every_run_before_scoring_any(tiny_runs, tmp_path, monkeypatch, capsys):
    refuse_to_score(monkeypatch)
    assert evaluate.main(['--compare', tiny_runs[0], str(tmp_path / 'missing'), '--sheet',
                          str(tmp_path / 'sheet.png')]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'missing' in lines[0]


def test_compare_of_runs_on_several_data_sets_with_one_classifier_dir_is_refused_first(trained, tiny_runs, tmp_path,
                                                                                      monkeypatch, capsys):
    other = tmp_path / 'fashion_run'
    shutil.copytree(tiny_runs[1], str(other))
    config = json.loads((other / 'config.json').read_text())
    (other / 'config.json').write_text(json.dumps(dict(config, dataset='fashion_mnist')))
    refuse_to_score(monkeypatch)
    assert evaluate.main(['--compare', tiny_runs[0], str(other), '--sheet', str(tmp_path / 'sheet.png'),
                          '--classifier-dir', trained.cache_dir]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and '--classifier-dir' in lines[0]


def test_an_unwritable_sheet_found_only_while_writing_is_exit_1(trained, tiny_runs, tmp_path, monkeypatch, capsys):
    import errno
    import grids

    def full_disk(path, picture):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(grids, 'save_png', full_disk)
    assert evaluate.main(['--compare', tiny_runs[0], '--num-per-class', '5', '--sheet', str(tmp_path / 'sheet.png'),
                          '--classifier-dir', trained.cache_dir]) == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'sheet.png' in lines[0] and 'space' in lines[0]


def test_a_cache_place_that_fails_to_take_a_folder_is_exit_1(trained, tmp_path, monkeypatch, capsys):
    import errno
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, 'Read-only file system')
    generator = FakeGenerator(trained.images, trained.labels)
    monkeypatch.setattr(runs, 'load_generator', lambda logdir: generator)
    monkeypatch.setattr(tempfile, 'mkdtemp', read_only)
    assert evaluate.main(['--logdir', str(tmp_path), '--num-per-class', '5',
                          '--classifier-dir', str(tmp_path / 'new-cache')]) == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'new-cache' in lines[0] and 'Read-only' in lines[0]


# ---------------------------------------------------------------- --data: a run's data at a new path

def digits_file(path, invert=False):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 12)
    images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    images = 255 - images if invert else images
    np.savez(str(path), x_train=images, y_train=labels, x_test=images[::3], y_test=labels[::3])
    return str(path)


def test_evaluate_finds_a_runs_moved_data_with_data_and_refuses_other_data(tmp_path, monkeypatch, capsys):
    import main as main_lib
    for name, value in (('GAN_OFFLINE', '1'), ('HOME', str(tmp_path)), ('KERAS_HOME', str(tmp_path / '.keras'))):
        monkeypatch.setenv(name, value)
    original = digits_file(tmp_path / 'digits.npz')
    run = str(tmp_path / 'run')
    assert main_lib.main(['--data', original, '--batch-size', '8', '--g-dim', '8', '--d-dim', '8',
                          '--condition-units', '8', '--steps', '2', '--eval-every', '0', '--logdir', run]) == 0
    moved = str(tmp_path / 'elsewhere.npz')
    os.rename(original, moved)
    cache = str(tmp_path / 'cache')
    classifier.get_classifier('mnist', moved, cache_dir=cache, steps=20).classifier.close()
    config_before = open(os.path.join(run, 'config.json')).read()
    capsys.readouterr()

    assert evaluate.main(['--logdir', run, '--num-per-class', '5', '--classifier-dir', cache]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and original in lines[0] and '--data NEWPATH' in lines[0], lines

    assert evaluate.main(['--logdir', run, '--num-per-class', '5', '--classifier-dir', cache, '--data', moved,
                          '--json']) == 0
    assert json.loads(capsys.readouterr().out)['settings']['data'] == moved

    other = digits_file(tmp_path / 'other.npz', invert=True)
    assert evaluate.main(['--logdir', run, '--num-per-class', '5', '--classifier-dir', cache, '--data', other]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and 'other.npz' in lines[0] and 'other data' in lines[0], lines
    assert open(os.path.join(run, 'config.json')).read() == config_before   # evaluation changes no run


def test_trained_statistics_draw_the_averaged_weights_as_runs_did_before_their_statistics_were_recomputed(
        trained, tiny_runs, capsys):
    """A run that keeps an average draws it with batch-norm statistics recomputed for it, and --trained-statistics
    with the trained generator's moving ones instead, for comparing; the JSON and the table say which."""
    import runs
    noise = runs.draw_noise(10, 100, seed=0)
    with runs.load_generator(tiny_runs[0]) as generator:
        assert generator.keeps_average and generator.batch_norm == 'recomputed'
        recomputed = generator.sample(np.arange(10), noise=noise)
        alone = generator.sample(np.arange(1), noise=noise[:1])
        generator.draw_with_trained_statistics()
        assert generator.batch_norm == 'trained'
        with_trained = generator.sample(np.arange(10), noise=noise)
    np.testing.assert_allclose(recomputed[:1], alone, atol=1e-5)   # an image does not depend on its batch
    assert not np.allclose(recomputed, with_trained, atol=1e-3)
    argv = ['--logdir', tiny_runs[0], '--num-per-class', '20', '--json', '--classifier-dir', trained.cache_dir]
    assert evaluate.main(argv) == 0
    assert json.loads(capsys.readouterr().out)['settings']['batch_norm'] == 'recomputed'
    assert evaluate.main(argv + ['--trained-statistics']) == 0
    assert json.loads(capsys.readouterr().out)['settings']['batch_norm'] == 'trained'
    row = dict(variant='--g-dim 8', weights='averaged', keeps_average=True, batch_norm='trained')
    assert evaluate.variant_text(row) == '`--g-dim 8`, trained statistics'
    assert evaluate.variant_text(dict(row, batch_norm='recomputed')) == '`--g-dim 8`'

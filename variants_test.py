"""The GAN family behind the flags: each variant builds, trains a few steps, checkpoints, resumes and draws,
and keeps its own rule (one discriminator pair for plain GAN, clipped critic for WGAN, classic MLP sizes, ...).

Models are tiny and runs are 2-3 steps on the bundled MNIST sample, so the whole file stays fast.
"""
import glob
import json
import os
import re

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import clusters
import legacy
import settings
from dataset import GANDataset, write_idx
from lapgan import LapGANModel
from model import GANModel
from conftest import NO_R1, build, random_dataset

v1 = tf.compat.v1

TINY = ['--dataset', 'mnist_sample', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8', '--condition-units', '8',
        '--seed', '0', '--save-every', '1', '--sample-every', '2', '--summary-every', '1', '--log-every', '1'] + NO_R1


# ------------------------------------------------------------------------------------ helpers

@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path_factory):
    home = tmp_path_factory.getbasetemp() / 'variants_home'
    home.mkdir(exist_ok=True)
    for name, value in (('GAN_OFFLINE', '1'), ('HOME', str(home)), ('KERAS_HOME', str(home / '.keras'))):
        monkeypatch.setenv(name, value)
    return home


def main(argv):
    import main as main_lib
    return main_lib.main([str(a) for a in argv])


def generate(argv):
    import generate as generate_lib
    return generate_lib.main([str(a) for a in argv])


def checkpoint_steps(logdir):
    return sorted(int(re.search(r'-(\d+)\.index$', path).group(1))
                  for path in glob.glob(os.path.join(str(logdir), 'model.ckpt-*.index')))


def event_tags(logdir):
    tags = set()
    for path in glob.glob(os.path.join(str(logdir), 'events.out.tfevents.*')):
        for event in v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value if value.HasField('simple_value'))
    return tags


def error_line(err):
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith('dataset:')]
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]


def train_resume_generate(logdir, flags, capsys, draw=('--num', '2')):
    """2 steps with checkpoints, a resumed third step (restores them), then generate.py draws from the run."""
    assert main(TINY + list(flags) + ['--logdir', logdir, '--steps', '2']) == 0, capsys.readouterr().err
    assert checkpoint_steps(logdir) == [1, 2]
    assert main(['--logdir', logdir, '--steps', '3']) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert 'resuming %s from step 2' % logdir in out
    assert checkpoint_steps(logdir)[-1] == 3
    output = logdir.parent / ('%s.npy' % logdir.name)
    assert generate(['--logdir', logdir, '--output', output] + list(draw)) == 0, capsys.readouterr().err
    images = np.load(str(output))
    assert images.ndim == 3 and images.shape[1:] == (28, 28)
    assert 0.0 <= images.min() and images.max() <= 1.0 and np.isfinite(images).all()
    return images


def size_of(variables):
    return sum(int(np.prod(v.shape.as_list())) for v in variables)


def variable_named(model, name):
    (variable,) = [v for v in model.graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES) if v.op.name == name]
    return variable


# ------------------------------------------------------------------------------------ --conditioning

def test_unconditioned_gan_judges_one_pair_with_p_real_and_p_fake_only():
    model, session = build(conditioning='none', clusters=0, g_dim=8, d_dim=8, seed=0)
    with session:
        assert model.discriminated_real_wrong_logits is None and model.loss.p_wrong is None
        assert set(model.metric_tensors) == {'generator_loss', 'discriminator_loss', 'discriminator_real_right_loss',
                                             'discriminator_fake_loss', 'mode_seeking_loss', 'p_real', 'p_fake'}
        # No label reaches either network: no condition weights, and the image ignores the label fed.
        names = [v.op.name for v in model.generator_variables + model.discriminator_variables]
        assert not [name for name in names if 'condition' in name]
        noise = np.random.default_rng(0).standard_normal((2, 100)).astype(np.float32)
        first = session.run(model.generated_image, {model.noise_input: noise, model.right_condition_input: [0, 0]})
        other = session.run(model.generated_image, {model.noise_input: noise, model.right_condition_input: [7, 3]})
        np.testing.assert_array_equal(first, other)
        data = random_dataset(size=16)
        feed = model.d_feed(data)
        real, fake, loss = session.run([model.loss.discriminator_real_right_loss, model.loss.discriminator_fake_loss,
                                        model.discriminator_loss], feed)
        assert loss == pytest.approx(real + fake, rel=1e-5)


def test_concat_feeds_one_hot_labels_to_the_inputs_of_both_networks_without_a_wrong_label_term():
    model, session = build(conditioning='concat', g_dim=8, d_dim=8, seed=0)
    with session:
        assert model.discriminated_real_wrong_logits is None and 'p_wrong' not in model.metric_tensors
        # G's first layer sees noise and the one-hot label; D's first convolution sees the image and 10 label maps.
        assert variable_named(model, 'generator/dense/w').shape.as_list()[0] == 100 + 10
        assert variable_named(model, 'discriminator/conv1/w').shape.as_list()[2] == 1 + 10
        # ... and, by default, to the input of every hidden layer too (transposed kernels are [k, k, out, in]).
        assert model.settings.concat_every_layer
        assert variable_named(model, 'generator/deconv1/w').shape.as_list()[3] == 2 * 8 + 10
        assert variable_named(model, 'generator/deconv2/w').shape.as_list()[3] == 8 + 10
        assert variable_named(model, 'discriminator/conv2/w').shape.as_list()[2] == 8 + 10
        assert not [v for v in model.generator_variables + model.discriminator_variables if 'condition' in v.op.name]
        noise = np.random.default_rng(0).standard_normal((1, 100)).astype(np.float32)
        images = [session.run(model.generated_image, {model.noise_input: noise, model.right_condition_input: [d]})
                  for d in (1, 7)]
        assert np.abs(images[0] - images[1]).max() > 0


def test_concat_at_the_inputs_only_as_version_0_1_0_did():
    model, session = build(conditioning='concat', concat_every_layer=False, g_dim=8, d_dim=8, seed=0)
    session.close()
    assert variable_named(model, 'generator/deconv1/w').shape.as_list()[3] == 2 * 8
    assert variable_named(model, 'discriminator/conv2/w').shape.as_list()[2] == 8


def test_matching_default_keeps_the_wrong_label_term():
    model, session = build(g_dim=8, d_dim=8, seed=0)
    with session:
        assert model.settings.conditioning == 'matching'
        assert model.discriminated_real_wrong_logits is not None and 'p_wrong' in model.metric_tensors


@pytest.mark.parametrize('conditioning', ['none', 'concat'])
def test_conditioning_variant_trains_checkpoints_resumes_and_draws(conditioning, tmp_path, capsys):
    logdir = tmp_path / conditioning
    images = train_resume_generate(logdir, ['--conditioning', conditioning], capsys)
    assert images.shape == (20, 28, 28)
    config = json.loads((logdir / 'config.json').read_text())
    # One field says what the graph does: the unconditioned GAN's default conditions on clusters.
    assert config['model']['conditioning'] == ('clusters' if conditioning == 'none' else conditioning)
    tags = event_tags(logdir)
    assert {'probabilities/p_real', 'probabilities/p_fake'} <= tags
    # CGAN judges no wrong-label pairs; the unconditioned GAN judges real images with a wrong cluster.
    judges_wrong_pairs = conditioning == 'none'
    assert ('probabilities/p_wrong' in tags) == ('loss/discriminator_real_wrong_loss' in tags) == judges_wrong_pairs
    if conditioning == 'none':
        # A new run found its clusters in the training images; the resumed one restored them.
        assert config['model']['clusters'] == 50
        centroids = tf.train.load_variable(str(logdir), 'clusters/centroids')
        shares = tf.train.load_variable(str(logdir), 'clusters/shares')
        assert centroids.shape == (50, 784) and np.abs(centroids).sum(axis=1).min() > 0
        assert shares.sum() == pytest.approx(1.0) and shares.min() > 0 and len(set(shares.tolist())) > 1
        assert generate(['--logdir', logdir, '--condition', '3', '--output', tmp_path / 'three.npy']) == 0
        assert 'ignored' in error_line(capsys.readouterr().err)


def test_the_unconditioned_gan_conditions_itself_on_clusters_of_the_training_images_by_default():
    assert settings.model_settings(conditioning='none').clusters == 50
    assert settings.model_settings(conditioning='none').conditioning == 'clusters'
    assert settings.model_settings().clusters == 0
    assert settings.model_settings(conditioning='concat').clusters == 0
    assert settings.model_settings('lapgan', conditioning='none').clusters == 0
    assert settings.model_settings(conditioning='none', clusters=0).conditioning == 'none'


def three_kinds_of_image(counts=(10, 6, 4)):
    """Images of three clearly different kinds (all black, all white, left half white), counts of each."""
    kinds = -np.ones((3, 28, 28, 1), np.float32)
    kinds[1] = 1.0
    kinds[2, :, :14] = 1.0
    return np.concatenate([np.repeat(kinds[k:k + 1], n, axis=0) for k, n in enumerate(counts)]), kinds


def test_clustered_unconditioned_gan_draws_each_cluster_as_often_as_the_training_images_hold_it():
    # Self-conditioned GAN (Liu et al., 2020): no label anywhere, yet the discriminator judges (image,
    # cluster) pairs as GAN-CLS judges (image, label) ones, so no cluster of the data goes missing.
    model, session = build(conditioning='none', clusters=3, g_dim=8, d_dim=8, seed=0)
    images, kinds = three_kinds_of_image()
    with session:
        model.find_clusters(session, images, seed=0)
        found = session.run(model.conditions.clusters.real, {model.discriminator_input: kinds})
        assert sorted(found) == [0, 1, 2]
        shares = session.run(model.conditions.clusters.shares)
        np.testing.assert_allclose(sorted(shares), [0.2, 0.3, 0.5], atol=1e-6)
        # The cluster a generated image belongs to is drawn from the noise, as often as the data holds it.
        noise = np.random.default_rng(0).standard_normal((20000, 100)).astype(np.float32)
        drawn = np.bincount(session.run(model.conditions.clusters.generated, {model.noise_input: noise}), minlength=3) / 20000
        np.testing.assert_allclose(drawn, shares, atol=0.02)
        # The image is a function of the noise alone: labels fed are ignored.
        first = session.run(model.generated_image, {model.noise_input: noise[:4], model.right_condition_input: [0] * 4})
        other = session.run(model.generated_image, {model.noise_input: noise[:4], model.right_condition_input: [7] * 4})
        np.testing.assert_array_equal(first, other)
        # Real images with a wrong cluster are judged too, and the generated images' clusters pair them for
        # the mode-seeking term.
        assert model.discriminated_real_wrong_logits is not None and 'p_wrong' in model.metric_tensors
        data = GANDataset(images, np.zeros(len(images), np.int64), noise_len=100, batch_size=4, seed=0)
        model.fit(session, data, epochs=None, max_steps=2)
        assert all(np.isfinite(value) for value in model.last_metrics.values())


def test_clusters_need_the_unconditioned_gan_of_one_generator():
    with pytest.raises(ValueError, match='clusters'):
        GANModel(conditioning='matching', clusters=10)
    with tf.Graph().as_default(), pytest.raises(ValueError, match='at least 2'):
        GANModel(conditioning='none', clusters=1)   # no other cluster to make a wrong pair with
    with tf.Graph().as_default(), pytest.raises(ValueError, match='clusters'):
        LapGANModel(conditioning='none', clusters=10)


def test_kmeans_finds_separated_groups_and_their_sizes():
    images, kinds = three_kinds_of_image(counts=(7, 2, 11))
    centroids, counts = clusters.kmeans(images.reshape(len(images), -1), 3, seed=0)
    order = np.argsort(counts)
    assert list(counts[order]) == [2, 7, 11]
    np.testing.assert_allclose(centroids[order], kinds[[1, 0, 2]].reshape(3, -1), atol=1e-6)
    with pytest.raises(ValueError, match='clusters'):
        clusters.kmeans(images.reshape(len(images), -1), 21, seed=0)

# ------------------------------------------------------------------------------------ --arch mlp

def test_unconditioned_mlp_has_the_classic_parameter_counts():
    model, session = build(conditioning='none', clusters=0, arch='mlp', ema_decay=0.0)   # no averaged copy
    with session:
        # G 100-256-512-1024-784 with batch norm (gamma, beta and both moving statistics); D 784-512-256-1.
        assert size_of(model.generator_variables + model.generator_state_variables) == 1493520
        assert size_of(model.discriminator_variables) == 533505
        shapes = [v.shape.as_list() for v in model.generator_variables if v.op.name.endswith('/w')]
        assert shapes == [[100, 256], [256, 512], [512, 1024], [1024, 784]]
        generated = session.run(model.generated_image, {
            model.noise_input: np.random.default_rng(0).standard_normal((3, 100))})
        assert generated.shape == (3, 28, 28, 1) and -1.0 <= generated.min() and generated.max() <= 1.0


def test_mlp_generator_batch_norm_uses_momentum_0_8():
    model, session = build(conditioning='none', clusters=0, arch='mlp')
    with session:
        data = random_dataset(size=16)
        mean = variable_named(model, 'generator/bn0/moving_mean')
        assert not session.run(mean).any()
        feed = model.g_feed(data)
        dense0 = model.graph.get_tensor_by_name('generator/dense0/add:0')
        batch_mean = session.run(dense0, {model.noise_input: feed[model.noise_input]}).mean(axis=0)
        session.run(model.g_optimizer, feed)
        # One update moves the moving mean a fifth of the way from 0 to the batch mean.
        np.testing.assert_allclose(session.run(mean), 0.2 * batch_mean, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('conditioning', ['matching', 'none'])
def test_mlp_trains_checkpoints_resumes_and_draws(conditioning, tmp_path, capsys):
    images = train_resume_generate(tmp_path / conditioning, ['--arch', 'mlp', '--conditioning', conditioning], capsys)
    assert images.shape == (20, 28, 28)


# ------------------------------------------------------------------------------------ --loss wgan

def test_wgan_critic_loss_is_the_raw_score_difference_and_weights_stay_clipped():
    model, session = build(conditioning='none', clusters=0, loss='wgan', g_dim=8, d_dim=8, clip=0.01, seed=0)
    with session:
        data = random_dataset(size=16)
        # The N(0, 0.02) initial weights reach past the clip, so the clip has work to do.
        assert max(np.abs(session.run(v)).max() for v in model.discriminator_variables) > 0.01
        feed = model.d_feed(data)
        real, fake, loss, estimate = session.run([model.discriminated_real_right_logits,
                                                  model.discriminated_fake_logits, model.discriminator_loss,
                                                  model.loss.wasserstein_estimate], feed)
        assert estimate == pytest.approx(real.mean() - fake.mean(), rel=1e-4, abs=1e-7)
        assert loss == pytest.approx(-estimate, rel=1e-4, abs=1e-7)
        model.fit(session, data, epochs=None, k_steps=1, max_steps=1)
        for variable in model.discriminator_variables:
            assert np.abs(session.run(variable)).max() <= 0.01 + 1e-7, variable.op.name
        op_types = {op.type for op in model.graph.get_operations()}
        assert op_types & {'ApplyRMSProp', 'ResourceApplyRMSProp'}
        assert not op_types & {'ApplyAdam', 'ResourceApplyAdam'}
        assert 'p_real' not in model.metric_tensors and 'wasserstein_estimate' in model.metric_tensors


def test_wgan_trains_five_critic_steps_logs_the_wasserstein_estimate_and_draws(tmp_path, capsys):
    logdir = tmp_path / 'wgan'
    train_resume_generate(logdir, ['--loss', 'wgan'], capsys)
    config = json.loads((logdir / 'config.json').read_text())
    assert config['k_steps'] == 5 and config['model']['learning_rate'] == 5e-5
    tags = event_tags(logdir)
    assert 'critic/wasserstein_estimate' in tags
    assert not [tag for tag in tags if tag.startswith('probabilities/')]


# ------------------------------------------------------------------------------------ --interpolate-conditions

def test_interpolated_conditions_add_a_generator_term_judged_real():
    plain, plain_session = build(g_dim=8, d_dim=8, seed=0)
    plain_session.close()
    assert plain.loss.interpolated_generator_loss is None
    model, session = build(g_dim=8, d_dim=8, seed=0, interpolate_conditions=True)
    with session:
        data = random_dataset(size=16)
        feed = model.g_feed(data)
        assert model.second_condition_input in feed
        fake_term, mixed_term, seeking, total = session.run(
            [model.loss.generator_fake_loss, model.loss.interpolated_generator_loss, model.loss.mode_seeking_loss,
             model.generator_loss], feed)
        assert total == pytest.approx(fake_term + mixed_term + model.settings.diversity_weight * seeking, rel=1e-5)
        # The term judges G(z, mix) under the half-and-half blend of the two labels' condition vectors.
        mix = session.run(model.interpolated_condition_vectors, feed)
        table = session.run(model.condition_table)
        expected = 0.5 * (table[feed[model.right_condition_input]] + table[feed[model.second_condition_input]])
        np.testing.assert_allclose(mix, expected)
        before = [session.run(v) for v in model.generator_variables]
        model.fit(session, data, epochs=None, k_steps=1, max_steps=2)
        assert 'interpolated_generator_loss' in model.last_metrics
        after = [session.run(v) for v in model.generator_variables]
        assert all(not np.array_equal(b, a) for b, a in zip(before, after))


def test_interpolated_conditions_need_a_condition():
    graph = tf.Graph()
    with graph.as_default(), pytest.raises(ValueError, match='interpolate-conditions'):
        GANModel(conditioning='none', interpolate_conditions=True)


def test_interpolate_conditions_flag_trains_checkpoints_resumes_and_draws(tmp_path, capsys):
    logdir = tmp_path / 'int'
    train_resume_generate(logdir, ['--interpolate-conditions'], capsys)
    assert json.loads((logdir / 'config.json').read_text())['model']['interpolate_conditions'] is True
    assert 'loss/interpolated_generator_loss' in event_tags(logdir)


# ------------------------------------------------------------------------------------ --condition-vectors

def test_condition_vectors_file_is_stored_with_the_run_and_used_to_draw(tmp_path, capsys):
    vectors = np.random.default_rng(0).standard_normal((10, 6)).astype(np.float32)
    path = tmp_path / 'sentences.npy'
    np.save(str(path), vectors)
    logdir = tmp_path / 'vectors'
    assert main(TINY + ['--condition-vectors', path, '--logdir', logdir, '--steps', '2']) == 0
    os.remove(str(path))   # the run keeps its own copy
    assert main(['--logdir', logdir, '--steps', '3']) == 0
    assert checkpoint_steps(logdir)[-1] == 3
    np.testing.assert_array_equal(np.load(str(logdir / 'condition_vectors.npy')), vectors)
    assert json.loads((logdir / 'config.json').read_text())['condition_vectors'] == 'condition_vectors.npy'
    import runs
    with runs.load_generator(str(logdir)) as generator:
        np.testing.assert_array_equal(generator.condition_table, vectors)
    capsys.readouterr()
    assert generate(['--logdir', logdir, '--condition', '3', '--num', '2', '--output', tmp_path / 'x.npy']) == 0
    assert np.load(str(tmp_path / 'x.npy')).shape == (2, 28, 28)


@pytest.mark.parametrize('case', ['missing', 'a folder', 'one-dimensional', 'wrong rows', 'not numbers', 'huge'])
def test_bad_condition_vectors_file_is_one_line_exit_2(case, tmp_path, capsys):
    path = tmp_path / 'vectors.npy'
    if case == 'a folder':
        path.mkdir()
    elif case == 'huge':   # would overflow the first layer: "training diverged" is no help
        np.save(str(path), np.eye(10, 4, dtype=np.float32) * 1e30)
    elif case == 'one-dimensional':
        np.save(str(path), np.zeros(10, np.float32))
    elif case == 'wrong rows':
        np.save(str(path), np.zeros((9, 4), np.float32))
    elif case == 'not numbers':
        path.write_text('hello')
    logdir = tmp_path / 'run'
    assert main(TINY + ['--condition-vectors', path, '--logdir', logdir, '--steps', '1']) == 2
    line = error_line(capsys.readouterr().err)
    assert str(path) in line and '--condition-vectors' in line
    assert ('is a folder' in line) == (case == 'a folder') and ('not found' in line) == (case == 'missing')
    assert 'pickle' not in line   # numpy's advice for a file with no .npy header: unpickling is never the fix
    assert not logdir.exists()


# ------------------------------------------------------------------------------------ --dataset fashion_mnist

@pytest.fixture
def fashion_files(offline):
    """A tiny Fashion-MNIST stand-in in the keras cache: 40 images, 4 of each class."""
    folder = offline / '.keras' / 'datasets' / 'fashion-mnist'
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    write_idx(folder / 'train-images-idx3-ubyte', rng.integers(0, 256, size=(40, 28, 28)))
    write_idx(folder / 'train-labels-idx1-ubyte', np.arange(40) % 10)
    return folder


def test_fashion_mnist_trains_and_names_its_classes(fashion_files, tmp_path, capsys):
    logdir = tmp_path / 'fashion'
    flags = ['--dataset', 'fashion_mnist', '--batch-size', '8', '--g-dim', '8', '--d-dim', '8',
             '--condition-units', '8', '--save-every', '1', '--sample-every', '2', '--log-every', '1']
    assert main(flags + ['--logdir', logdir, '--steps', '2']) == 0, capsys.readouterr().err
    assert main(['--logdir', logdir, '--steps', '3']) == 0
    capsys.readouterr()
    assert generate(['--logdir', logdir, '--condition', '3', '--num', '2']) == 0
    out = capsys.readouterr().out
    assert os.path.exists(str(logdir / 'generated_3_dress.png')) and 'Dress' in out
    assert generate(['--logdir', logdir, '--num', '2']) == 0
    out = capsys.readouterr().out
    assert 'T-shirt/top' in out and 'Ankle boot' in out
    # The names are also written beside the rows of the picture, and of the run's sample grids.
    unlabelled_width = 2 * 30 + 2
    assert np.asarray(Image.open(str(logdir / 'generated_all.png'))).shape[1] > unlabelled_width
    sample = sorted((logdir / 'samples').glob('*.png'))[-1]
    assert np.asarray(Image.open(str(sample))).shape[1] > 10 * 30 + 2


# ------------------------------------------------------------------------------------ generate.py --arithmetic

def test_arithmetic_draws_three_groups_their_means_and_the_combination(tmp_path, capsys):
    logdir = tmp_path / 'run'
    assert main(TINY + ['--logdir', logdir, '--steps', '1']) == 0
    output = tmp_path / 'arithmetic.npz'
    assert generate(['--logdir', logdir, '--arithmetic', '--condition', '4', '--output', output]) == 0
    arrays = np.load(str(output))
    images, noise = arrays['images'], arrays['noise']
    assert images.shape == (16, 28, 28) and noise.shape == (16, 100)
    # Rows of four: three samples of a group and the image of their mean noise; the last row is A - B + C
    # and three neighbours of it.
    groups = noise[:12].reshape(3, 4, 100)
    for group in groups:
        np.testing.assert_allclose(group[3], group[:3].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(noise[12], groups[0, 3] - groups[1, 3] + groups[2, 3], atol=1e-5)
    assert len({row.tobytes() for row in noise}) == 16
    import runs
    with runs.load_generator(str(logdir)) as generator:
        redrawn = generator.sample(np.full(16, 4), noise=noise)
    np.testing.assert_allclose(images, ((redrawn[..., 0] + 1) / 2).clip(0, 1), atol=1e-5)
    capsys.readouterr()
    assert generate(['--logdir', logdir, '--arithmetic']) == 0
    assert os.path.exists(str(logdir / 'generated_arithmetic.png'))


# ------------------------------------------------------------------------------------ --model lapgan

def lowpass(images):
    """2x2 average: one level down the pyramid."""
    n, h, w, c = images.shape
    return images.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def upsample(images):
    return images.repeat(2, axis=1).repeat(2, axis=2)


def upsample_bilinear(images):
    """Twice the size, each new pixel 3/4 of its nearest old pixel and 1/4 of the next (the edge repeated)."""
    for axis in (1, 2):
        before = np.concatenate([images.take([0], axis), images.take(range(images.shape[axis] - 1), axis)], axis)
        after = np.concatenate([images.take(range(1, images.shape[axis]), axis), images.take([-1], axis)], axis)
        images = np.stack([0.75 * images + 0.25 * before, 0.75 * images + 0.25 * after], axis + 1)
        shape = list(images.shape)
        images = images.reshape(shape[:axis] + [shape[axis] * 2] + shape[axis + 2:])
    return images


def design(number):
    """LAPGAN's level design as version 2 numbered it: 1, as runs stored before the setting; 2, today's."""
    return settings.LevelDesign(**legacy.LEVEL_DESIGNS[number])


def build_lapgan(**kwargs):
    if isinstance(kwargs.get('level_design'), int):
        kwargs['level_design'] = design(kwargs['level_design'])
    graph = tf.Graph()
    with graph.as_default():
        model = LapGANModel(g_dim=8, d_dim=8, condition_units=8, seed=0, **kwargs)
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    return model, session


@pytest.mark.parametrize('level_design', [1, 2])
def test_lapgan_discriminators_judge_residual_and_upsampled_low_pass_pairs(level_design):
    # Design 1 (runs stored before the setting): blocky upsampling, (residual, low-pass) pairs; design 2,
    # the default: bilinear upsampling, (image, low-pass) pairs, the same information in a form where a
    # blotch the residual leaves on the image shows.
    model, session = build_lapgan(level_design=level_design)
    assert settings.model_settings('lapgan').level_design == settings.LevelDesign() == design(2)
    with session:
        data = random_dataset(size=16)
        feed = model.d_feed(data)
        images = feed[model.discriminator_input]
        assert [level.size for level in model.levels] == [7, 14, 28]
        base = model.levels[0]
        np.testing.assert_allclose(session.run(base.discriminator_real_input, feed),
                                   lowpass(lowpass(images)), atol=1e-5)
        pyramid = {28: images, 14: lowpass(images), 7: lowpass(lowpass(images))}
        for level in model.levels[1:]:
            real, fake, residual = session.run([level.discriminator_real_input, level.discriminator_fake_input,
                                                level.generated_residual], feed)
            coarse = (upsample if level_design == 1 else upsample_bilinear)(pyramid[level.size // 2])
            assert real.shape == fake.shape == (len(images), level.size, level.size, 2)
            judged = pyramid[level.size] - coarse if level_design == 1 else pyramid[level.size]
            np.testing.assert_allclose(real[..., :1], judged, atol=1e-5)
            np.testing.assert_allclose(real[..., 1:], coarse, atol=1e-5)
            # The fake pair: the generator's residual for the same real low-pass image (added to it, design 2).
            np.testing.assert_allclose(fake[..., :1], residual if level_design == 1 else coarse + residual, atol=1e-5)
            np.testing.assert_allclose(fake[..., 1:], coarse, atol=1e-5)
        assert model.discriminated_real_wrong_logits is not None   # matching conditioning at every level


def test_lapgan_samples_coarse_to_fine_into_28x28_images_in_range():
    model, session = build_lapgan()
    with session:
        noise = np.random.default_rng(0).standard_normal((5, 100)).astype(np.float32)
        feed = {model.noise_input: noise, model.right_condition_input: [0, 1, 2, 3, 4]}
        coarse, middle, images = session.run(model.networks.stages, feed)
        assert coarse.shape == (5, 7, 7, 1) and middle.shape == (5, 14, 14, 1) and images.shape == (5, 28, 28, 1)
        assert -1.0 <= images.min() and images.max() <= 1.0
        np.testing.assert_array_equal(session.run(model.generated_image, feed), images)
        # Each finer level adds a residual to the upsampled coarser image.
        residual = session.run(model.levels[1].sampled_residual, feed)
        np.testing.assert_allclose(middle, np.clip(upsample(coarse) + residual, -1, 1), atol=1e-5)


def test_lapgan_levels_draw_from_their_own_slices_of_the_noise():
    """As in the paper, each level has its own noise: changing the finest level's slice leaves the
    coarser images alone and changes only the last residual."""
    model, session = build_lapgan()
    with session:
        noise = np.random.default_rng(0).standard_normal((4, 100)).astype(np.float32)
        slices = model.level_noise_slices
        assert [s.stop - s.start for s in slices] == [34, 33, 33] and slices[-1].stop == 100
        changed = noise.copy()
        changed[:, slices[-1]] = np.random.default_rng(1).standard_normal((4, 33))
        labels = [0, 1, 2, 3]
        before, after = (session.run(model.networks.stages, {model.noise_input: n, model.right_condition_input: labels})
                         for n in (noise, changed))
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_array_equal(before[1], after[1])
        assert not np.allclose(before[2], after[2])


def test_only_the_coarsest_lapgan_level_pays_the_mode_seeking_term():
    """Diversity comes from the 7x7 level, on its own noise; finer levels draw residuals for a given coarse
    image, and a term paying them for varied residuals would paint noise over the strokes."""
    from losses import gan_generator_loss, mode_seeking_loss
    model, session = build_lapgan(diversity_weight=0.5)
    with session:
        images = np.random.default_rng(0).uniform(-1, 1, size=(16, 28, 28, 1)).astype(np.float32)
        data = GANDataset(images, np.arange(16) % 2, noise_len=100, batch_size=4, seed=0)  # pairs in every batch
        model.d_feed(data)  # the generator step draws residuals for the last real batch
        feed = model.g_feed(data)
        assert [name for name in model.metric_tensors if name.endswith('mode_seeking_loss')] == [
            'level7_mode_seeking_loss']
        base = model.levels[0]
        seeking, image, noise = session.run([model.metric_tensors['level7_mode_seeking_loss'],
                                             base.generated_residual, base.noise], feed)
        graph = tf.Graph()
        with graph.as_default(), v1.Session(graph=graph) as alone:
            expected = alone.run(mode_seeking_loss(tf.constant(image), tf.constant(noise),
                                                   tf.constant(feed[model.right_condition_input])))
        assert seeking > 0 and seeking == pytest.approx(expected, rel=1e-4)
        fakes = session.run([gan_generator_loss(level.fake_logits) for level in model.levels], feed)
        assert session.run(model.generator_loss, feed) == pytest.approx(sum(fakes) + 0.5 * seeking, rel=1e-4)


def test_lapgan_fit_trains_every_level():
    model, session = build_lapgan(conditioning='concat')
    with session:
        before = [session.run(v) for v in model.generator_variables + model.discriminator_variables]
        for size in (7, 14, 28):
            assert [v for v in model.generator_variables if '/level%d/' % size in v.op.name]
            assert [v for v in model.discriminator_variables if '/level%d/' % size in v.op.name]
        assert model.fit(session, random_dataset(size=16), epochs=None, k_steps=1, max_steps=2) == 2
        after = [session.run(v) for v in model.generator_variables + model.discriminator_variables]
        assert all(not np.array_equal(b, a) for b, a in zip(before, after))
        assert {'generator_loss', 'discriminator_loss', 'p_real', 'p_fake'} <= set(model.last_metrics)


@pytest.mark.parametrize('level_convs', [1, 3])
def test_lapgan_levels_are_convolutional_networks_of_their_own(level_convs):
    """Each level's generator: level_convs 3x3 convolutions with batch norm and ReLU, then a linear 3x3
    output convolution; the finer levels see the upsampled coarse image beside a plane made from noise and
    label (design 1), or beside the noise and label tiled over it, through convolutions dilated 1, 2, 4 (2)."""
    code = 33 + 8   # the level's third of the noise and the label embedding
    for level_design, first_input, dilations in ((1, 2, [1, 1, 1]), (2, 1 + code, [1, 2, 4])):
        model, session = build_lapgan(level_convs=level_convs, level_design=level_design)
        session.close()
        for size in (14, 28):
            kernels = [v.shape.as_list() for v in model.generator_variables
                       if v.op.name.startswith('generator/level%d/conv' % size) and v.op.name.endswith('/w')]
            assert kernels == [[3, 3, first_input, 8]] + [[3, 3, 8, 8]] * (level_convs - 1) + [[3, 3, 8, 1]]
            norms = [v for v in model.generator_variables if v.op.name.startswith('generator/level%d/bn' % size)]
            assert len(norms) == 2 * level_convs   # gamma and beta
            convolutions = [op for op in model.graph.get_operations() if op.type == 'Conv2D'
                            and re.match(r'generator/level%d/conv\d+/Conv2D$' % size, op.name)]
            assert [op.get_attr('dilations')[1] for op in convolutions] == dilations[:level_convs] + [1]


def test_lapgan_trains_checkpoints_resumes_and_draws(tmp_path, capsys):
    logdir = tmp_path / 'lapgan'
    images = train_resume_generate(logdir, ['--model', 'lapgan'], capsys)
    assert images.shape == (20, 28, 28)
    assert json.loads((logdir / 'config.json').read_text())['model']['model_type'] == 'lapgan'
    # --pyramid: each sample as its 7x7, 14x14 and 28x28 stages, enlarged side by side; the last is the image.
    output = tmp_path / 'pyramid.npz'
    assert generate(['--logdir', logdir, '--pyramid', '--num', '2', '--output', output]) == 0
    cells, labels = np.load(str(output))['images'], np.load(str(output))['labels']
    assert cells.shape == (10 * 2 * 3, 28, 28) and list(labels[:6]) == [0] * 6 and labels[-1] == 9
    coarse, middle, fine = cells[0], cells[1], cells[2]
    assert np.array_equal(coarse, coarse[::4, ::4].repeat(4, 0).repeat(4, 1))
    assert np.array_equal(middle, middle[::2, ::2].repeat(2, 0).repeat(2, 1))
    import runs
    with runs.load_generator(str(logdir)) as generator:
        drawn = generator.sample([0], noise=runs.draw_noise(20, generator.noise_len, 0)[:1])
    np.testing.assert_allclose(fine, ((drawn[0, ..., 0] + 1) / 2).clip(0, 1), atol=1e-5)


def test_pyramid_of_a_single_scale_run_is_one_line(tmp_path, capsys):
    logdir = tmp_path / 'run'
    assert main(TINY + ['--logdir', logdir, '--steps', '1']) == 0
    capsys.readouterr()
    assert generate(['--logdir', logdir, '--pyramid']) == 2
    assert '--model lapgan' in error_line(capsys.readouterr().err)


def test_lapgan_refuses_options_it_does_not_have(tmp_path, capsys):
    assert main(TINY + ['--model', 'lapgan', '--loss', 'wgan', '--logdir', tmp_path / 'x', '--steps', '1']) == 2
    assert '--model lapgan' in error_line(capsys.readouterr().err)
    assert main(TINY + ['--model', 'lapgan', '--noise-len', '2', '--logdir', tmp_path / 'y', '--steps', '1']) == 2
    assert '--noise-len' in error_line(capsys.readouterr().err)

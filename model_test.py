"""The GANModel spec, in the order the model was built: shapes, sharing, fit, learning."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import build, random_dataset
from dataset import GANDataset
from model import GANModel
import ops

v1 = tf.compat.v1


def values(session, variables):
    return [session.run(v).copy() for v in variables]


def changed(before, after):
    return [not np.array_equal(b, a) for b, a in zip(before, after)]


@pytest.fixture
def model_and_session():
    model, session = build(noise_len=100, seed=1)
    yield model, session
    session.close()


# --- the walkthrough's four shape tests -------------------------------------------------------

def test_generate(model_and_session):
    model, session = model_and_session
    noise = np.random.normal(size=(1, 100))
    generated = session.run(model.generated_image, feed_dict={
        model.noise_input: noise, model.right_condition_input: [3]})
    assert generated.shape == (1, 28, 28, 1)
    assert -1.0 <= generated.min() and generated.max() <= 1.0


def test_discriminate_real_with_right_condition(model_and_session):
    model, session = model_and_session
    logits = session.run(model.discriminated_real_right_logits, feed_dict={
        model.discriminator_input: np.random.normal(size=(1, 28, 28, 1)),
        model.right_condition_input: [3]})
    assert logits.shape == (1, 1)


def test_discriminate_real_with_wrong_condition(model_and_session):
    model, session = model_and_session
    logits = session.run(model.discriminated_real_wrong_logits, feed_dict={
        model.discriminator_input: np.random.normal(size=(1, 28, 28, 1)),
        model.wrong_condition_input: [5]})
    assert logits.shape == (1, 1)


def test_discriminate_fake(model_and_session):
    model, session = model_and_session
    logits = session.run(model.discriminated_fake_logits, feed_dict={
        model.noise_input: np.random.normal(size=(1, 100)),
        model.right_condition_input: [3]})
    assert logits.shape == (1, 1)


# --- one discriminator, shared by variable scope ----------------------------------------------

def test_three_discriminator_outputs_use_one_set_of_variables(model_and_session):
    model, _ = model_and_session
    with model.graph.as_default():
        d_vars = model.discriminator_variables
        # One discriminator built alone, for the expected count.
        lone = tf.Graph()
        with lone.as_default():
            GANModel(noise_len=100)
            lone_count = len([v for v in v1.trainable_variables() if v.name.startswith('discriminator/')])
    assert len(d_vars) == lone_count
    names = [v.name for v in d_vars]
    assert len(names) == len(set(names))
    assert not any('_1/' in n or '_2/' in n for n in names), names


def test_changing_one_discriminator_variable_changes_all_three_outputs(model_and_session):
    model, session = model_and_session
    feed = {model.discriminator_input: np.random.normal(size=(2, 28, 28, 1)),
            model.right_condition_input: [1, 2], model.wrong_condition_input: [3, 4],
            model.noise_input: np.random.normal(size=(2, 100))}
    outputs = [model.discriminated_real_right_logits, model.discriminated_real_wrong_logits,
               model.discriminated_fake_logits]
    before = session.run(outputs, feed)
    last_bias = [v for v in model.discriminator_variables if v.shape.as_list() == [1]][-1]
    with model.graph.as_default():
        session.run(last_bias.assign_add([1.0]))
    after = session.run(outputs, feed)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b + 1.0, rtol=1e-5, atol=1e-5)


def test_the_real_batch_passes_the_layers_before_the_label_once_for_its_right_and_wrong_labels(model_and_session):
    """The label joins the discriminator after its first convolution, so what comes before is the same for
    (real, right) and (real, wrong): it runs once for both pairs, and each logit is still its own pair's."""
    model, session = model_and_session
    first_layer = [op for op in model.graph.get_operations() if op.type == 'Conv2D'
                   and op.name.startswith('discriminator') and op.name.endswith('conv1/Conv2D')]
    assert len(first_layer) == 2   # the real batch and the generated one
    images = np.random.normal(size=(2, 28, 28, 1))
    outputs = [model.discriminated_real_right_logits, model.discriminated_real_wrong_logits]
    right, wrong = session.run(outputs, {model.discriminator_input: images, model.right_condition_input: [1, 2],
                                         model.wrong_condition_input: [3, 4]})
    swapped_right, swapped_wrong = session.run(outputs, {
        model.discriminator_input: images, model.right_condition_input: [3, 4], model.wrong_condition_input: [1, 2]})
    np.testing.assert_allclose(swapped_right, wrong, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(swapped_wrong, right, rtol=1e-5, atol=1e-6)
    assert not np.allclose(right, wrong)


def test_the_discriminator_judges_real_images_it_never_trained_on_as_it_judges_its_training_batches(
        model_and_session):
    """real_probabilities: its output for real images with their right labels, one probability each, the
    number p_real averages over training batches; on digits it never trained on, what TensorBoard charts as
    p_held_out."""
    model, session = model_and_session
    images = np.random.default_rng(0).uniform(-1, 1, size=(5, 28, 28, 1)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 4])
    logits = session.run(model.discriminated_real_right_logits,
                         {model.discriminator_input: images, model.right_condition_input: labels})
    probabilities = model.real_probabilities(session, images, labels)
    assert probabilities.shape == (5,)
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-logits[:, 0])), rtol=1e-5)
    assert model.judges_held_out


@pytest.mark.parametrize('given', [{'loss': 'wgan'}, {'loss': 'wgan-gp'}])
def test_a_critic_gives_scores_not_probabilities_so_judges_no_held_out_digits(given):
    model, session = build(g_dim=8, d_dim=8, seed=0, **given)
    session.close()
    assert not model.judges_held_out


def test_generator_and_discriminator_variables_are_disjoint(model_and_session):
    model, _ = model_and_session
    g = set(v.name for v in model.generator_variables)
    d = set(v.name for v in model.discriminator_variables)
    assert g and d and not (g & d)
    with model.graph.as_default():
        trainable = set(v.name for v in v1.trainable_variables())
    assert g | d == trainable


# --- fit -------------------------------------------------------------------------------------

def test_each_optimizer_changes_only_its_own_network(model_and_session):
    model, session = model_and_session
    dataset = random_dataset()
    images, right, wrong = dataset.next_batch()
    feed = {model.discriminator_input: images, model.right_condition_input: right,
            model.wrong_condition_input: wrong, model.noise_input: dataset.next_noise(),
            model.is_training: True}
    g_before, d_before = values(session, model.generator_variables), values(session, model.discriminator_variables)
    session.run(model.d_optimizer, feed)
    assert all(changed(d_before, values(session, model.discriminator_variables)))
    assert not any(changed(g_before, values(session, model.generator_variables)))

    d_before = values(session, model.discriminator_variables)
    session.run(model.g_optimizer, {model.noise_input: dataset.next_noise(),
                                    model.right_condition_input: dataset.next_label(),
                                    model.is_training: True})
    assert all(changed(g_before, values(session, model.generator_variables)))
    assert not any(changed(d_before, values(session, model.discriminator_variables)))


def test_fit_moves_both_networks_batch_norm_statistics_and_the_global_step(model_and_session):
    model, session = model_and_session
    g_before, d_before = values(session, model.generator_variables), values(session, model.discriminator_variables)
    moving = [v for v in model.generator_state_variables if 'moving' in v.name]
    assert moving, 'the generator uses batch norm'
    moving_before = values(session, moving)
    model.fit(session, random_dataset(), epochs=1, k_steps=1)
    assert all(changed(g_before, values(session, model.generator_variables)))
    assert all(changed(d_before, values(session, model.discriminator_variables)))
    assert all(changed(moving_before, values(session, moving)))
    assert session.run(model.global_step) == 2  # 8 images, batch 4: two steps
    assert all(np.isfinite(v) for v in model.last_metrics.values())


def test_fit_runs_k_discriminator_steps_per_generator_step(model_and_session):
    model, session = model_and_session
    dataset = random_dataset(size=12, batch_size=2)
    model.fit(session, dataset, epochs=1, k_steps=2)
    # 6 batches: 3 generator steps of 2 discriminator batches each.
    assert session.run(model.global_step) == 3


def test_fit_stops_at_max_steps_and_calls_callbacks(model_and_session):
    model, session = model_and_session
    seen = []

    class Recorder:
        every_step = 2

        def __call__(self, dataset, step):
            seen.append(step)

    model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=5, callbacks=[Recorder()])
    assert session.run(model.global_step) == 5
    assert seen == [2, 4]


def test_generation_does_not_depend_on_the_rest_of_the_batch(model_and_session):
    """Moving statistics at generation: a single-digit batch keeps its condition."""
    model, session = model_and_session
    model.fit(session, random_dataset(size=40), epochs=2, k_steps=1)
    noise = np.random.default_rng(3).normal(size=(10, 100))
    mixed = session.run(model.generated_image, {model.noise_input: noise,
                                                model.right_condition_input: np.arange(10)})
    alone = session.run(model.generated_image, {model.noise_input: noise[3:4],
                                                model.right_condition_input: [3]})
    all_threes = session.run(model.generated_image, {model.noise_input: noise,
                                                     model.right_condition_input: np.full(10, 3)})
    np.testing.assert_allclose(alone[0], mixed[3], atol=1e-5)
    np.testing.assert_allclose(all_threes[3], mixed[3], atol=1e-5)
    # ... while the training path does use batch statistics.
    training = session.run(model.generated_image, {model.noise_input: noise[:2],
                                                   model.right_condition_input: [3, 3],
                                                   model.is_training: True})
    assert not np.allclose(training[0], mixed[0], atol=1e-3)


def test_same_seed_gives_same_initial_weights_and_first_losses():
    results = []
    for _ in range(2):
        model, session = build(noise_len=100, seed=7)
        model.fit(session, random_dataset(seed=1), epochs=None, k_steps=1, max_steps=1)
        results.append(dict(model.last_metrics))
        session.close()
    assert results[0] == pytest.approx(results[1], rel=1e-5)


# --- learning ----------------------------------------------------------------------------------

def two_patterns():
    """Class 1: a bright left half; class 7: a bright right half (plus a little noise)."""
    a = -np.ones((28, 28), np.float32)
    a[:, :14] = 1.0
    b = a[:, ::-1].copy()
    return a, b


def test_conditional_generator_learns_which_pattern_belongs_to_which_label():
    a, b = two_patterns()
    rng = np.random.default_rng(0)
    labels = np.array([1, 7] * 128)
    images = np.where(labels[:, None, None] == 1, a, b)[..., None]
    images = np.clip(images + rng.normal(0, 0.05, images.shape), -1, 1).astype(np.float32)
    model, session = build(noise_len=16, seed=0, g_dim=16, d_dim=16, condition_units=16)
    dataset = GANDataset(images, labels, noise_len=16, batch_size=32, seed=0)
    model.fit(session, dataset, epochs=None, k_steps=1, max_steps=300)

    noise = np.random.default_rng(1).normal(size=(50, 16))
    for label, own, other in [(1, a, b), (7, b, a)]:
        generated = session.run(model.generated_image, {model.noise_input: noise,
                                                        model.right_condition_input: np.full(50, label)})[..., 0]
        to_own = np.abs(generated - own).mean(axis=(1, 2))
        to_other = np.abs(generated - other).mean(axis=(1, 2))
        assert (to_own < to_other).mean() > 0.9, (label, to_own.mean(), to_other.mean())

    images_, right, wrong = dataset.next_batch()
    p_real, p_wrong = session.run([model.loss.p_real, model.loss.p_wrong], {
        model.discriminator_input: images_, model.right_condition_input: right,
        model.wrong_condition_input: wrong})
    assert p_wrong < p_real
    session.close()


def test_discriminator_sees_how_varied_its_batch_is():
    """Minibatch standard deviation: a batch of copies is judged differently from a varied one."""
    model, session = build(noise_len=100, seed=2)
    rng = np.random.default_rng(0)
    varied = rng.uniform(-1, 1, size=(4, 28, 28, 1))
    copies = np.repeat(varied[:1], 4, axis=0)
    logits = [session.run(model.discriminated_real_right_logits, {
        model.discriminator_input: batch, model.right_condition_input: [2] * 4})[0, 0] for batch in (varied, copies)]
    assert logits[0] != pytest.approx(logits[1], abs=1e-6)
    session.close()


# --- mode seeking: the generator is paid for drawing different images from different noise ------

def test_mode_seeking_loss_is_inverse_image_over_noise_distance_of_same_label_pairs():
    """MSGAN: for pairs with one label, mean |G(z1) - G(z2)| / mean |z1 - z2|; the loss is its inverse."""
    model, session = build(noise_len=100, seed=3, diversity_weight=0.5)
    noise = np.random.default_rng(0).normal(size=(5, 100))
    labels = [4, 4, 9, 9, 9]
    feed = {model.noise_input: noise, model.right_condition_input: labels, model.is_training: True}
    images, loss = session.run([model.generated_image, model.loss.mode_seeking_loss], feed)
    images = images.reshape(5, -1)
    ratios = [np.abs(images[i] - images[j]).mean() / np.abs(noise[i] - noise[j]).mean()
              for i, j in [(0, 1), (2, 3), (2, 4), (3, 4)]]  # never across labels
    assert loss == pytest.approx(1.0 / (np.mean(ratios) + 1e-5), rel=1e-3)
    generator_loss, fake_loss = session.run([model.generator_loss, model.loss.generator_fake_loss], feed)
    assert generator_loss == pytest.approx(fake_loss + 0.5 * loss, rel=1e-4)
    session.close()


def test_mode_seeking_loss_pairs_every_image_when_unconditional():
    model, session = build(noise_len=100, seed=3, conditioning='none', clusters=0,
                           diversity_weight=1.0)
    noise = np.random.default_rng(0).normal(size=(3, 100))
    images, loss = session.run([model.generated_image, model.loss.mode_seeking_loss],
                               {model.noise_input: noise, model.is_training: True})
    images = images.reshape(3, -1)
    ratios = [np.abs(images[i] - images[j]).mean() / np.abs(noise[i] - noise[j]).mean()
              for i, j in [(0, 1), (0, 2), (1, 2)]]
    assert loss == pytest.approx(1.0 / (np.mean(ratios) + 1e-5), rel=1e-3)
    session.close()


def test_without_a_same_label_pair_the_mode_seeking_loss_is_zero():
    model, session = build(noise_len=100, seed=3, diversity_weight=1.0)
    loss = session.run(model.loss.mode_seeking_loss, {model.noise_input: np.ones((3, 100)),
                                                 model.right_condition_input: [1, 2, 3], model.is_training: True})
    assert loss == 0.0
    session.close()


def test_no_mode_seeking_term_at_weight_zero():
    model, session = build(noise_len=100, seed=3, diversity_weight=0.0)
    assert model.loss.mode_seeking_loss is None
    assert 'mode_seeking_loss' not in model.metric_tensors
    session.close()


def test_mode_seeking_loss_pairs_at_most_the_first_64_images_so_memory_stays_bounded():
    """All pairs of a batch of B cost B * B * 784 numbers: a batch of 1,000 would need gigabytes."""
    from losses import mode_seeking_loss
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (200, 28, 28, 1)).astype(np.float32)
    noise = rng.normal(size=(200, 100)).astype(np.float32)
    labels = np.arange(200) % 10
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        whole = session.run(mode_seeking_loss(tf.constant(images), tf.constant(noise), tf.constant(labels)))
        first = session.run(mode_seeking_loss(tf.constant(images[:64]), tf.constant(noise[:64]),
                                              tf.constant(labels[:64])))
        other = session.run(mode_seeking_loss(tf.constant(images[64:128]), tf.constant(noise[64:128]),
                                              tf.constant(labels[64:128])))
    assert whole == pytest.approx(first, rel=1e-6) and whole != pytest.approx(other, rel=1e-3)


def test_mode_seeking_loss_measures_the_distances_of_the_pairs_it_counts_and_no_others():
    """A batch of 64 over 10 labels holds 174 same-label pairs, against 2,016 pairs of any two images: the
    term takes the differences of those 174 alone, a twelfth of the arithmetic of all pairs."""
    from losses import mode_seeking_loss
    rng = np.random.default_rng(0)
    labels = np.arange(64) % 10
    same_label_pairs = sum(n * (n - 1) // 2 for n in np.bincount(labels))
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        mode_seeking_loss(tf.constant(rng.uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)),
                          tf.constant(rng.normal(size=(64, 100)).astype(np.float32)), tf.constant(labels))
        sizes = session.run([tf.size(op.outputs[0]) for op in graph.get_operations() if op.type == 'Abs'])
    assert same_label_pairs == 174
    assert sorted(sizes) == [174 * 100, 174 * 28 * 28]


def test_fit_follows_a_learning_rate_schedule():
    """A scale of 0 freezes both networks; the linear decay reaches 0 at the last step."""
    from model import linear_decay
    model, session = build(noise_len=100, seed=1, g_dim=8, d_dim=8)
    with session:
        before = values(session, model.generator_variables + model.discriminator_variables)
        model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=2, learning_rate_scale=lambda step: 0.0)
        assert not any(changed(before, values(session, model.generator_variables + model.discriminator_variables)))
        model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=3, learning_rate_scale=lambda step: 1.0)
        assert all(changed(before, values(session, model.generator_variables)))
    decay = linear_decay(100, 0.25)
    assert [decay(step) for step in (0, 74, 75, 90, 100)] == [1.0, 1.0, 1.0, pytest.approx(0.4), 0.0]


def test_training_in_bfloat16_keeps_float32_weights_and_learns():
    """The bfloat16 rewrite changes how the arithmetic runs, not what the graph holds."""
    from model import session_config
    config = session_config(bfloat16=True)
    assert config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 == 1
    assert session_config().graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 == 0
    graph = tf.Graph()
    with graph.as_default():
        model = GANModel(noise_len=100, g_dim=8, d_dim=8, seed=0)
        session = v1.Session(graph=graph, config=config)
        session.run(v1.global_variables_initializer())
    with session:
        before = values(session, model.generator_variables)
        model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=2)
        after = values(session, model.generator_variables)
        assert all(changed(before, after)) and all(a.dtype == np.float32 for a in after)
        assert all(np.isfinite(v) for v in model.last_metrics.values())


def test_the_discriminator_can_see_every_image_through_a_differentiable_augmentation():
    feed_images = np.random.default_rng(0).uniform(-1, 1, size=(8, 28, 28, 1))
    outputs = []
    for augment in ('', 'translation,cutout'):
        model, session = build(noise_len=100, seed=1, g_dim=8, d_dim=8, augment=augment)
        with session:
            feed = {model.discriminator_input: feed_images, model.right_condition_input: np.arange(8) % 10}
            outputs.append([session.run(model.discriminated_real_right_logits, feed) for _ in range(2)])
            # The generator still learns through it.
            before = values(session, model.generator_variables)
            model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=1)
            assert all(changed(before, values(session, model.generator_variables)))
    plain, augmented = outputs
    np.testing.assert_array_equal(plain[0], plain[1])
    assert not np.allclose(augmented[0], augmented[1])


# --- spectral normalisation of the discriminator (--spectral-norm) ----------------------------------------

def test_spectral_normalisation_keeps_one_vector_per_discriminator_weight_moved_by_its_step_alone():
    """One singular-vector estimate per weight of the one discriminator (not one per pair it judges), advanced
    by the discriminator's step only."""
    model, session = build(g_dim=8, d_dim=8, spectral_norm=True, seed=0)
    with session:
        vectors = [v for v in tf.compat.v1.global_variables('discriminator/')
                   if v.op.name.endswith(ops.SINGULAR_VECTOR_SUFFIX)]
        weights = [v for v in model.discriminator_variables if v.shape.ndims >= 2]
        assert [v.op.name for v in vectors] == [w.op.name + ops.SINGULAR_VECTOR_SUFFIX for w in weights]
        dataset, start = random_dataset(), values(session, vectors)
        session.run(model.g_optimizer, model.g_feed(dataset))
        assert not any(changed(start, values(session, vectors)))
        session.run(model.d_optimizer, model.d_feed(dataset))
        moved = changed(start, values(session, vectors))
        # A weight of one output (the logit's) has a one-element vector: always 1, its norm is exact.
        assert moved == [v.shape[0] > 1 for v in vectors] and any(moved)


def test_without_spectral_normalisation_the_discriminator_reads_its_weights_as_they_are(model_and_session):
    model, _ = model_and_session
    assert not [v for v in tf.compat.v1.global_variables() if v.op.name.endswith(ops.SINGULAR_VECTOR_SUFFIX)]


# --- the averaged generator (--ema-decay) ------------------------------------------------------

def averages_of(model):
    """{trained weight: its average} by name: the averages sit beside the weights, named <weight>_average."""
    state = {v.op.name: v for v in model.generator_state_variables}
    return {v: state[v.op.name + '_average'] for v in model.generator_variables}


def test_the_averaged_generator_starts_at_the_trained_weights_and_follows_them_with_a_warm_up():
    """After step n the average moves by 1 - d toward the weights, d = min(decay, (1 + n) / (10 + n)), so that
    early averages are not dragged back to the random start."""
    model, session = build(g_dim=8, d_dim=8, ema_decay=0.5, seed=0)
    with session:
        averages = averages_of(model)
        assert len(averages) == len(model.generator_variables)
        start = values(session, model.generator_variables)
        assert all(np.array_equal(a, b) for a, b in zip(start, values(session, averages.values())))
        model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=1)
        trained = values(session, model.generator_variables)
        decay = min(0.5, 2 / 11)
        for before, after, average in zip(start, trained, values(session, averages.values())):
            np.testing.assert_allclose(average, decay * before + (1 - decay) * after, rtol=1e-5, atol=1e-6)
        assert any(changed(trained, values(session, averages.values())))


def test_with_an_averaged_generator_every_drawing_uses_the_averaged_weights():
    model, session = build(g_dim=8, d_dim=8, ema_decay=0.9, seed=0)
    with session:
        model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=3)
        feed = {model.noise_input: np.random.default_rng(0).normal(size=(4, 100)),
                model.right_condition_input: [0, 1, 2, 3]}
        drawn = session.run(model.generated_image, feed)
        trained = session.run(model.networks.generated, feed)
        assert not np.allclose(drawn, trained, atol=1e-4)
        for weight, average in averages_of(model).items():
            session.run(average.assign(weight))
        model.use_trained_statistics(session)
        np.testing.assert_allclose(session.run(model.generated_image, feed), trained, atol=1e-5)


def test_the_averaged_generator_normalises_with_statistics_recomputed_for_its_own_weights():
    """The trained generator's moving statistics were gathered for other weights than their average. Recomputed,
    the averaged generator normalises every image with the statistics its own weights give a fixed batch of every
    class (drawing_reference): so it draws that batch as if in training mode, and one image still comes out the
    same alone as in a batch. They are recomputed from the weights, never saved."""
    model, session = build(g_dim=8, d_dim=8, ema_decay=0.9, seed=0)
    with session:
        model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=3)
        reference = model.drawing_reference()
        assert sorted(np.bincount(reference[model.right_condition_input])) == [100] * 10
        model.recompute_drawing_statistics(session)
        in_training_mode = session.run(model.generated_image, reference)
        drawn = session.run(model.generated_image, {**reference, model.is_training: False})
        # Up to the n / (n - 1) that a stored variance carries (1,000 rows for the dense layer).
        np.testing.assert_allclose(drawn, in_training_mode, atol=1e-3)
        feed = {model.noise_input: reference[model.noise_input][700:701], model.right_condition_input: [7]}
        np.testing.assert_allclose(session.run(model.generated_image, feed), drawn[700:701], atol=1e-5)
        model.use_trained_statistics(session)
        assert not np.allclose(session.run(model.generated_image, feed), drawn[700:701], atol=1e-3)
        assert len(model.drawing_statistics) == 2 * len([v for v in model.generator_state_variables
                                                         if v.op.name.endswith('moving_mean')])
        saved = {v.op.name for v in ops.saved_variables()}
        assert saved and not saved & {v.op.name for v in model.drawing_statistics}
        assert not set(model.generator_state_variables) & set(model.drawing_statistics)


def test_drawing_statistics_follow_the_weights_once_per_training_step():
    model, session = build(g_dim=8, d_dim=8, ema_decay=0.9, seed=0)
    with session:
        model.recompute_drawing_statistics(session, step=0)
        first = values(session, model.drawing_statistics)
        model.fit(session, random_dataset(), epochs=None, k_steps=1, max_steps=2)
        model.recompute_drawing_statistics(session, step=0)   # asked again for the same step: kept
        assert not any(changed(first, values(session, model.drawing_statistics)))
        model.recompute_drawing_statistics(session, step=2)
        assert all(changed(first, values(session, model.drawing_statistics)))


def test_without_an_averaged_generator_drawing_uses_the_trained_weights():
    model, session = build(g_dim=8, d_dim=8, ema_decay=0.0, seed=0)
    session.close()
    assert model.generated_image is model.networks.generated
    assert not [v for v in model.generator_state_variables if v.op.name.endswith('_average')]
    assert model.drawing_statistics == [] and model.networks.recompute is None

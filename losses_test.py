"""The losses of the family and their training rules: one table, each loss a function of the logits."""
import numpy as np
import pytest
import tensorflow as tf

import lapgan
import losses
import model as model_lib
import settings
from conftest import build, random_dataset

v1 = tf.compat.v1


def evaluate(tensor_or_fn):
    graph = tf.Graph()
    with graph.as_default():
        fetch = tensor_or_fn()
        with v1.Session(graph=graph) as session:
            return session.run(fetch)


def logits(values):
    return tf.constant(np.asarray(values, np.float32).reshape(-1, 1))


def cross_entropy(x, target):
    return np.mean(np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x))))


REAL, FAKE, WRONG = [0.5, 2.0], [-1.0, 0.3], [0.2, -0.7]


def test_every_loss_of_the_model_comes_from_one_table():
    assert settings.CHOICES['loss'] == tuple(losses.RULES) == ('gan', 'wgan', 'wgan-gp')


def test_gan_loss_is_matching_aware_cross_entropy_with_a_non_saturating_generator():
    d, g, p_wrong = evaluate(lambda: [
        losses.gan_losses(losses.Judged(logits(REAL), logits(FAKE), logits(WRONG))).discriminator,
        losses.gan_losses(losses.Judged(logits(REAL), logits(FAKE), logits(WRONG))).generator,
        losses.gan_losses(losses.Judged(logits(REAL), logits(FAKE), logits(WRONG))).scalars['p_wrong']])
    real, fake, wrong = (np.asarray(v) for v in (REAL, FAKE, WRONG))
    assert d == pytest.approx(cross_entropy(real, 1) + (cross_entropy(wrong, 0) + cross_entropy(fake, 0)) / 2)
    assert g == pytest.approx(cross_entropy(fake, 1))
    assert p_wrong == pytest.approx(np.mean(1 / (1 + np.exp(-wrong))))
    # Without wrong pairs (plain GAN, CGAN) the two terms are simply added.
    plain = evaluate(lambda: losses.gan_losses(losses.Judged(logits(REAL), logits(FAKE))).discriminator)
    assert plain == pytest.approx(cross_entropy(real, 1) + cross_entropy(fake, 0))


def test_wgan_critic_loss_estimates_minus_the_wasserstein_distance():
    parts = evaluate(lambda: losses.wgan_losses(losses.Judged(logits(REAL), logits(FAKE), logits(WRONG))))
    assert parts.discriminator == pytest.approx(-np.mean(REAL) + (np.mean(FAKE) + np.mean(WRONG)) / 2)
    assert parts.generator == pytest.approx(-np.mean(FAKE))
    assert parts.scalars['wasserstein_estimate'] == pytest.approx(np.mean(REAL) - np.mean(FAKE))
    assert 'p_real' not in parts.scalars


def linear_critic(slope_x, slope_c=None):
    """critic(x, c) = <slope_x, x> (+ <slope_c, c>): its gradient is the slopes, wherever it is taken."""
    def critic(inputs, condition):
        score = tf.reduce_sum(inputs * slope_x, axis=[1, 2, 3])
        if condition is not None:
            score += tf.reduce_sum(condition * slope_c, axis=1)
        return score[:, None]
    return critic


def unit(shape, norm):
    vector = np.ones(shape, np.float32)
    return vector * norm / np.linalg.norm(vector)


def test_gradient_penalty_pulls_the_critic_gradient_norm_towards_one():
    real = np.random.default_rng(0).normal(size=(4, 28, 28, 1)).astype(np.float32)
    fake = np.random.default_rng(1).normal(size=(4, 28, 28, 1)).astype(np.float32)

    def penalty(norm):
        return evaluate(lambda: losses.gradient_penalty(losses.Judged(
            None, None, real_inputs=tf.constant(real), fake_inputs=tf.constant(fake),
            critic=linear_critic(unit((28, 28, 1), norm)))))
    assert penalty(1.0) == pytest.approx(0.0, abs=1e-6)
    assert penalty(3.0) == pytest.approx(4.0, rel=1e-4)


def test_wgan_gp_adds_the_penalty_and_a_drift_term_that_keeps_scores_near_zero():
    """Scores of a wrong-label pair have no other bound: the critic pays a little for any score far from 0."""
    real = np.zeros((2, 28, 28, 1), np.float32)
    right = np.eye(10, dtype=np.float32)[[1, 2]]

    def parts(scale):
        return evaluate(lambda: losses.wgan_gp_losses(losses.Judged(
            logits(np.multiply(REAL, scale)), logits(np.multiply(FAKE, scale)), logits(np.multiply(WRONG, scale)),
            real_inputs=tf.constant(real), fake_inputs=tf.constant(real + 1.0), right=tf.constant(right),
            critic=linear_critic(unit((28, 28, 1), 1.0), np.zeros(10, np.float32)))))
    plain = parts(1.0)
    wasserstein = -np.mean(REAL) + (np.mean(FAKE) + np.mean(WRONG)) / 2
    drift = np.mean([np.mean(np.square(v)) for v in (REAL, FAKE, WRONG)])
    assert plain.scalars['gradient_penalty'] == pytest.approx(0.0, abs=1e-6)
    assert plain.discriminator == pytest.approx(wasserstein + losses.DRIFT_WEIGHT * drift, rel=1e-5)
    # Scores 1000 times larger: the Wasserstein part scales by 1000, the drift by a million.
    assert parts(1000.0).discriminator == pytest.approx(1000 * wasserstein + 1e6 * losses.DRIFT_WEIGHT * drift,
                                                        rel=1e-4)


def optimizer_ops(model):
    return {op.type for op in model.graph.get_operations()}


def test_wgan_gp_trains_with_adam_and_a_gradient_penalty_instead_of_clipping():
    model, session = build(loss='wgan-gp', g_dim=8, d_dim=8, seed=0)
    with session:
        assert model.settings.clip is None
        assert optimizer_ops(model) & {'ApplyAdam', 'ResourceApplyAdam'}
        assert {'gradient_penalty', 'wasserstein_estimate'} <= set(model.metric_tensors)
        assert model.metric_tags['gradient_penalty'] == 'critic/gradient_penalty'
        data = random_dataset(size=16)
        before = [session.run(v) for v in model.discriminator_variables]
        model.fit(session, data, epochs=None, k_steps=1, max_steps=1)
        after = [session.run(v) for v in model.discriminator_variables]
        # No clipping: weights leave [-0.01, 0.01] freely.
        assert max(np.abs(a).max() for a in after) > 0.01
        assert all(not np.array_equal(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize('model_class', [model_lib.GANModel, lapgan.LapGANModel])
def test_a_wgan_gp_critic_judges_no_wrong_label_pairs(model_class):
    # A linear critic may score a real image with a wrong label without bound (the penalty looks along
    # images, not labels): such a term outweighed the fake one, and the generator learnt exaggerated
    # prototypes. The label still reaches the critic through the conditioning, and plain WGAN keeps the term.
    model, session = build(model_class, loss='wgan-gp', g_dim=8, d_dim=8)
    session.close()
    assert model.discriminated_real_wrong_logits is None
    assert not [name for name in model.metric_tensors if 'wrong' in name]
    if model_class is lapgan.LapGANModel:
        # Its level critics train with the gan or wgan-gp loss, not with clipped weights.
        with tf.Graph().as_default(), pytest.raises(ValueError, match='--model lapgan'):
            model_class(loss='wgan', g_dim=8, d_dim=8)
        return
    model, session = build(model_class, loss='wgan', g_dim=8, d_dim=8)
    session.close()
    assert model.discriminated_real_wrong_logits is not None


def test_the_rule_sets_the_default_learning_rate_and_critic_steps():
    for name, rule in losses.RULES.items():
        model, session = build(loss=name, g_dim=8, d_dim=8)
        session.close()
        assert model.rule is rule
        defaults = settings.defaults_of(loss=name)
        assert model.settings.learning_rate == defaults['learning_rate']
        assert model.critic_steps(1000 + 1, defaults['k_steps']) == defaults['k_steps']
    assert settings.defaults_of(loss='wgan')['k_steps'] == 5 and settings.defaults_of(loss='wgan')['learning_rate'] == 5e-5


def test_wgan_follows_the_papers_critic_warm_up():
    rule = losses.RULES['wgan']
    assert [rule.critic_steps(step, 5) for step in (0, 24, 25, 499, 500, 501)] == [100, 100, 5, 5, 100, 5]
    assert losses.RULES['gan'].critic_steps(0, 1) == 1


def test_fit_by_epochs_refuses_more_critic_steps_than_an_epoch_has_batches():
    """An epoch that cannot feed one generator step would otherwise never end."""
    model, session = build(g_dim=8, d_dim=8)
    with session, pytest.raises(ValueError, match='k_steps'):
        model.fit(session, random_dataset(size=8, batch_size=4), epochs=1, k_steps=3)


# --- levers on the default loss: a penalty at real images, and a generator that learns from its best ---------

def test_r1_penalty_is_the_squared_gradient_norm_of_the_discriminator_at_real_images():
    """R1 (Mescheder et al. 2018): the discriminator pays for a steep slope at real data, where an overfit one
    is steepest; its logits are read at the real images themselves, with the right labels."""
    real = np.random.default_rng(0).normal(size=(4, 28, 28, 1)).astype(np.float32)

    def penalty(norm):
        def judged():
            inputs = tf.constant(real)
            critic = linear_critic(unit((28, 28, 1), norm))
            return losses.r1_penalty(losses.Judged(critic(inputs, None), None, real_inputs=inputs))
        return evaluate(judged)
    assert penalty(0.0) == pytest.approx(0.0, abs=1e-6)
    assert penalty(3.0) == pytest.approx(9.0, rel=1e-4)


def test_the_r1_weight_adds_half_of_it_times_the_penalty_to_the_discriminators_loss_only():
    def parts(weight):
        def made():
            inputs = tf.constant(np.zeros((2, 28, 28, 1), np.float32))
            real = linear_critic(unit((28, 28, 1), 2.0))(inputs, None)
            judged = losses.Judged(real, logits(FAKE), logits(WRONG), real_inputs=inputs)
            loss = losses.gan_loss(losses.RULES['gan'], {'': judged}, r1_weight=weight)
            return loss.discriminator, loss.generator, loss.scalars.get('r1_penalty', tf.constant(-1.0))
        return evaluate(made)
    plain, penalised = parts(0.0), parts(10.0)
    assert plain[2] == -1.0 and penalised[2] == pytest.approx(4.0, rel=1e-4)
    assert penalised[0] == pytest.approx(plain[0] + 10.0 / 2 * 4.0, rel=1e-4)
    assert penalised[1] == pytest.approx(plain[1])


def test_lazy_r1_leaves_the_plain_loss_alone_and_pays_n_times_the_penalty_on_every_nth_step():
    """StyleGAN2's lazy regularisation: R1 paid once every N discriminator steps, at N times its weight, costs
    the same on average and spares the second backward pass on the other steps."""
    def parts(every):
        def made():
            inputs = tf.constant(np.zeros((2, 28, 28, 1), np.float32))
            real = linear_critic(unit((28, 28, 1), 2.0))(inputs, None)
            judged = losses.Judged(real, logits(FAKE), logits(WRONG), real_inputs=inputs)
            loss = losses.gan_loss(losses.RULES['gan'], {'': judged}, r1_weight=10.0, r1_every=every)
            lazy = loss.discriminator_with_r1
            return loss.discriminator, tf.constant(-1.0) if lazy is None else lazy
        return evaluate(made)
    every_step, lazy = parts(1), parts(4)
    plain = evaluate(lambda: losses.gan_losses(losses.Judged(logits(REAL), logits(FAKE), logits(WRONG))).discriminator)
    assert every_step[1] == -1.0   # paid on every step: one loss, no second one
    assert lazy[0] == pytest.approx(every_step[0] - 10.0 / 2 * 4.0, rel=1e-4)
    assert lazy[1] == pytest.approx(lazy[0] + 4 * 10.0 / 2 * 4.0, rel=1e-4)


def test_top_k_the_generator_learns_only_from_its_best_judged_images():
    """Sinha et al. 2020: the generator's loss over the k images the discriminator finds most real; the
    discriminator's loss still judges them all."""
    fake = [-1.0, 0.3, 2.0, -0.5]

    def parts(fraction):
        def made():
            loss = losses.gan_loss(losses.RULES['gan'], {'': losses.Judged(logits(REAL * 2), logits(fake),
                                                                           logits(WRONG * 2))},
                                   top_k=tf.constant(fraction))
            return loss.discriminator, loss.generator
        return evaluate(made)
    every, half = parts(1.0), parts(0.5)
    assert every[1] == pytest.approx(cross_entropy(np.asarray(fake), 1))
    assert half[1] == pytest.approx(cross_entropy(np.asarray([2.0, 0.3]), 1))
    assert half[0] == pytest.approx(every[0])
    assert parts(0.1)[1] == pytest.approx(cross_entropy(np.asarray([2.0]), 1))   # one image at least


def test_top_k_keeps_every_image_at_first_and_its_share_at_the_end():
    """k anneals from the whole batch by 0.99 an epoch down to the share asked for, as the paper does."""
    def share(fraction, epoch):
        return evaluate(lambda: losses.top_k_share(fraction, tf.constant(float(epoch))))
    assert share(0.75, 0) == 1.0 and share(0.75, 10) == pytest.approx(0.99 ** 10)
    assert share(0.75, 1000) == 0.75 and share(1.0, 1000) == 1.0


class FeedSpy:
    """A session that records what each generator step fed to `placeholder`."""

    def __init__(self, session, model, placeholder):
        self.session, self.model, self.placeholder, self.fed = session, model, placeholder, []

    def run(self, fetches, feed_dict=None, **kwargs):
        if isinstance(fetches, list) and self.model.g_optimizer in fetches:
            self.fed.append(feed_dict.get(self.placeholder))
        return self.session.run(fetches, feed_dict, **kwargs)


def test_fit_feeds_top_k_the_epochs_trained_so_far():
    model, session = build(g_dim=8, d_dim=8, top_k=0.5)
    with session:
        spy = FeedSpy(session, model, model.epoch_input)
        model.fit(spy, random_dataset(size=8, batch_size=4), epochs=None, k_steps=1, max_steps=4)   # 2 steps an epoch
        assert spy.fed == [0.0, 0.5, 1.0, 1.5]
        share = session.run(model.loss.scalars['top_k_share'], {model.epoch_input: 10.0})
    assert share == pytest.approx(0.99 ** 10)


class StepSpy:
    """A session that records, for each discriminator step, whether it paid R1 and whether it measured it."""

    def __init__(self, session, model):
        self.session, self.model, self.steps = session, model, []

    def run(self, fetches, feed_dict=None, **kwargs):
        if isinstance(fetches, list) and fetches[1] in (self.model.d_optimizer, self.model.d_optimizer_with_r1):
            self.steps.append((fetches[1] is self.model.d_optimizer_with_r1, 'r1_penalty' in fetches[0]))
        return self.session.run(fetches, feed_dict, **kwargs)


def test_fit_pays_lazy_r1_on_every_nth_generator_step_counted_from_the_global_step():
    model, session = build(g_dim=8, d_dim=8, r1_weight=10.0, r1_every=3)
    with session:
        spy = StepSpy(session, model)
        model.fit(spy, random_dataset(size=8, batch_size=4), epochs=None, k_steps=1, max_steps=5)
        assert 'r1_penalty' not in model.last_metrics   # the fifth step paid none: nothing measured
        model.fit(spy, random_dataset(size=8, batch_size=4), epochs=None, k_steps=1, max_steps=7)   # as resumed
        assert model.last_metrics['r1_penalty'] > 0
    paid = [True, False, False, True, False, False, True]
    assert spy.steps == [(step, step) for step in paid]


def test_the_step_that_pays_lazy_r1_moves_the_discriminator_otherwise_than_a_plain_step():
    def one_step(op_name):
        model, session = build(g_dim=8, d_dim=8, r1_weight=1000.0, r1_every=4, seed=3)
        with session:
            session.run(getattr(model, op_name), model.d_feed(random_dataset(size=8, batch_size=4)))
            return [session.run(v) for v in model.discriminator_variables]
    plain, paid = one_step('d_optimizer'), one_step('d_optimizer_with_r1')
    assert not all(np.allclose(a, b) for a, b in zip(plain, paid))
    model, session = build(g_dim=8, d_dim=8, r1_weight=10.0, r1_every=1)
    with session:
        assert model.d_optimizer_with_r1 is None   # R1 on every step: the plain step pays it


def test_a_model_with_both_levers_trains_and_logs_them():
    model, session = build(g_dim=8, d_dim=8, r1_weight=10.0, r1_every=1, top_k=0.5)   # R1 logged every step
    with session:
        assert model.metric_tags['r1_penalty'] == 'loss/r1_penalty'
        before = [session.run(v) for v in model.generator_variables + model.discriminator_variables]
        model.fit(session, random_dataset(size=8, batch_size=4), epochs=None, k_steps=1, max_steps=2)
        after = [session.run(v) for v in model.generator_variables + model.discriminator_variables]
        assert model.last_metrics['r1_penalty'] > 0 and 0.5 < model.last_metrics['top_k_share'] < 1
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))

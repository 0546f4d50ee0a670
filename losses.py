"""The losses of the GAN family, each with its training rule, in one table looked up by `--loss`.

A loss function takes the discriminator's logits for the pairs it judges - (real image, right label),
(generated image, right label) and, for matching-aware conditioning, (real image, wrong label) - and
returns the discriminator's loss, the generator's loss and the scalars worth logging. Its training rule
says how to train with it: the optimizer, the learning rate, the critic steps per generator step and what
runs after a critic step (weight clipping for WGAN).

    rule = RULES['wgan']
    losses = rule.losses(judged)          # Losses(discriminator, generator, scalars)
    loss = gan_loss(rule, {'': judged})   # GANLoss: the model's totals, summed over its discriminators
"""
import collections

import tensorflow as tf

v1 = tf.compat.v1

Losses = collections.namedtuple('Losses', 'discriminator generator scalars')


# What one discriminator said about one GAN's pairs, and what its losses may need besides: `real`, `fake`,
# `wrong` are the logits (B, 1) of (real image, right label), (generated image, its label) and (real image,
# wrong label), `wrong` None where no wrong pairs are judged. For a gradient penalty: `real_inputs` and
# `fake_inputs` (what the discriminator saw), the `right` condition vectors (None without conditioning) and
# `critic(inputs, condition)`, the same discriminator on other inputs. For the generator's extra terms: its
# `generated` images and their `noise` (the mode-seeking term; none without `generated`) and `extra_fake`
# (GAN-INT's images for blended labels, which the generator also wants judged real).
Judged = collections.namedtuple('Judged', 'real fake wrong real_inputs fake_inputs right critic generated noise '
                                'extra_fake', defaults=(None,) * 8)


# --- how each loss scores one kind of pair -----------------------------------------------------------

def cross_entropy(logits, target):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=logits, labels=tf.fill(tf.shape(logits), target)))


def matching_aware(real_term, fake_term):
    """The discriminator's loss: real/right should be called real, and both real/wrong and generated
    pairs fake; the two fake kinds share one half, so that each loss keeps the scale of a plain GAN's."""
    if fake_term[1] is None:
        return real_term + fake_term[0]
    return real_term + (fake_term[0] + fake_term[1]) / 2


def gan_losses(judged):
    """The original minimax loss with the non-saturating generator: G maximises log D(G(z))."""
    real = cross_entropy(judged.real, 1.0)
    fake = cross_entropy(judged.fake, 0.0)
    wrong = cross_entropy(judged.wrong, 0.0) if judged.wrong is not None else None
    scalars = {'discriminator_real_right_loss': real, 'discriminator_fake_loss': fake,
               'p_real': tf.reduce_mean(tf.sigmoid(judged.real)),
               'p_fake': tf.reduce_mean(tf.sigmoid(judged.fake))}
    if wrong is not None:
        scalars['discriminator_real_wrong_loss'] = wrong
        scalars['p_wrong'] = tf.reduce_mean(tf.sigmoid(judged.wrong))
    return Losses(matching_aware(real, (fake, wrong)), gan_generator_loss(judged.fake), scalars)


def gan_generator_loss(fake_logits):
    return cross_entropy(fake_logits, 1.0)


def wgan_losses(judged):
    """The critic's score has no sigmoid: its loss estimates -W(real, generated)."""
    real = -tf.reduce_mean(judged.real)
    fake = tf.reduce_mean(judged.fake)
    wrong = tf.reduce_mean(judged.wrong) if judged.wrong is not None else None
    scalars = {'discriminator_real_right_loss': real, 'discriminator_fake_loss': fake,
               'wasserstein_estimate': -(real + fake)}
    if wrong is not None:
        scalars['discriminator_real_wrong_loss'] = wrong
    return Losses(matching_aware(real, (fake, wrong)), wgan_generator_loss(judged.fake), scalars)


def wgan_generator_loss(fake_logits):
    return -tf.reduce_mean(fake_logits)


GRADIENT_PENALTY_WEIGHT = 10.0
DRIFT_WEIGHT = 1e-3


def wgan_gp_losses(judged):
    """WGAN with a gradient penalty (Gulrajani et al. 2017) in place of weight clipping: the critic's
    gradient norm is pulled towards 1 at random points between real and generated images. A small drift
    term (Karras et al. 2018) keeps its scores near 0: the penalty bounds score differences only, and
    along images only (the default rule therefore gives the critic no wrong-label pairs to score)."""
    losses = wgan_losses(judged)
    penalty = gradient_penalty(judged)
    scores = [judged.real, judged.fake] + ([judged.wrong] if judged.wrong is not None else [])
    drift = tf.add_n([tf.reduce_mean(tf.square(score)) for score in scores]) / len(scores)
    scalars = dict(losses.scalars, gradient_penalty=penalty)
    return Losses(losses.discriminator + GRADIENT_PENALTY_WEIGHT * penalty + DRIFT_WEIGHT * drift,
                  losses.generator, scalars)


def gradient_penalty(judged):
    """(|gradient of the critic| - 1)^2 at a random point between each real and generated input, with the
    right labels."""
    inputs = between(judged.real_inputs, judged.fake_inputs)
    (gradient,) = tf.gradients(judged.critic(inputs, judged.right), [inputs])
    norm = tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=list(range(1, gradient.shape.ndims))) + 1e-12)
    return tf.reduce_mean(tf.square(norm - 1.0))


def between(a, b):
    """A random point on the segment from each row of a to the same row of b."""
    shape = tf.stack([tf.shape(a)[0]] + [1] * (a.shape.ndims - 1))
    blend = v1.random_uniform(shape)
    return blend * a + (1.0 - blend) * b


# --- levers any loss may add: R1 at real images, top-k generator updates ---------------------------------

def r1_penalty(judged):
    """R1 (Mescheder et al. 2018): the mean squared norm of the gradient of the discriminator's logits for
    (real image, right label) with respect to the real images, which keeps it from growing steep where the
    real images are (how a discriminator that overfits a few thousand images shows)."""
    (gradient,) = tf.gradients(tf.reduce_sum(judged.real), [judged.real_inputs])
    return tf.reduce_mean(tf.reduce_sum(tf.square(gradient), axis=list(range(1, gradient.shape.ndims))))


TOP_K_DECAY = 0.99   # the paper's: the share of the batch the generator learns from falls by 1% an epoch


def top_k_share(share, epoch):
    """The share of each generator batch that top-k learns from after `epoch` epochs (a tensor): all of it at
    first, falling by TOP_K_DECAY an epoch down to `share`."""
    return tf.maximum(tf.constant(share, tf.float32), tf.pow(TOP_K_DECAY, epoch))


def best_judged(fake_logits, share):
    """The logits of the ceil(share * B) generated images (one at least) the discriminator finds most real."""
    flat = tf.reshape(fake_logits, [-1])
    count = tf.cast(tf.shape(flat)[0], tf.float32)
    k = tf.maximum(1, tf.cast(tf.math.ceil(share * count - 1e-6), tf.int32))
    return tf.math.top_k(flat, k, sorted=False).values[:, None]


# --- the mode-seeking term, which any loss's generator may add ---------------------------------------

MODE_SEEKING_IMAGES = 64


def mode_seeking_loss(images, noise, labels=None, epsilon=1e-5):
    """MSGAN (Mao et al., 2019): 1 / mean over pairs of |G(z1) - G(z2)| / |z1 - z2| (mean absolute values).

    Pairs are the batch's images of one label (all pairs when `labels` is None), among its first 64
    images: all pairs of B images hold B * B * 784 differences, gigabytes for a batch of 1,000. Only the
    pairs counted are differenced: about a tenth of all pairs with ten labels. A generator that maps
    different noise to the same digit pays for it; 0 when the batch has no pair.
    """
    images, noise = images[:MODE_SEEKING_IMAGES], noise[:MODE_SEEKING_IMAGES]
    labels = labels[:MODE_SEEKING_IMAGES] if labels is not None else None
    count = tf.shape(images)[0]
    flat = tf.reshape(images, tf.stack([count, -1]))
    pairs = tf.linalg.band_part(tf.ones(tf.stack([count, count]), tf.bool), 0, -1) & ~tf.eye(count, dtype=tf.bool)
    if labels is not None:
        pairs &= tf.equal(labels[:, None], labels[None])
    first, second = tf.unstack(tf.where(pairs), axis=1)   # the two images of each pair counted

    def distance(rows):
        return tf.reduce_mean(tf.abs(tf.gather(rows, first) - tf.gather(rows, second)), axis=1)

    pair_count = tf.cast(tf.size(first), tf.float32)
    mean_ratio = tf.reduce_sum(distance(flat) / distance(noise)) / tf.maximum(pair_count, 1.0)
    return tf.where(pair_count > 0, 1.0 / (mean_ratio + epsilon), 0.0)


# --- training rules ---------------------------------------------------------------------------------

def adam(learning_rate, beta1, beta2=0.999):
    return v1.train.AdamOptimizer(learning_rate, beta1=beta1, beta2=beta2)


def rmsprop(learning_rate, beta1=None):
    return v1.train.RMSPropOptimizer(learning_rate)


def clip_weights(variables, clip):
    """WGAN's Lipschitz constraint: every critic weight back into [-clip, clip]."""
    return tf.group(*[v.assign(tf.clip_by_value(v, -clip, clip)) for v in variables], name='clip')


def wgan_paper_warmup(step):
    """The WGAN paper's schedule: 100 critic steps for the first 25 generator steps and every 500th, so
    that the critic is near its optimum whenever the generator learns from it."""
    return 100 if step < 25 or step % 500 == 0 else None


class TrainingRule(collections.namedtuple('TrainingRule', 'losses generator_loss optimizer after_critic_step '
                                                          'warmup_critic_steps wrong_pairs')):
    """How to train with one loss: `losses(judged)` -> Losses, and `generator_loss(fake_logits)` alone (for
    extra generated pairs such as GAN-INT's); `optimizer(learning_rate, beta1)`; `after_critic_step(variables,
    settings)`, an op run after each critic step, or None; `warmup_critic_steps(step)`, more critic steps than
    k_steps at this generator step, or None; `wrong_pairs`: whether the discriminator also judges real images
    with wrong labels where the conditioning has them. Its numbers (rates, critic steps, the clipping bound,
    steps) are settings: settings.PART_DEFAULTS['loss'].
    """

    def critic_steps(self, step, k_steps):
        """Critic steps before generator step `step` (0-based) of a run trained with k_steps."""
        warmup = self.warmup_critic_steps(step) if self.warmup_critic_steps else None
        return max(k_steps, warmup or 0)


RULES = {
    'gan': TrainingRule(gan_losses, gan_generator_loss, adam, after_critic_step=None, warmup_critic_steps=None,
                        wrong_pairs=True),
    'wgan': TrainingRule(wgan_losses, wgan_generator_loss, rmsprop,
                         after_critic_step=lambda variables, settings: clip_weights(variables, settings.clip),
                         warmup_critic_steps=wgan_paper_warmup, wrong_pairs=True),
    # No wrong-label pairs: the penalty bounds the critic's slope along images, not labels, so nothing bounds
    # how low it may score a real image with a wrong label.
    'wgan-gp': TrainingRule(wgan_gp_losses, wgan_generator_loss, lambda rate, beta1: adam(rate, beta1, 0.9),
                            after_critic_step=None, warmup_critic_steps=None, wrong_pairs=False),
}


# --- one model's losses, from what its discriminators judged ------------------------------------------

# The parts of a single discriminator's loss, by name: the fields of GANLoss besides the two totals.
PART_NAMES = ('discriminator_real_right_loss', 'discriminator_fake_loss', 'discriminator_real_wrong_loss',
              'generator_fake_loss', 'interpolated_generator_loss', 'mode_seeking_loss', 'wasserstein_estimate',
              'gradient_penalty', 'p_real', 'p_fake', 'p_wrong')
# The two totals, each discriminator's losses and scalars under its name ({name}/{scalar} for a model with
# several), and the parts by name (None where the model has no such part, or has several discriminators; their
# probabilities are then the means over the discriminators).
# discriminator_with_r1: lazy R1's discriminator loss, for the steps that pay it (None where every step does).
GANLoss = collections.namedtuple('GANLoss', ('discriminator', 'generator', 'scalars') + PART_NAMES
                                 + ('discriminator_with_r1',), defaults=(None,))


def gan_loss(rule, judged, diversity_weight=0.0, labels=None, r1_weight=0.0, top_k=None, r1_every=1):
    """The losses of a model whose discriminators judged `judged` ({name: Judged}, '' for a single one): each
    by the rule, plus the generator's extra terms (GAN-INT's blended pairs, the mode-seeking term over the
    images of each of `labels`), summed over the discriminators. Two levers: `r1_weight` adds R1 to each
    discriminator's loss (with `r1_every` N above 1, lazily: only to discriminator_with_r1, at N times the
    weight, for one step in N); `top_k`, a share of the batch (a tensor), lets the generator learn from its
    best judged images only."""
    d_terms, g_terms, r1_terms, scalars = [], [], [], {}
    lazy = bool(r1_weight) and r1_every > 1
    for name, pairs in judged.items():
        parts = rule.losses(pairs)
        generator = parts.generator
        own = dict(parts.scalars)
        if r1_weight:
            own['r1_penalty'] = r1_penalty(pairs)
            term = r1_weight / 2 * own['r1_penalty']
            if lazy:
                r1_terms.append(r1_every * term)
            else:
                parts = parts._replace(discriminator=parts.discriminator + term)
        if top_k is not None:
            own['top_k_share'] = top_k
            generator = rule.generator_loss(best_judged(pairs.fake, top_k))
        own['discriminator_loss'] = parts.discriminator
        if pairs.extra_fake is not None:
            own['interpolated_generator_loss'] = rule.generator_loss(pairs.extra_fake)
            generator += own['interpolated_generator_loss']
        if diversity_weight and pairs.generated is not None:
            own['mode_seeking_loss'] = mode_seeking_loss(pairs.generated, pairs.noise, labels)
            generator += diversity_weight * own['mode_seeking_loss']
        own['generator_loss'] = generator
        d_terms.append(parts.discriminator)
        g_terms.append(generator)
        scalars.update({(name + '/' if name else '') + key: value for key, value in own.items()})
    single = list(judged) == ['']
    parts = {key: scalars.get(key) if single else None for key in PART_NAMES}
    if single:
        parts['generator_fake_loss'] = rule.generator_loss(judged[''].fake)
    else:
        for key in ('p_real', 'p_fake', 'p_wrong'):
            values = [scalars[n + '/' + key] for n in judged if n + '/' + key in scalars]
            if values:
                scalars[key] = parts[key] = tf.add_n(values) / len(values)
    scalars['discriminator_loss'], scalars['generator_loss'] = tf.add_n(d_terms), tf.add_n(g_terms)
    with_r1 = scalars['discriminator_loss'] + tf.add_n(r1_terms) if lazy else None
    return GANLoss(scalars['discriminator_loss'], scalars['generator_loss'], scalars, **parts,
                   discriminator_with_r1=with_r1)

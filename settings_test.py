"""A run's settings: resolved once from the flags, a stored run and each part's defaults; one function that
names every combination that cannot work; config.json as the value written out. No TensorFlow here."""
import json
import os
import subprocess
import sys

import pytest

import legacy
import settings

HERE = os.path.dirname(os.path.abspath(__file__))
LEGACY_RUNS = os.path.join(HERE, 'testdata', 'legacy_runs')


def new(**given):
    return settings.resolve(given)[0]


def refused(**given):
    """The one problem settings.resolve names for a new run of these settings."""
    with pytest.raises(settings.SettingsError) as raised:
        settings.resolve(given)
    return str(raised.value)


def legacy_config(name):
    with open(os.path.join(LEGACY_RUNS, name, 'config.json')) as stream:
        return json.load(stream)


# ------------------------------------------------------------------------------------ resolving

def test_the_default_run_is_the_matching_aware_gan_of_the_dataclasses_with_the_gan_losss_own_rates():
    run = new()
    assert run.model == settings.ModelSettings(d_learning_rate=4e-4, ema_decay=0.99, r1_weight=0.1, r1_every=16)
    assert (run.model.conditioning, run.model.arch, run.model.loss, run.model.model_type) == (
        'matching', 'dcgan', 'gan', 'gan')
    assert (run.steps, run.k_steps, run.batch_size, run.lr_decay) == (7000, 1, 64, 0.0)


def test_each_part_brings_its_own_defaults_and_a_given_flag_wins():
    wgan = new(loss='wgan')
    assert (wgan.model.learning_rate, wgan.k_steps, wgan.steps, wgan.model.clip) == (5e-5, 5, 4000, 0.01)
    assert new(loss='wgan', learning_rate=1e-4).model.learning_rate == 1e-4
    # A later part wins: the MLP's 10,000 steps over the WGAN's 4,000.
    assert new(loss='wgan', arch='mlp').steps == 10000
    lapgan = new(model_type='lapgan')
    assert (lapgan.model.d_learning_rate, lapgan.model.learning_rate, lapgan.model.level_convs) == (1.6e-3, 2e-4, 3)


def test_the_discriminator_learns_at_its_parts_multiple_of_the_generators_rate_unless_told_otherwise():
    """Two time-scales: the gan loss's discriminator at twice the generator's rate, LAPGAN's at 8 times, the
    Wasserstein critics at the generator's own; the multiple follows --learning-rate, a given rate wins."""
    assert new().model.d_learning_rate == 2 * new().model.learning_rate
    assert new(learning_rate=1e-3).model.d_learning_rate == 2e-3
    assert new(model_type='lapgan', learning_rate=1e-4).model.d_learning_rate == 8e-4
    # The unconditioned GAN lost variety with a faster discriminator: its own stays at the generator's rate.
    assert new(conditioning='none').model.d_learning_rate == new(conditioning='none').model.learning_rate
    for loss in ('wgan', 'wgan-gp'):
        critic = new(loss=loss, learning_rate=1e-4).model
        assert critic.d_learning_rate == critic.learning_rate == 1e-4
    assert new(learning_rate=1e-3, d_learning_rate=4e-4).model.d_learning_rate == 4e-4


def test_the_gan_loss_draws_from_an_average_of_the_generators_weights_and_the_critics_from_their_own():
    for given in ({}, {'arch': 'mlp'}, {'conditioning': 'concat'}, {'conditioning': 'none'}):
        assert new(**given).model.ema_decay == 0.99, given
    assert new(loss='wgan').model.ema_decay == new(loss='wgan-gp').model.ema_decay == 0.0
    assert new(model_type='lapgan').model.ema_decay is None    # its levels keep no average
    assert new(ema_decay=0.0).model.ema_decay == 0.0


def test_the_gan_losss_discriminator_pays_r1_at_real_images_and_the_critics_keep_their_own_constraint():
    """R1 at gamma 0.1 (0.1 / 2 * |grad D(real image)|^2 in D's loss) lowered the default's FD on two seeds and
    the FD of the conditioned members with one discriminator; the Wasserstein critics are held by clipping or
    by their own penalty instead. A given --r1-weight wins."""
    for given in ({}, {'arch': 'mlp'}, {'conditioning': 'concat'}, {'interpolate_conditions': True},
                  {'dataset': 'fashion_mnist'}):
        assert new(**given).model.r1_weight == 0.1, given
    # The clustered GAN and LAPGAN scored a worse FD with it: they keep none (the original GAN shares the part).
    assert new(conditioning='none').model.r1_weight == new(conditioning='none', clusters=0).model.r1_weight == 0.0
    assert new(model_type='lapgan').model.r1_weight == 0.0
    assert new(loss='wgan').model.r1_weight == new(loss='wgan-gp').model.r1_weight == 0.0
    assert new(r1_weight=0.0).model.r1_weight == 0.0
    assert new(loss='wgan', r1_weight=1.0).model.r1_weight == 1.0


def test_the_default_pays_r1_lazily_the_mlp_and_cgan_on_every_step_and_only_where_there_is_r1_to_space():
    """--r1-every N pays R1 once every N generator steps at N times its weight (lazy regularisation). The
    default pays it every 16th step (a lower FD on two seeds, and cheaper); the MLP and CGAN members keep it on
    every step, as their figures were measured; a model without R1 has nothing to space out."""
    assert new().model.r1_every == 16 and new(r1_every=1).model.r1_every == 1
    assert new(arch='mlp').model.r1_every == new(conditioning='concat').model.r1_every == 1
    assert new(model_type='lapgan').model.r1_every is None and new(loss='wgan').model.r1_every is None
    with pytest.raises(settings.SettingsError, match='--r1-every 16 .*--r1-weight'):
        new(model_type='lapgan', r1_every=16)


def test_conditioning_none_is_the_clustered_gan_unless_clusters_0():
    assert (new(conditioning='none').model.conditioning, new(conditioning='none').model.clusters) == ('clusters', 50)
    assert (new(conditioning='none', clusters=0).model.conditioning, new(conditioning='none', clusters=0).model.clusters
            ) == ('none', 0)
    assert not new(conditioning='none').model.uses_labels and new(conditioning='concat').model.uses_labels


def test_settings_the_parts_do_not_read_are_none_so_the_config_says_what_the_model_uses():
    mlp = new(arch='mlp').model
    assert mlp.g_dim is None and mlp.d_dim is None and mlp.d_condition_maps is None
    assert mlp.condition_units == 32   # the MLP discriminator's label embedding
    assert new(conditioning='concat').model.condition_units is None
    assert new().model.clip is None and new(loss='wgan').model.beta1 is None
    assert new().model.level_convs is None and new().model.concat_every_layer is None


def test_a_size_given_for_parts_that_do_not_read_it_is_dropped_with_a_note():
    run, notes = settings.resolve({'arch': 'mlp', 'g_dim': 8, 'd_dim': 8})
    assert run.model.g_dim is None and run.model.d_dim is None
    assert len(notes) == 2 and '--g-dim' in notes[0] and '--arch mlp' in notes[0] and 'dropped' in notes[0]
    # Nothing stored: a 1-wide and a 2000-wide request build the same MLP.
    assert new(arch='mlp', g_dim=1) == new(arch='mlp', g_dim=2000)


# ------------------------------------------------------------------------------------ problems: one test per rule

def test_problem_interpolate_conditions_needs_labels():
    assert refused(conditioning='none', interpolate_conditions=True) == (
        "--interpolate-conditions blends two labels' condition vectors: it needs --conditioning matching or concat")
    assert refused(conditioning='none', clusters=0, interpolate_conditions=True).startswith('--interpolate-conditions')
    assert new(conditioning='concat', interpolate_conditions=True).model.interpolate_conditions


def test_problem_condition_vectors_need_labels():
    assert '--condition-vectors' in refused(conditioning='none', condition_vectors='v.npy')


def test_problem_a_setting_no_part_reads_is_refused_unless_it_is_a_size():
    assert refused(clusters=10).startswith('--clusters 10 is not read')
    assert '--conditioning none' in refused(clusters=10)
    assert refused(conditioning='concat', clip=0.1).startswith('--clip 0.1 is not read')
    assert refused(concat_every_layer=True).startswith('--concat-every-layer is not read')
    # Given as the value it holds where unread, it contradicts nothing.
    assert new(clusters=0).model.clusters == 0


def test_problem_one_cluster_leaves_no_wrong_cluster():
    assert refused(conditioning='none', clusters=1).startswith('--clusters 1: a real image needs another cluster')


def test_problem_the_clustered_gan_needs_noise_beside_the_value_that_picks_the_cluster():
    assert '--noise-len 1' in refused(conditioning='none', noise_len=1)
    assert new(conditioning='none', clusters=0, noise_len=1).model.noise_len == 1


@pytest.mark.parametrize('loss, allowed', [('gan', True), ('wgan', False), ('wgan-gp', True)])
def test_problem_lapgan_with_each_loss(loss, allowed):
    if allowed:
        assert new(model_type='lapgan', loss=loss).model.loss == loss
    else:
        assert refused(model_type='lapgan', loss=loss).startswith('--model lapgan takes no --loss wgan')


@pytest.mark.parametrize('given, words', [
    ({'arch': 'mlp'}, '--arch mlp'), ({'interpolate_conditions': True}, '--interpolate-conditions'),
    ({'augment': 'cutout'}, '--augment cutout'), ({'noise_len': 2}, '--noise-len must be at least 3'),
    ({'conditioning': 'none', 'clusters': 5}, '--clusters 5')])
def test_problem_lapgan_refuses_what_its_levels_do_not_have(given, words):
    problem = refused(model_type='lapgan', **given)
    assert '--model' in problem and words in problem


def test_problem_steps_and_epochs_both():
    assert refused(steps=5, epochs=1) == '--steps 5 and --epochs 1 both given: pass only one'


def test_problem_the_bundled_sample_reads_no_data_file():
    assert refused(dataset='mnist_sample', data='/x.npz').startswith('--dataset mnist_sample always reads')


def test_problems_against_the_size_of_the_data():
    run = new(batch_size=64, k_steps=5, conditioning='none', clusters=60)
    assert settings.problems(run, num_examples=100000) == []
    assert settings.problems(run, num_examples=40)[0].startswith('--batch-size 64 is larger than the 40 images')
    assert settings.problems(run, num_examples=300)[0].startswith('--k-steps 5 needs 5 batches')
    assert settings.problems(new(conditioning='none', clusters=60, batch_size=8), num_examples=50)[0].startswith(
        '--clusters 60: the data holds only 50 images')


def test_problems_of_unknown_parts():
    assert settings.problems(settings.ModelSettings(loss='lsgan'))[0].startswith('--loss must be one of')


def test_every_problem_is_one_line():
    for given in ({'conditioning': 'none', 'interpolate_conditions': True}, {'clusters': 3},
                  {'model_type': 'lapgan', 'loss': 'wgan', 'arch': 'mlp'}):
        assert all('\n' not in problem and '  ' not in problem for problem in
                   settings.problems(settings.build(dict(settings.defaults_of(**{
                       k: v for k, v in given.items() if k in settings.PART_ORDER}), **given), given)[0], given))


# ------------------------------------------------------------------------------------ resuming

def test_a_resumed_run_keeps_its_settings_and_takes_more_steps():
    stored = settings.to_config(new(loss='wgan', save_every=2, eval_every=0))
    run, notes = settings.resolve({'steps': 9000}, stored, name='R')
    assert run.steps == 9000 and run.model.loss == 'wgan' and run.save_every == 2 and run.eval_every == 0
    assert notes == []


def test_a_resumed_run_keeps_its_cadence_unless_a_flag_overrides_it_saying_so():
    stored = settings.to_config(new(save_every=2, sample_every=2, log_every=2, eval_every=0, steps=10))
    run, notes = settings.resolve({'steps': 260}, stored, name='R')
    assert (run.save_every, run.sample_every, run.log_every, run.eval_every) == (2, 2, 2, 0)
    run, notes = settings.resolve({'steps': 260, 'save_every': 50}, stored, name='R')
    assert run.save_every == 50 and notes == ['--save-every 50 for R in this session (its config.json says 2)']


def test_a_resumed_run_refuses_a_flag_that_contradicts_it():
    stored = settings.to_config(new(conditioning='none'))
    with pytest.raises(settings.SettingsError, match='R was trained with --loss gan, not --loss wgan'):
        settings.resolve({'loss': 'wgan'}, stored, name='R')
    with pytest.raises(settings.SettingsError, match='R was trained with --clusters 50, not --clusters 0'):
        settings.resolve({'clusters': 0}, stored, name='R')
    with pytest.raises(settings.SettingsError, match='R was trained without --interpolate-conditions'):
        settings.resolve({'interpolate_conditions': True}, settings.to_config(new()), name='R')
    # The flag as a new run spells it is no contradiction.
    assert settings.resolve({'conditioning': 'none'}, stored, name='R')[0].model.conditioning == 'clusters'


# ------------------------------------------------------------------------------------ config.json

def test_config_json_is_the_value_written_out_and_read_back():
    for given in ({}, {'model_type': 'lapgan'}, {'conditioning': 'none'}, {'loss': 'wgan', 'arch': 'mlp'}):
        run = new(**given)
        assert settings.from_config(json.loads(json.dumps(settings.to_config(run)))) == run


@pytest.mark.parametrize('field, value', [('seed', 'x'), ('lr_decay', 'x'), ('condition_vectors', 5),
                                          ('batch_size', 0), ('learning_rate', -1e-4), ('beta1', 1.0), ('level_design', 3),
                                          ('projection', 'yes'), ('class_names', 'bag'),
                                          ('class_names', ['bag', 'bag']), ('class_names', ['bag', 3])])
def test_a_hand_edited_config_of_the_wrong_kind_names_the_field(field, value):
    config = settings.to_config(new(model_type='lapgan'))
    (config['model'] if field in settings.MODEL_FIELDS else config)[field] = value
    with pytest.raises(settings.SettingsError, match='"%s" is' % field):
        settings.from_config(config)


def test_a_run_stores_the_names_of_its_classes_and_reads_them_back():
    run = new(data='/somewhere/my_images', num_classes=3, class_names=['bag', 'boot', 'sneaker'])
    config = json.loads(json.dumps(settings.to_config(run)))
    assert config['class_names'] == ['bag', 'boot', 'sneaker'] and config['model']['num_classes'] == 3
    assert settings.from_config(config) == run and run.class_names == ('bag', 'boot', 'sneaker')
    assert settings.from_config(settings.to_config(run)) == run
    assert settings.to_config(new())['class_names'] is None   # a dataset known by name: its own names


def test_a_run_stored_before_class_names_existed_has_its_datasets_classes():
    for model_type in ('gan', 'lapgan'):
        config = settings.to_config(new(model_type=model_type, dataset='fashion_mnist'))
        del config['class_names']
        config['version'] = 3
        run = settings.from_config(config)
        assert (run.class_names, run.model.num_classes, run.model.model_type) == (None, 10, model_type)
    assert settings.from_config(legacy_config('gan')).class_names is None


def test_problem_a_name_for_each_class_and_two_classes_at_least():
    assert '3 names' in refused(num_classes=2, class_names=['bag', 'boot', 'sneaker'])
    assert '2 or more' in refused(num_classes=1)


def test_a_hand_edited_config_that_cannot_work_names_the_problem():
    config = settings.to_config(new(conditioning='none', clusters=0))
    config['model']['interpolate_conditions'] = True
    with pytest.raises(settings.SettingsError, match='--interpolate-conditions'):
        settings.from_config(config)


@pytest.mark.parametrize('name', ['gan', 'lapgan', 'wgan', 'concat', 'none'])
def test_every_legacy_run_reads_as_the_model_it_was_trained_as(name):
    run = settings.from_config(legacy_config(name))
    assert run.model.g_dim == 8 and run.model.condition_units == (8 if name in ('gan', 'lapgan', 'wgan') else None)
    assert run.lr_decay == 0.0 and run.model.d_learning_rate == run.model.learning_rate
    assert run.model.diversity_weight == 0.3
    if name == 'lapgan':
        assert run.model.level_convs == 1 and run.model.level_design == settings.LevelDesign(
            upsampling='nearest', judge='residual', code='plane', dilated=False)
    if name == 'concat':
        assert run.model.concat_every_layer is False   # 0.1.0's CGAN joined the label at the inputs only
    if name == 'none':
        assert run.model.conditioning == 'none' and run.model.clusters == 0   # before clusters existed
    assert legacy.upgrade(settings.to_config(run)) == settings.to_config(run)


# ------------------------------------------------------------------------------------ naming a run

def test_every_variant_has_a_name_of_its_own():
    variants = [{}, {'conditioning': 'none'}, {'conditioning': 'none', 'clusters': 0}, {'augment': 'translation'},
                {'lr_decay': 0.5}, {'d_learning_rate': 8e-4}, {'data': '/somewhere/digits.npz'},
                {'loss': 'wgan'}, {'model_type': 'lapgan'}, {'dataset': 'fashion_mnist'}]
    names = [settings.variant_name(new(**given)) for given in variants]
    assert len(set(names)) == len(names), names
    assert names[:3] == ['default', '--conditioning none', '--conditioning none --clusters 0']
    assert names[4] == '--lr-decay 0.5' and names[6] == '--data digits.npz'
    # The classes follow from the data: they tell no variant apart.
    assert settings.variant_name(new(data='/somewhere/my_images', num_classes=2, class_names=['bag', 'boot'])) == (
        '--data my_images')
    # Seeds and steps tell runs apart, not variants.
    assert settings.variant_name(new(seed=3, steps=100)) == 'default'


def test_settings_import_no_tensorflow():
    code = 'import sys, settings, legacy; print("tensorflow" in sys.modules)'
    result = subprocess.run([sys.executable, '-c', code], cwd=HERE, capture_output=True, text=True)
    assert result.stdout.strip() == 'False', result.stderr

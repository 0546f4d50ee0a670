"""Runs saved by older versions: what each version's config.json held, and what it meant, so that every run
ever saved still resumes and draws with the model it was trained as.

    upgrade(config)   # any version's config.json as a dict -> the current version's layout

Versions: 1 is release 0.1.0 (no "version" key); 2 added the family's later settings one at a time (a
run stored without one was trained before it existed); 3 stored every setting; 4 added the names of the
data's classes (class_names: runs of before trained on their dataset's own classes, the ten digits for MNIST,
and store null); 5 the hold-out (train_on_held_out: runs of before trained on every image) and the levers R1,
top-k and the averaged generator; 6 spectral normalisation; 7, today's, written by settings.to_config, lazy R1
(r1_every: runs of before paid R1 on every step). Plain dicts in, plain dicts out: settings.py checks the kinds
of the values afterwards.
"""
CURRENT_VERSION = 7

# The value each model setting had before it existed: a run stored without it was trained with that value.
BEFORE_IT_EXISTED = {'diversity_weight': 0.0, 'concat_every_layer': False, 'augment': '', 'clusters': 0}
LAPGAN_BEFORE_IT_EXISTED = {'level_convs': 1, 'level_design': 1}
# The model settings each version added, as runs saved before it were trained: with none of these levers.
LEVERS_ADDED_IN = {5: {'r1_weight': 0.0, 'top_k': 1.0, 'ema_decay': 0.0}, 6: {'spectral_norm': False},
                   7: {'r1_every': 1}}
LEVERS_BEFORE_THEY_EXISTED = {name: value for levers in LEVERS_ADDED_IN.values() for name, value in levers.items()}
# How LAPGAN's level designs were numbered in version 2 (1: the first; 2: bilinear, judged images, code maps,
# dilated convolutions), as settings.LevelDesign fields.
LEVEL_DESIGNS = {1: {'upsampling': 'nearest', 'judge': 'residual', 'code': 'plane', 'dilated': False},
                 2: {'upsampling': 'bilinear', 'judge': 'image', 'code': 'maps', 'dilated': True}}
# What main.py did with settings that versions 1 and 2 did not store: constant rates, and its flags' defaults.
UNSTORED = {'lr_decay': 0.0, 'condition_vectors': None, 'epochs': None, 'save_every': 500, 'summary_every': 100,
            'sample_every': 500, 'log_every': 100, 'eval_every': 250, 'eval_num_per_class': 100}


def upgrade(config):
    """A config.json of any version in the current layout: the model settings under "model" (the model type
    among them), the run's settings beside them. A current one comes back unchanged."""
    version = config.get('version', 1)
    if version >= CURRENT_VERSION:
        return config
    if version < 3:
        config = to_version_3(config)
    if version < 4:
        config = dict(config, class_names=None)   # the dataset's own classes
    model = dict(config['model'])
    for added_in, levers in LEVERS_ADDED_IN.items():
        if version < added_in:
            model.update(levers)
    # Runs before version 5 trained on every image, the held-out ones too.
    held_out = config['train_on_held_out'] if version >= 5 else True
    return dict(config, model=model, train_on_held_out=held_out, version=CURRENT_VERSION)


def to_version_3(config):
    """A config.json of version 1 or 2 as version 3 holds it."""
    version = config.get('version', 1)
    model = dict(config['model'])
    model_type = config.get('model_type', 'gan')
    model['model_type'] = model_type
    for name, value in BEFORE_IT_EXISTED.items():
        model.setdefault(name, value)
    if model_type == 'lapgan':
        for name, value in LAPGAN_BEFORE_IT_EXISTED.items():
            model.setdefault(name, value)
        if model.get('level_design') in LEVEL_DESIGNS:
            model['level_design'] = dict(LEVEL_DESIGNS[model['level_design']])
    else:
        model.update(level_convs=None, level_design=None)   # stored only for LAPGAN runs
    if version < 2 and model.get('arch') == 'mlp':
        model['projection'] = False   # 0.1.0's MLP discriminator had no projection term, whatever it stored
    if model.get('d_learning_rate') is None:
        model['d_learning_rate'] = model.get('learning_rate')   # it learnt at the generator's rate
    if model.get('conditioning') == 'none' and model.get('clusters'):
        model['conditioning'] = 'clusters'   # version 2 said 'none' for the graph conditioned on clusters
    upgraded = {key: value for key, value in config.items() if key != 'model_type'}
    for name, value in UNSTORED.items():
        upgraded.setdefault(name, value)
    upgraded['model'] = model
    upgraded['version'] = 3
    return upgraded

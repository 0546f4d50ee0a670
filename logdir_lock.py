"""One trainer per logdir: a lock file that holds the trainer's pid while it trains.

The lock is the kernel's flock on that file, not the file itself: the kernel frees it when the process ends,
however it ends, so a lock file left behind by a killed trainer is simply taken over.

    with LogdirLock('summary/train'):
        ...   # train; a second LogdirLock('summary/train') raises LogdirInUse meanwhile
"""
import fcntl
import os
import re

LOCK_NAME = 'training.lock'


class LogdirInUse(Exception):
    """Another process holds the lock of the logdir; `pid` is what its lock file says (may be empty)."""

    def __init__(self, logdir, pid):
        super().__init__('%s is in use by another training (pid %s)' % (logdir, pid or 'unknown'))
        self.pid = pid


class LogdirLock(object):
    """Creates the logdir if needed and locks it; on exit removes the lock file, and the directories it created
    if they are still empty (a run that failed before writing anything leaves no trace)."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.path = os.path.join(logdir, LOCK_NAME)
        self.created = []
        self.descriptor = None

    def __enter__(self):
        self.created = missing_directories(self.logdir)
        try:
            os.makedirs(self.logdir, exist_ok=True)
            self.descriptor = take(self.path, self.logdir)
        except BaseException:
            self.remove_created()
            raise
        return self

    def __exit__(self, *exc_info):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(self.descriptor)
            self.remove_created()

    def remove_created(self):
        for directory in reversed(self.created):   # the deepest first
            try:
                os.rmdir(directory)
            except OSError:   # not empty: the run wrote into it
                return


def missing_directories(path):
    """The directories that os.makedirs(path) would create, outermost first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.exists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing[::-1]


def take(path, logdir):
    """The open descriptor of the lock file at `path`, locked and holding our pid; LogdirInUse if it is held."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The holder may have removed the file between our open and our lock: then lock the new one.
            if same_file(descriptor, path):
                os.ftruncate(descriptor, 0)
                os.write(descriptor, b'%d\n' % os.getpid())
                return descriptor
        except BlockingIOError:
            pid = os.read(descriptor, 32).decode(errors='replace').strip()
            os.close(descriptor)
            raise LogdirInUse(logdir, pid) from None
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)


def holds_a_pid(path):
    """Whether the file at `path` reads as a lock file does: a pid and a newline, or nothing (a trainer killed
    between creating it and writing its pid)."""
    with open(path, 'rb') as stream:
        return re.fullmatch(rb'(\d+\n)?', stream.read(64)) is not None


def same_file(descriptor, path):
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)

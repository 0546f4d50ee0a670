"""Stopping cleanly: the first Ctrl-C or SIGTERM (what `timeout`, `docker stop` and systemd send) ends
training after the current step, with a checkpoint; a second stops at once; a save in progress is shielded."""
import contextlib
import signal
import threading

STOPPING = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(Exception):
    def __init__(self, signum):
        super().__init__('interrupted by signal %d' % signum)
        self.signum = signum


def in_main_thread():
    # Signal handlers can only be set from the main thread; elsewhere the signals keep their handlers.
    return threading.current_thread() is threading.main_thread()


class GracefulStop(object):
    """While entered, a first Ctrl-C or SIGTERM is only noted, and check(dataset, step) - a callback after each
    step - raises TrainingInterrupted; a second raises KeyboardInterrupt at once."""

    def __init__(self):
        self.signum = None
        self.previous = {}

    def handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def check(self, dataset, step):
        if self.signum is not None:
            raise TrainingInterrupted(self.signum)

    def __enter__(self):
        if in_main_thread():
            for signum in STOPPING:
                self.previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def raise_interrupted(signum, frame):
    raise TrainingInterrupted(signum)


@contextlib.contextmanager
def interruptible():
    """SIGTERM raises TrainingInterrupted, as Ctrl-C raises KeyboardInterrupt: cleaning up on the way out
    happens however the process is asked to stop."""
    previous = signal.signal(signal.SIGTERM, raise_interrupted) if in_main_thread() else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def ignored(*signums):
    """Signals ignored meanwhile, e.g. while the last checkpoint is saved."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in signums} if in_main_thread() else {}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

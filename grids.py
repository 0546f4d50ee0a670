"""Digit grids as pictures: numpy images in [-1, 1] -> PNG files, and PNGs -> a GIF."""
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def make_grid(images, columns, padding=2, row_labels=None):
    """(rows * columns, 28, 28[, 1]) images in [-1, 1] -> a uint8 picture, row by row, on a grey frame.

    With `row_labels`, each row's label is written in a white margin on its left (class names that are
    not digits, e.g. Fashion-MNIST's)."""
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
    if row_labels:
        grid = _label_rows(grid, row_labels, cell_h, padding)
    return grid


def _label_rows(grid, labels, cell_h, padding):
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new('L', (1, 1)))
    width = max(measure.textbbox((0, 0), label, font=font)[2] for label in labels) + 2 * padding
    margin = Image.new('L', (width, grid.shape[0]), 255)
    draw = ImageDraw.Draw(margin)
    for row, label in enumerate(labels):
        top, bottom = measure.textbbox((0, 0), label, font=font)[1::2]
        draw.text((padding, padding + row * cell_h + (cell_h - padding - (bottom - top)) // 2 - top), label,
                  fill=0, font=font)
    return np.concatenate([np.asarray(margin, np.uint8), grid], axis=1)


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

"""Digit grids as pictures: numpy images in [-1, 1] -> PNG files, and PNGs -> a GIF.

A grid is built band by band, one band per row of images, so that a grid of any length can be streamed into a
PNG file without all its images in memory (grid_bands, write_png); make_grid joins the bands of a small one.
"""
import os
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

import cli
import own_files

FRAME_GREY = 128
# The largest picture PIL opens without a warning (it refuses twice as many pixels): a larger grid is of no use.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS


def make_grid(images, columns, padding=2, row_labels=None):
    """(rows * columns, 28, 28[, 1]) images in [-1, 1] -> a uint8 picture, row by row, on a grey frame.

    With `row_labels`, each row's label is written in a white margin on its left (class names that are
    not digits, e.g. Fashion-MNIST's)."""
    return np.concatenate(list(grid_bands([images], columns, padding, row_labels)), axis=0)


def grid_size(count, columns, padding=2, row_labels=None, side=28):
    """(height, width) in pixels of the grid of `count` side x side images."""
    rows = -(-count // columns)
    cell = side + padding
    return rows * cell + padding, columns * cell + padding + label_margin_width(row_labels, padding)


def grid_bands(chunks, columns, padding=2, row_labels=None):
    """The pixel rows of make_grid's picture, one band per row of images (the first with the frame above it),
    from `chunks`: arrays of images in [-1, 1], in order."""
    margin = LabelMargin(row_labels, padding) if row_labels else None
    pending, row = [], 0
    for images in chunks:
        pending.extend(pixels(images))
        while len(pending) >= columns:
            yield band(pending[:columns], columns, padding, row, margin)
            pending, row = pending[columns:], row + 1
    if pending:
        yield band(pending, columns, padding, row, margin)


def pixels(images):
    """uint8 (N, height, width) pixels of images in [-1, 1], (N, height, width[, 1])."""
    images = np.asarray(images, np.float32)
    if images.ndim == 4:
        images = images[..., 0]
    return np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def band(images, columns, padding, row, margin):
    """One row of the grid: its images on the frame, the frame above it if it is the first row."""
    height, width = images[0].shape
    top = padding if row == 0 else 0
    picture = np.full((top + height + padding, columns * (width + padding) + padding), FRAME_GREY, np.uint8)
    for i, image in enumerate(images):
        left = padding + i * (width + padding)
        picture[top:top + height, left:left + width] = image
    if margin:
        picture = np.concatenate([margin.band(row, picture.shape[0], top, height + padding), picture], axis=1)
    return picture


def label_margin_width(row_labels, padding):
    if not row_labels:
        return 0
    measure = ImageDraw.Draw(Image.new('L', (1, 1)))
    font = ImageFont.load_default()
    return max(measure.textbbox((0, 0), label, font=font)[2] for label in row_labels) + 2 * padding


class LabelMargin(object):
    """The white margin left of the grid, each row's label written beside it in black."""

    def __init__(self, labels, padding):
        self.labels = labels
        self.padding = padding
        self.width = label_margin_width(labels, padding)
        self.font = ImageFont.load_default()
        self.measure = ImageDraw.Draw(Image.new('L', (1, 1)))

    def band(self, row, height, top, cell_height):
        """The margin beside band `row`, `height` pixels high, whose images start `top` pixels down."""
        margin = Image.new('L', (self.width, height), 255)
        if row < len(self.labels):
            label = self.labels[row]
            text_top, text_bottom = self.measure.textbbox((0, 0), label, font=self.font)[1::2]
            y = top + (cell_height - self.padding - (text_bottom - text_top)) // 2 - text_top
            ImageDraw.Draw(margin).text((self.padding, y), label, fill=0, font=self.font)
        return np.asarray(margin, np.uint8)


# ---------------------------------------------------------------- files

def save_png(path, picture):
    """Write through a temporary file, so a crash never leaves a half-written picture."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    marked = PngImagePlugin.PngInfo()
    marked.add_text(own_files.PNG_KEYWORD.decode(), own_files.MARK.decode())
    return cli.write_atomically(path, lambda stream: Image.fromarray(picture).save(stream, format='PNG',
                                                                                   pnginfo=marked))


def write_png(stream, bands, height, width):
    """A greyscale PNG of height x width pixels from `bands` of pixel rows (uint8 (rows, width)) that add up to
    `height` rows, compressed as they come: memory holds one band, whatever the height."""
    def chunk(kind, data):
        stream.write(struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data)))

    stream.write(own_files.PNG_SIGNATURE)
    chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0))   # 8-bit grey, no interlacing
    chunk(b'tEXt', own_files.png_text())
    compressor = zlib.compressobj(6)
    written = 0
    for rows in bands:
        if rows.shape[1] != width:
            raise ValueError('a band %d pixels wide in a PNG %d pixels wide' % (rows.shape[1], width))
        written += len(rows)
        # Each pixel row starts with its filter type: 0, none.
        data = compressor.compress(np.concatenate([np.zeros((len(rows), 1), np.uint8), rows], axis=1).tobytes())
        if data:
            chunk(b'IDAT', data)
    if written != height:
        raise ValueError('%d pixel rows written into a PNG %d rows high' % (written, height))
    chunk(b'IDAT', compressor.flush())
    chunk(b'IEND', b'')


class FrameError(Exception):
    """A picture that cannot be a frame of a GIF: the message names it and why."""


def read_frames(png_paths):
    """The pictures at png_paths as greyscale frames; FrameError for one that is not a picture, or one of more
    than MAX_PIXELS (checked from its header, before its pixels are read)."""
    frames = []
    for path in png_paths:
        try:
            with warnings.catch_warnings():   # a picture too large is said in one line, below
                warnings.simplefilter('ignore', Image.DecompressionBombWarning)
                picture = Image.open(path)
            with picture:
                width, height = picture.size
                if width * height > MAX_PIXELS:
                    raise FrameError('%s is %dx%d pixels, more than a frame may have (%d)' % (
                        path, width, height, MAX_PIXELS))
                frames.append(picture.convert('L'))
        except (OSError, SyntaxError, Image.DecompressionBombError) as error:
            raise FrameError('%s cannot be read as a picture (%s)' % (path, error)) from None
    return frames


def save_gif(frames, path, milliseconds=200):
    """Frames (from read_frames) into a GIF at path, through a temporary file."""
    if not frames:
        raise ValueError('no PNG frames to turn into %s' % path)
    return cli.write_atomically(path, lambda stream: frames[0].save(
        stream, format='GIF', save_all=True, append_images=frames[1:], duration=milliseconds, loop=0,
        comment=own_files.MARK))

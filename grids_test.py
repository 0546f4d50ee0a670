"""Grids: images laid out row by row, optionally with each row's class name written on its left."""
import numpy as np
from PIL import Image

import grids


def test_grid_places_images_row_by_row_on_a_grey_frame():
    # Four shades, none the frame's grey (128), so that a missing or misplaced image shows.
    images = np.stack([np.full((28, 28), value) for value in (-1.0, -0.5, 1.0, 0.5)])
    grid = grids.make_grid(images, columns=2, padding=2)
    assert grid.shape == (2 * 30 + 2, 2 * 30 + 2) and grid.dtype == np.uint8
    cells = [grid[top:top + 28, left:left + 28] for top in (2, 32) for left in (2, 32)]
    for cell, shade in zip(cells, (0, 64, 255, 191)):
        assert (cell == shade).all()
    frame = np.ones(grid.shape, bool)
    for top in (2, 32):
        for left in (2, 32):
            frame[top:top + 28, left:left + 28] = False
    assert (grid[frame] == 128).all()


def test_a_grid_streamed_band_by_band_into_a_png_is_the_same_picture(tmp_path):
    images = np.linspace(-1, 1, 7 * 28 * 28).reshape(7, 28, 28)
    names = ['zero', 'one', 'two', 'three']
    whole = grids.make_grid(images, columns=2, row_labels=names)
    assert whole.shape == grids.grid_size(7, 2, row_labels=names)
    chunks = [images[:3], images[3:4], images[4:]]   # chunks that do not end with the rows
    bands = list(grids.grid_bands(chunks, 2, row_labels=names))
    assert len(bands) == 4 and bands[0].shape[0] == 32 and bands[1].shape[0] == 30
    path = tmp_path / 'streamed.png'
    with open(str(path), 'wb') as stream:
        grids.write_png(stream, iter(bands), *whole.shape)
    np.testing.assert_array_equal(np.asarray(Image.open(str(path))), whole)


def test_row_labels_are_written_in_a_margin_beside_their_rows():
    images = np.zeros((4, 28, 28))
    plain = grids.make_grid(images, columns=2)
    labelled = grids.make_grid(images, columns=2, row_labels=['Sneaker', 'Ankle boot'])
    assert labelled.shape[0] == plain.shape[0] and labelled.shape[1] > plain.shape[1]
    margin = labelled.shape[1] - plain.shape[1]
    np.testing.assert_array_equal(labelled[:, margin:], plain)
    for row in range(2):
        band = labelled[2 + row * 30:2 + row * 30 + 28, :margin]
        assert (band < 64).any(), 'no text in row %d' % row   # dark letters on the light margin
    # A longer name gets a wider margin rather than being cut off.
    longer = grids.make_grid(images, columns=2, row_labels=['Sneaker', 'A much longer class name'])
    assert longer.shape[1] > labelled.shape[1]


def test_saved_png_reads_back_as_the_same_picture(tmp_path):
    picture = grids.make_grid(np.linspace(-1, 1, 3 * 28 * 28).reshape(3, 28, 28), columns=3)
    path = grids.save_png(str(tmp_path / 'grid.png'), picture)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), picture)

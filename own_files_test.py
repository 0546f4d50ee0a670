"""The mark on what the project writes: every writer of a picture or archive leaves it, files of the same kinds
written by anything else lack it, and only a marked file may be replaced."""
import zipfile

import numpy as np
import pytest
from PIL import Image

import grids
import own_files

PIXELS = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)


def marked_png_written_in_bands(path):
    with open(path, 'wb') as stream:
        grids.write_png(stream, [PIXELS[:14], PIXELS[14:]], 28, 28)


def marked_png_saved_whole(path):
    grids.save_png(str(path), PIXELS)


def marked_gif(path):
    grids.save_gif([Image.fromarray(PIXELS), Image.fromarray(255 - PIXELS)], str(path))


OURS = {'grid.png': marked_png_written_in_bands, 'sample.png': marked_png_saved_whole, 'progress.gif': marked_gif}


@pytest.mark.parametrize('name', sorted(OURS))
def test_what_the_project_writes_carries_its_mark_and_may_be_replaced(name, tmp_path):
    path = tmp_path / name
    OURS[name](path)
    assert own_files.written_here(str(path))
    assert own_files.replace_problem(str(path), '--output') is None
    with Image.open(str(path)) as picture:   # and it is still a picture any program opens
        assert picture.size == (28, 28)


def png_of_another_program(path):
    Image.fromarray(PIXELS).save(str(path), format='PNG')


def png_with_another_programs_software_text(path):
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text('Software', 'some editor')
    Image.fromarray(PIXELS).save(str(path), format='PNG', pnginfo=info)


def gif_of_another_program(path):
    Image.fromarray(PIXELS).save(str(path), format='GIF', comment=b'my holiday')


def npz_of_numpy(path):
    np.savez(str(path), images=PIXELS)


def npz_with_a_comment_of_its_own(path):
    with zipfile.ZipFile(str(path), 'w') as archive:
        archive.writestr('images.npy', b'')
        archive.comment = b'mine'


def npy_of_numpy(path):
    np.save(str(path), PIXELS)


def text_named_as_a_picture(path):
    path.write_bytes(b'what I tried, and why\n')


def truncated_png(path):
    marked_png_saved_whole(path)
    path.write_bytes(path.read_bytes()[:12])


THEIRS = {'photo.png': png_of_another_program, 'edited.png': png_with_another_programs_software_text,
          'holiday.gif': gif_of_another_program, 'arrays.npz': npz_of_numpy,
          'commented.npz': npz_with_a_comment_of_its_own, 'arrays.npy': npy_of_numpy,
          'notes.png': text_named_as_a_picture, 'cut.png': truncated_png}


@pytest.mark.parametrize('name', sorted(THEIRS))
def test_a_file_written_by_anything_else_is_not_to_be_replaced(name, tmp_path):
    path = tmp_path / name
    THEIRS[name](path)
    assert not own_files.written_here(str(path))
    problem = own_files.replace_problem(str(path), '--sheet')
    assert problem.startswith('--sheet %s exists' % path) and 'not replaced' in problem
    assert len(problem.splitlines()) == 1


def test_nothing_there_or_a_folder_is_for_other_checks_to_judge(tmp_path):
    assert own_files.replace_problem(str(tmp_path / 'new.png'), '--output') is None
    assert own_files.replace_problem(str(tmp_path), '--output') is None

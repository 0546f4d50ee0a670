"""The mark this project writes into the pictures and archives it makes, and the test for it.

A command writes its picture to a path the user names (--output, --sheet); a file already there is replaced
only when it carries the mark, so running the same command again works, while a file of the user's (or one
written before files were marked) is never written over.

    PNG   a tEXt chunk: Software = MARK (grids.write_png, grids.save_png, the curves' matplotlib figure)
    GIF   its comment (grids.save_gif)
    .npz  the zip's comment (generate.write_npz)
    .npy  no room for one: an existing .npy file is never replaced
"""
import os
import struct
import zipfile

MARK = b'conditional-gan-mnist'
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PNG_KEYWORD = b'Software'
GIF_SIGNATURES = (b'GIF87a', b'GIF89a')


def png_text():
    """The data of the PNG tEXt chunk that marks a picture: keyword, a zero byte, the text."""
    return PNG_KEYWORD + b'\0' + MARK


def written_here(path):
    """Whether the file at path carries the mark. Reads only the start of a PNG or GIF, and a zip's directory;
    opens it once."""
    try:
        with open(path, 'rb') as stream:
            head = stream.read(8)
            if head == PNG_SIGNATURE:
                return png_text() in png_texts(stream)
            stream.seek(0)
            if head[:6] in GIF_SIGNATURES:
                return gif_comment(stream) == MARK
            with zipfile.ZipFile(stream) as archive:   # not a zip: BadZipFile
                return archive.comment == MARK
    except (OSError, ValueError, zipfile.BadZipFile, struct.error):
        return False


def png_texts(stream):
    """The tEXt chunks' data before a PNG's first image data (where every writer here puts its mark)."""
    texts = []
    while True:
        length, kind = struct.unpack('>I4s', stream.read(8))
        if kind in (b'IDAT', b'IEND'):
            return texts
        data = stream.read(length)
        if kind == b'tEXt':
            texts.append(data)
        stream.seek(4, os.SEEK_CUR)   # the chunk's CRC


def gif_comment(stream):
    from PIL import Image
    with Image.open(stream) as picture:
        return picture.info.get('comment')


def replace_problem(path, flag):
    """Why a file at `flag` `path` may not be replaced (it lacks the mark), or None: nothing there, or ours."""
    if not os.path.lexists(path) or os.path.isdir(path) or written_here(path):
        return None
    if path.lower().endswith('.npy'):
        return ('%s %s exists, and a .npy file cannot show that this project wrote it, so it is not replaced: '
                'move it, or choose another %s (a .npz archive carries the mark)' % (flag, path, flag))
    return ('%s %s exists and is not a file this project wrote (it carries no mark of it), so it is not '
            'replaced: move it, or choose another %s' % (flag, path, flag))

# SPDX-License-Identifier: LGPL-2.1-or-later
"""vidpipe: Python bindings (ctypes) for libvidpipe's frame writer.

``VideoWriter`` is a drop-in for ``cv2.VideoWriter`` in the common case::

    import vidpipe
    out = vidpipe.VideoWriter("out.mp4", vidpipe.VideoWriter_fourcc(*"avc1"), 30, (w, h))
    out.write(frame)      # numpy uint8 array, (h, w, 3) BGR
    out.release()

``write()`` copies the frame and returns; conversion and encoding run on libvidpipe's threads
(ctypes releases the GIL during the call). Unlike cv2, a failure is never silent: ``write()``
and ``release()`` raise ``VidpipeError`` with one line naming the file and the reason.

libvidpipe is found through $VIDPIPE_LIB (a path to libvidpipe.so), then the library
directory it was installed with, then a build tree next to this source tree, then the
system's library path.
"""

import ctypes
import ctypes.util
import glob
import logging
import os
import sys

__all__ = ["VideoWriter", "VideoWriter_fourcc", "VidpipeError", "version",
           "VIDEOWRITER_PROP_QUALITY", "VIDEOWRITER_PROP_FRAMEBYTES", "VIDEOWRITER_PROP_NSTRIPES",
           "VIDEOWRITER_PROP_IS_COLOR", "VIDEOWRITER_PROP_DEPTH",
           "VIDEOWRITER_PROP_HW_ACCELERATION", "VIDEOWRITER_PROP_HW_DEVICE",
           "VIDEOWRITER_PROP_KEY_INTERVAL"]

log = logging.getLogger("vidpipe")


class VidpipeError(RuntimeError):
    """A libvidpipe error: .code is the negative error code, str() the message."""

    def __init__(self, message, code=0):
        super().__init__(message)
        self.code = code


# ---- loading libvidpipe ----------------------------------------------------------------

def _candidates():
    env = os.environ.get("VIDPIPE_LIB")
    if env:
        yield env
    try:
        from . import _paths  # written by `meson install`
        yield os.path.join(_paths.LIBDIR, "libvidpipe.so.0")
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    for build in sorted(glob.glob(os.path.join(root, "build*"))):
        yield os.path.join(build, "src", "libvidpipe.so")
    found = ctypes.util.find_library("vidpipe")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("vidpipe: libvidpipe not found; set VIDPIPE_LIB. Tried: " +
                      "; ".join(tried or ["nothing"]))


_lib = _load()


class _Rational(ctypes.Structure):
    _fields_ = [("num", ctypes.c_int), ("den", ctypes.c_int)]


class _Logger(ctypes.Structure):
    # Mirrors VpLogger in include/vidpipe/common.h.
    _fields_ = [("fn", ctypes.c_void_p), ("opaque", ctypes.c_void_p), ("level", ctypes.c_int)]


class _Cancel(ctypes.Structure):
    # Mirrors VpCancel in include/vidpipe/common.h.
    _fields_ = [("fn", ctypes.c_void_p), ("opaque", ctypes.c_void_p)]


class _Opts(ctypes.Structure):
    # Mirrors VpWriterOpts in include/vidpipe/writer.h, field for field.
    _fields_ = [
        ("width", ctypes.c_int), ("height", ctypes.c_int),
        ("fps", _Rational),
        ("pix_fmt", ctypes.c_int),
        ("codec", ctypes.c_int),
        ("crf", ctypes.c_int),
        ("bitrate", ctypes.c_int64),
        ("preset", ctypes.c_char_p),
        ("keyint", ctypes.c_int),
        ("hw", ctypes.c_int),
        ("queue_depth", ctypes.c_int),
        ("threads", ctypes.c_int),
        ("encoder_params", ctypes.c_char_p),
        ("audio_sample_rate", ctypes.c_int),
        ("audio_channels", ctypes.c_int),
        ("audio_format", ctypes.c_int),
        ("audio_bitrate", ctypes.c_int64),
        ("worker_nice", ctypes.c_int),
        ("logger", _Logger),
        ("cancel", _Cancel),
    ]


class _Stats(ctypes.Structure):
    _fields_ = [
        ("frames", ctypes.c_int64),
        ("audio_samples", ctypes.c_int64),
        ("encoder", ctypes.c_char * 32),
        ("seconds", ctypes.c_double),
        ("fps", ctypes.c_double),
        ("bytes", ctypes.c_int64),
        ("blocked_writes", ctypes.c_int64),
    ]


class _OptionInfo(ctypes.Structure):
    # Mirrors VpOptionInfo in include/vidpipe/options.h.
    _fields_ = [("name", ctypes.c_char_p), ("help", ctypes.c_char_p), ("type", ctypes.c_char_p),
                ("default", ctypes.c_char * 64), ("range", ctypes.c_char * 96)]


_c_p = ctypes.c_void_p
_lib.vp_option_table.argtypes = [ctypes.c_char_p]
_lib.vp_option_table.restype = _c_p
_lib.vp_option_info.argtypes = [_c_p, ctypes.c_int, ctypes.POINTER(_OptionInfo)]
_lib.vp_option_set.argtypes = [_c_p, _c_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.c_size_t]
_WRITER_TABLE = _lib.vp_option_table(b"writer")
_lib.vp_writer_default_opts.argtypes = [ctypes.POINTER(_Opts)]
_lib.vp_writer_default_opts.restype = None
_lib.vp_writer_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Opts), ctypes.POINTER(_c_p),
                                ctypes.c_char_p, ctypes.c_size_t]
_lib.vp_writer_write.argtypes = [_c_p, _c_p, ctypes.c_int, ctypes.c_int]
_lib.vp_writer_write_audio.argtypes = [_c_p, _c_p, ctypes.c_int]
_lib.vp_writer_error.argtypes = [_c_p]
_lib.vp_writer_error.restype = ctypes.c_char_p
_lib.vp_writer_encoder.argtypes = [_c_p]
_lib.vp_writer_encoder.restype = ctypes.c_char_p
_lib.vp_writer_close.argtypes = [ctypes.POINTER(_c_p), ctypes.POINTER(_Stats), ctypes.c_char_p,
                                 ctypes.c_size_t]
_lib.vp_writer_abort.argtypes = [ctypes.POINTER(_c_p)]
_lib.vp_writer_abort.restype = None
_lib.vp_strerror.argtypes = [ctypes.c_int]
_lib.vp_strerror.restype = ctypes.c_char_p
_lib.vp_version.restype = ctypes.c_char_p
_lib.vp_pixel_format_from_name.argtypes = [ctypes.c_char_p]
_lib.vp_hw_encoder_from_name.argtypes = [ctypes.c_char_p]

# FFmpeg's and libvidpipe's messages go to the "vidpipe" logger. The callback runs on the
# writer's threads; ctypes takes the GIL for it.
_LOGFN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
_PY_LEVEL = {16: logging.ERROR, 24: logging.WARNING, 32: logging.INFO, 40: logging.DEBUG,
             48: logging.DEBUG}


def _log_line(opaque, level, msg):
    log.log(_PY_LEVEL.get(level, logging.DEBUG), msg.decode("utf-8", "replace"))


_log_cb = _LOGFN(_log_line)
_lib.vp_set_log_callback.argtypes = [_LOGFN, ctypes.c_void_p, ctypes.c_int]
_lib.vp_set_log_callback(_log_cb, None, 32)

_EAGAIN = -11
_WRITE_NONBLOCK = 1
_CODECS = {"h264": 0, "avc1": 0, "avc3": 0, "x264": 0, "mp4v": 0, "hevc": 1, "h265": 1,
           "hev1": 1, "hvc1": 1, "x265": 1}


def version():
    """libvidpipe's version string."""
    return _lib.vp_version().decode()


def VideoWriter_fourcc(c1, c2, c3, c4):
    """The same integer cv2.VideoWriter_fourcc() returns."""
    return ord(c1) | ord(c2) << 8 | ord(c3) << 16 | ord(c4) << 24


# cv2's VideoWriterProperties ids (opencv2/videoio.hpp), for get() and set().
VIDEOWRITER_PROP_QUALITY = 1
VIDEOWRITER_PROP_FRAMEBYTES = 2
VIDEOWRITER_PROP_NSTRIPES = 3
VIDEOWRITER_PROP_IS_COLOR = 4
VIDEOWRITER_PROP_DEPTH = 5
VIDEOWRITER_PROP_HW_ACCELERATION = 6
VIDEOWRITER_PROP_HW_DEVICE = 7
VIDEOWRITER_PROP_KEY_INTERVAL = 10
# cv2's VideoAccelerationType values for VIDEOWRITER_PROP_HW_ACCELERATION.
_ACCEL = {"vaapi": 3, "qsv": 4}
_ACCEL_NONE, _ACCEL_ANY = 0, 1


def _codec_of(fourcc, codec):
    """The library's codec id, or None for a fourcc the writer cannot encode (cv2 then
    returns a writer that is not opened). A codec= keyword naming no codec is ValueError."""
    if codec is not None:
        name = codec
    elif isinstance(fourcc, str):
        name = fourcc
    elif isinstance(fourcc, int) and fourcc > 0:
        name = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4))
    else:
        name = "h264"
    key = name.strip().lower()
    if key in _CODECS:
        return _CODECS[key]
    if codec is not None:
        raise ValueError("vidpipe: codec %r is not one of h264 (avc1), hevc (hvc1)" % name)
    return None


def _fourcc_text(fourcc):
    if isinstance(fourcc, str):
        return repr(fourcc)
    return "0x%08x/'%s'" % (fourcc, "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)))


def writer_options():
    """The writer's options as libvidpipe defines them: a list of dicts with name, type,
    default (as text), range and help. The keyword arguments of VideoWriter are these names
    (audio_sample_rate is audio_rate); what is not given keeps the library's default."""
    out, info, i = [], _OptionInfo(), 0
    while _lib.vp_option_info(_WRITER_TABLE, i, ctypes.byref(info)) == 0:
        out.append({"name": info.name.decode(), "type": info.type.decode(),
                    "default": info.default.decode(), "range": info.range.decode(),
                    "help": info.help.decode()})
        i += 1
    return out


def _fps_text(fps):
    # The library reads "29.97" as 30000/1001 and "30.0" as 30; a Fraction as N/D.
    from fractions import Fraction
    if isinstance(fps, Fraction):
        return "%d/%d" % (fps.numerator, fps.denominator)
    return repr(float(fps)) if isinstance(fps, float) else str(fps)


class VideoWriter:
    """Frames from numpy arrays to an H.264/HEVC file; cv2.VideoWriter's interface.

    VideoWriter(filename, fourcc, fps, frameSize, isColor=True, **options)

    fourcc: cv2.VideoWriter_fourcc(*"avc1") / "avc1" / "h264" / "hevc" ("mp4v" also gives
    H.264). frameSize: (width, height). Options (keywords): pix_fmt ("bgr24" default with
    isColor, "gray" without; also rgb24, bgra, rgba, yuv420p, nv12), codec, crf, bitrate
    (bits/s, 0 = constant quality), preset, keyint, hw ("auto", "none", "nvenc", "vaapi",
    "qsv", "videotoolbox"), queue_depth, threads, worker_nice (how many nice steps below the
    caller the writer's threads run, under SCHED_BATCH when above 0), encoder_params,
    audio_rate, audio_channels, blocking (True; False makes write() return False instead of
    waiting when the queue is full). Options not given keep libvidpipe's defaults; see
    writer_options() for each one's default and range.

    Like cv2, a writer that cannot be opened is not an exception: isOpened() is False and
    .error says why. Writing to it raises VidpipeError, except for a fourcc the writer cannot
    encode ("MJPG", "XVID", ...): as cv2 does for a fourcc it cannot write, a warning goes to
    stderr, isOpened() is False and write() does nothing (returns False). (cv2 writes MJPEG
    or MPEG-4 Part 2 for MJPG and XVID; libvidpipe encodes H.264 and HEVC only.)

    release() after no frame leaves no file, where cv2 4.6 leaves an MP4 with no stream that
    players refuse. get(prop) and set(prop, value) take cv2's VIDEOWRITER_PROP_* ids (also
    defined in this module); see get().
    """

    def __init__(self, filename, fourcc=None, fps=None, frameSize=None, isColor=True, *,
                 pix_fmt=None, codec=None, crf=None, bitrate=None, preset=None, keyint=None,
                 hw=None, queue_depth=None, threads=None, worker_nice=None,
                 encoder_params=None, audio_rate=None, audio_channels=None, blocking=True):
        self._w = _c_p()
        self.filename = os.fspath(filename)
        self.error = ""
        self.stats = None
        self._blocking = blocking
        self._silent = False  # cv2's unsupported-fourcc writer: write() does nothing
        self._written = 0
        self._is_color = bool(isColor)
        self._threads = threads
        self._keyint = keyint
        self._hw = hw
        if frameSize is None or len(frameSize) != 2:
            raise ValueError("vidpipe: frameSize must be (width, height)")
        self.width, self.height = int(frameSize[0]), int(frameSize[1])
        if pix_fmt is None:
            pix_fmt = "bgr24" if isColor else "gray"
        self.pix_fmt = pix_fmt
        o = _Opts()
        _lib.vp_writer_default_opts(ctypes.byref(o))
        o.width, o.height = self.width, self.height
        codec_id = _codec_of(fourcc, codec)
        if codec_id is None:
            self.error = "%s: fourcc %s is not supported: the writer encodes H.264 (avc1) " \
                "and HEVC (hvc1)" % (self.filename, _fourcc_text(fourcc))
            self._silent = True
            # cv2 says so on stderr and carries on with a writer that is not opened.
            print("vidpipe: " + self.error, file=sys.stderr)
            return
        o.codec = codec_id
        # Each given option is set by the library's table: its parser, range and message.
        self._keep = []  # string options point into these buffers while the writer runs
        given = [("fps", None if fps is None else _fps_text(fps)), ("pix_fmt", pix_fmt),
                 ("crf", crf), ("bitrate", bitrate), ("preset", preset), ("keyint", keyint),
                 ("hw", hw), ("queue_depth", queue_depth), ("threads", threads),
                 ("worker_nice", worker_nice), ("encoder_params", encoder_params),
                 ("audio_sample_rate", audio_rate), ("audio_channels", audio_channels)]
        why = ctypes.create_string_buffer(512)
        for name, value in given:
            if value is None:
                continue
            text = ctypes.create_string_buffer(str(value).encode())
            self._keep.append(text)
            if _lib.vp_option_set(_WRITER_TABLE, ctypes.byref(o), name.encode(), text, why,
                                  len(why)) < 0:
                self.error = "%s: %s" % (self.filename, why.value.decode("utf-8", "replace"))
                return
        self._audio_channels = o.audio_channels
        self._shape, self._row = self._frame_shape(pix_fmt)
        why = ctypes.create_string_buffer(512)
        ret = _lib.vp_writer_open(self.filename.encode(), ctypes.byref(o),
                                  ctypes.byref(self._w), why, len(why))
        if ret < 0:
            self._w = _c_p()
            self.error = why.value.decode("utf-8", "replace") or \
                _lib.vp_strerror(ret).decode()
            self.error_code = ret

    def _frame_shape(self, pix_fmt):
        w, h = self.width, self.height
        shapes = {"bgr24": ((h, w, 3), w * 3), "rgb24": ((h, w, 3), w * 3),
                  "bgra": ((h, w, 4), w * 4), "rgba": ((h, w, 4), w * 4),
                  "gray": ((h, w), w), "yuv420p": ((h * 3 // 2, w), w),
                  "nv12": ((h * 3 // 2, w), w)}
        return shapes[pix_fmt]

    # -- cv2.VideoWriter's interface --

    def isOpened(self):
        return bool(self._w)

    @property
    def encoder(self):
        """The encoder in use ("libx264", "h264_nvenc", ...), "" when not open."""
        return _lib.vp_writer_encoder(self._w).decode() if self._w else ""

    def write(self, frame, block=None):
        """Queue one frame (numpy uint8; (h, w, 3) for BGR). Returns True when queued;
        False only when not blocking (block=False, or blocking=False at open and block
        not given) and the queue is full. Raises VidpipeError if the writer is not open or
        has failed, ValueError for a frame of the wrong shape."""
        if not self._w:
            if self._silent:
                return False
            raise VidpipeError(self.error or "%s: writer is closed" % self.filename)
        shape = getattr(frame, "shape", None)
        if shape is None or tuple(shape) != self._shape:
            # cv2 accepts (h, w, 1) for gray.
            if not (self.pix_fmt == "gray" and shape is not None and
                    tuple(shape) == self._shape + (1,)):
                raise ValueError("vidpipe: %s: frame of shape %s, the writer takes %s (%s)" %
                                 (self.filename, shape, self._shape, self.pix_fmt))
        if frame.dtype.itemsize != 1 or frame.dtype.kind != "u":
            raise ValueError("vidpipe: %s: frame dtype %s, the writer takes uint8" %
                             (self.filename, frame.dtype))
        st = frame.strides
        # Rows may be padded (a crop of a larger image); within a row, pixels must be dense.
        if st[-1] != 1 or (len(st) == 3 and st[1] != shape[2]) or st[0] < self._row:
            frame = frame.copy()
            st = frame.strides
        blocking = self._blocking if block is None else block
        ret = _lib.vp_writer_write(self._w, frame.ctypes.data, st[0],
                                   0 if blocking else _WRITE_NONBLOCK)
        if ret == _EAGAIN and not blocking:
            return False
        if ret < 0:
            raise VidpipeError(_lib.vp_writer_error(self._w).decode("utf-8", "replace") or
                               "%s: %s" % (self.filename, _lib.vp_strerror(ret).decode()),
                               ret)
        self._written += 1
        return True

    def write_audio(self, pcm):
        """Queue interleaved PCM, shape (samples, channels): int16, or float in [-1, 1]."""
        if not self._w:
            raise VidpipeError(self.error or "%s: writer is closed" % self.filename)
        import numpy as np
        pcm = np.asarray(pcm)
        if pcm.dtype.kind == "f":
            pcm = np.clip(pcm, -1.0, 1.0) * 32767.0
        pcm = np.ascontiguousarray(pcm, dtype=np.int16)
        n = pcm.size // self._audio_channels
        ret = _lib.vp_writer_write_audio(self._w, pcm.ctypes.data, n)
        if ret < 0:
            raise VidpipeError(_lib.vp_writer_error(self._w).decode("utf-8", "replace") or
                               "%s: %s" % (self.filename, _lib.vp_strerror(ret).decode()),
                               ret)
        self._written += n > 0

    def release(self):
        """Flush, finish the file and move it into place. Raises VidpipeError if anything
        failed (nothing is left on disk then). With nothing written, leaves no file (a file
        already at the path is untouched; cv2 leaves a 262-byte MP4 with no stream). Calling
        it again does nothing."""
        if not self._w:
            return
        if not self._written:
            # Finishing would leave an MP4 with no stream (262 bytes) that players refuse.
            enc = self.encoder
            _lib.vp_writer_abort(ctypes.byref(self._w))
            self._w = _c_p()
            self.stats = {"frames": 0, "encoder": enc, "seconds": 0.0, "fps": 0.0,
                          "bytes": 0, "blocked_writes": 0, "audio_samples": 0}
            return
        stats = _Stats()
        why = ctypes.create_string_buffer(512)
        ret = _lib.vp_writer_close(ctypes.byref(self._w), ctypes.byref(stats), why, len(why))
        self._w = _c_p()
        self.stats = {
            "frames": stats.frames, "encoder": stats.encoder.decode(),
            "seconds": stats.seconds, "fps": stats.fps, "bytes": stats.bytes,
            "blocked_writes": stats.blocked_writes, "audio_samples": stats.audio_samples,
        }
        if ret < 0:
            self.error = why.value.decode("utf-8", "replace")
            raise VidpipeError(self.error, ret)

    def get(self, prop):
        """cv2's VideoWriter.get(): the value of a VIDEOWRITER_PROP_* id as a float, 0.0 for
        an id this writer does not know or a writer that is not open (as cv2 does).
        IS_COLOR: 1.0 or 0.0 (cv2's FFmpeg back end always says 0.0); DEPTH: 0.0 (CV_8U,
        the only depth taken); NSTRIPES: the threads option, -1.0 (auto) when not given;
        KEY_INTERVAL: keyint when given; HW_ACCELERATION: cv2's VideoAccelerationType of the
        encoder in use (0 none, 3 VAAPI, 4 QSV, 1 any other); HW_DEVICE: -1.0 (no device
        chosen), as cv2. QUALITY and FRAMEBYTES are 0.0, as with cv2's FFmpeg back end: the
        writer reports neither a 0..100 quality nor a per-frame size."""
        if not self._w:
            return 0.0
        if prop == VIDEOWRITER_PROP_IS_COLOR:
            return 1.0 if self._is_color else 0.0
        if prop == VIDEOWRITER_PROP_NSTRIPES:
            return float(self._threads) if self._threads else -1.0
        if prop == VIDEOWRITER_PROP_HW_DEVICE:
            return -1.0
        if prop == VIDEOWRITER_PROP_KEY_INTERVAL:
            return float(self._keyint) if self._keyint else 0.0
        if prop == VIDEOWRITER_PROP_HW_ACCELERATION:
            enc = self.encoder
            if enc.startswith("lib"):
                return float(_ACCEL_NONE)
            for name, value in _ACCEL.items():
                if enc.endswith("_" + name):
                    return float(value)
            return float(_ACCEL_ANY)
        return 0.0

    def set(self, prop, value):
        """cv2's VideoWriter.set(): False for every id. As with cv2's FFmpeg back end,
        nothing can change once the encoder is open; give the setting (crf, threads,
        keyint, ...) to the constructor instead."""
        return False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.release()
        elif self._w:
            _lib.vp_writer_abort(ctypes.byref(self._w))
            self._w = _c_p()
        return False

    def __del__(self):
        # Like cv2, dropping an open writer finishes the file; errors can only be logged.
        w = getattr(self, "_w", None)
        if w:
            try:
                self.release()
            except VidpipeError as e:
                log.error("%s", e)

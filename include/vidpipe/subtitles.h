/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file subtitles.h
 * Subtitle files: a list of timed cues read from and written to SRT, WebVTT and ASS, their
 * timings shifted and stretched, and soft subtitle tracks muxed into a video by stream copy.
 *
 * The model (docs/subtitles.md): a cue is a start and an end in whole milliseconds and a
 * text of one or more non-empty lines joined by '\n'. The text keeps the markup the three
 * formats share, spelt as in SRT: `<i>`, `</i>`, `<b>`, `</b>`, `<u>`, `</u>`. Anything else
 * that looks like markup (another `<tag>`, an ASS override block `{\...}`) is dropped when
 * read; the words around it stay. Cues keep the order and the overlaps of the file.
 *
 * ASS counts time in centiseconds: writing ASS rounds each time to the nearest 10 ms (half
 * up), so SRT and WebVTT round-trip exactly and ASS to the centisecond.
 */
#ifndef VIDPIPE_SUBTITLES_H
#define VIDPIPE_SUBTITLES_H

#include "common.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A list of cues (opaque). Not thread-safe: one thread at a time per list. */
typedef struct VpSubs VpSubs;

typedef enum VpSubsFormat {
    VP_SUBS_AUTO = 0,   /**< reading: detected from the text; writing: from the file name */
    VP_SUBS_SRT,        /**< SubRip (.srt) */
    VP_SUBS_VTT,        /**< WebVTT (.vtt) */
    VP_SUBS_ASS,        /**< Advanced SubStation Alpha (.ass, .ssa) */
} VpSubsFormat;

/** One cue, as vp_subs_get() gives it. */
typedef struct VpSubsCue {
    int64_t start_ms, end_ms;   /**< 0 <= start_ms <= end_ms */
    const char *text;           /**< owned by the list; valid until it is changed or freed */
} VpSubsCue;

/**
 * An empty list in *@p out, for a caller that makes cues (a transcriber).
 * @return 0, or AVERROR(ENOMEM) (*@p out is NULL then). Thread-safe.
 */
VP_API int vp_subs_new(VpSubs **out);

/** Free *@p subs and set it to NULL; NULL or *NULL do nothing. */
VP_API void vp_subs_free(VpSubs **subs);

/**
 * Read the subtitle file @p path (at most 64 MiB), its format detected from its first line:
 * "WEBVTT" is WebVTT, "[Script Info]" is ASS, anything else is read as SRT. A UTF-8 byte
 * order mark, CRLF line ends and a missing final blank line are accepted.
 * @return 0 with a new list in *@p out (the caller frees it with vp_subs_free()), or a
 *         negative error with *@p out NULL and @p fail (may be NULL) filled: its message is
 *         one line naming the file, the line and the reason
 *         ("subs.srt:12: end time 00:00:01,000 is before start 00:00:03,000");
 *         AVERROR_INVALIDDATA for a malformed file, the read's error (AVERROR(ENOENT)...),
 *         VP_ERR_TOO_LARGE. Thread-safe.
 */
VP_API int vp_subs_read(const char *path, VpSubs **out, VpFailure *fail);

/**
 * vp_subs_read() on @p size bytes at @p data (need not be terminated); @p name (may be NULL:
 * "subtitles") is what the error messages call it. @p data stays the caller's.
 */
VP_API int vp_subs_parse(const char *name, const void *data, size_t size, VpSubs **out,
                         VpFailure *fail);

/** The format @p subs was read from (VP_SUBS_AUTO for one made with vp_subs_new()). */
VP_API VpSubsFormat vp_subs_source_format(const VpSubs *subs);

/** The format a file name asks for by its extension (case-insensitive .srt, .vtt, .ass,
 *  .ssa), or VP_SUBS_AUTO when it names none. Thread-safe. */
VP_API VpSubsFormat vp_subs_format_from_name(const char *path);

/** "srt", "vtt", "ass" (or "auto"). Static string. Thread-safe. */
VP_API const char *vp_subs_format_name(VpSubsFormat fmt);

/** The number of cues in @p subs. */
VP_API int vp_subs_count(const VpSubs *subs);

/**
 * Cue @p i (0 <= i < vp_subs_count()) into *@p cue.
 * @return 0, or AVERROR(EINVAL) for an index out of range.
 */
VP_API int vp_subs_get(const VpSubs *subs, int i, VpSubsCue *cue);

/**
 * Append a cue. @p text is copied and brought to the model's form (lines trimmed, empty
 * lines and unknown markup dropped, as when read).
 * @return 0, AVERROR(EINVAL) when the times are negative or @p end_ms < @p start_ms (nothing
 *         is added), or AVERROR(ENOMEM).
 */
VP_API int vp_subs_add(VpSubs *subs, int64_t start_ms, int64_t end_ms, const char *text);

/**
 * Write @p subs to @p path in @p fmt (VP_SUBS_AUTO: from @p path's extension), atomically
 * (a temporary name next to it, renamed when complete: a failure leaves no file).
 * UTF-8 without a byte order mark, LF line ends; SRT cues numbered from 1; WebVTT with a
 * bare "WEBVTT" header; ASS with one "Default" style.
 * @return 0, or a negative error with @p fail (may be NULL) naming @p path:
 *         VP_ERR_BAD_OPTION for no format, the write's error. Thread-safe for distinct lists.
 */
VP_API int vp_subs_write(const VpSubs *subs, const char *path, VpSubsFormat fmt,
                         VpFailure *fail);

/**
 * The text vp_subs_write() would write, in *@p buf (terminated; *@p size excludes the
 * terminator; the caller frees it with av_free()).
 * @return 0, AVERROR(EINVAL) for VP_SUBS_AUTO, or AVERROR(ENOMEM) (*@p buf NULL then).
 */
VP_API int vp_subs_write_buffer(const VpSubs *subs, VpSubsFormat fmt, char **buf,
                                size_t *size);

/**
 * Add @p offset_ms to every time. A cue that would end before 0 is removed; one that would
 * start before 0 starts at 0.
 * @return the number of cues removed (0 or more), or AVERROR(EINVAL) when a time would pass
 *         VP_SUBS_MAX_MS (nothing is changed then).
 */
VP_API int vp_subs_shift(VpSubs *subs, int64_t offset_ms);

/** The largest time a list holds: 100000 hours. */
#define VP_SUBS_MAX_MS INT64_C(360000000000)

/**
 * Multiply every time by @p factor (0 < factor <= 1000; a 25 fps file played at 23.976 fps
 * needs 25 / 23.976), rounded to the nearest millisecond.
 * @return 0, or AVERROR(EINVAL) for a factor out of range or a time past VP_SUBS_MAX_MS
 *         (nothing is changed then).
 */
VP_API int vp_subs_stretch(VpSubs *subs, double factor);

/**
 * Map times linearly so that @p a1 becomes @p b1 and @p a2 becomes @p b2 (two cues whose
 * right times are known: a shift and a stretch at once), rounded to the millisecond. Cues
 * that end before 0 are removed, as by vp_subs_shift().
 * @return the number of cues removed, or AVERROR(EINVAL) when @p a1 == @p a2, the mapping
 *         reverses time (@p b2 - @p b1 has not the sign of @p a2 - @p a1) or a time would pass
 *         VP_SUBS_MAX_MS (nothing is changed then).
 */
VP_API int vp_subs_map(VpSubs *subs, int64_t a1_ms, int64_t b1_ms, int64_t a2_ms,
                       int64_t b2_ms);

typedef struct VpSubsMuxOpts {
    /** One language per subtitle file (ISO 639-2, three letters: "eng", "fra"), or NULL for
     *  all undetermined ("und"); NULL entries are "und". Read during the call. */
    const char *const *langs;
    VpLogger logger;            /**< see common.h */
    VpCancel cancel;            /**< see common.h */
} VpSubsMuxOpts;

/** Fill @p opts with the defaults (no languages, default logger, no cancel). Thread-safe. */
VP_API void vp_subs_mux_default_opts(VpSubsMuxOpts *opts);

/**
 * Write @p out with the video and audio streams of @p video copied (no re-encode; its other
 * streams are left out) and one soft subtitle track per file of @p subs (@p nb_subs, 1..32):
 * mov_text in MP4/MOV, and in Matroska ASS for an ASS file and SRT for the others. Each track
 * carries its language; the first is the default track. A cue of no duration is left out;
 * in MP4, whose text tracks show one sample at a time, a cue that overlaps the next ends
 * where the next begins. @p out is written atomically.
 * @return 0, or a negative error with @p fail (may be NULL) naming the file at fault:
 *         the video (fail->input 0), subtitle file k (input k + 1; its message has the line)
 *         or the output (-1: VP_ERR_BAD_OPTION for a bad language or count,
 *         VP_ERR_CONTAINER_CODEC for an output that is neither MP4/MOV nor Matroska,
 *         VP_ERR_OUTPUT_IS_INPUT, the write's error); VP_ERR_NO_STREAMS when @p video has no
 *         video or audio; VP_ERR_CANCELLED. Thread-safe.
 */
VP_API int vp_subs_mux(const char *video, const char *const *subs, int nb_subs,
                       const char *out, const VpSubsMuxOpts *opts, VpFailure *fail);


/** Burning captions into the picture (vp_subs_burn()). Option table "subs_burn". */
typedef struct VpSubsBurnOpts {
    /** ASS style fields forced on every cue, as libass's force_style takes them:
     *  "KEY=VALUE,..." with the keys of an ASS style line (Fontname, Fontsize, PrimaryColour,
     *  OutlineColour, BackColour, Bold, Italic, Outline, Shadow, Alignment, MarginV, ...;
     *  any case); values of letters, digits, spaces and & . - + _. NULL: none. Read during
     *  the call. */
    const char *style;
    int crf;                        /**< x264 CRF 0..51 (23) */
    const char *x264_preset;        /**< x264 preset ("medium") */
    const VpPipelineOpts *pipeline; /**< decoding, logger and cancel (NULL: the defaults of
                                         vp_pipeline_default_opts()); read during the call */
} VpSubsBurnOpts;

/** Fill @p opts with the defaults (no style, CRF 23, preset medium). Thread-safe. */
VP_API void vp_subs_burn_default_opts(VpSubsBurnOpts *opts);

/**
 * Write @p out: the video of @p in with the cues of @p subs (SRT, WebVTT or ASS) drawn into
 * the picture by libass (FFmpeg's `subtitles` filter) and encoded with libx264 in one decode,
 * and @p in's best audio stream copied packet for packet (not re-encoded). The picture keeps
 * its size, bit depth and timing. An ASS file keeps its styles and positions; SRT and WebVTT
 * use libass's default style; @p opts->style overrides fields of either. When libass falls
 * back to another font than the one asked for, one warning line through the logger says
 * which ("subs.srt: font 'Foo' is not installed: libass uses 'DejaVuSans'").
 * The subtitle file is read first (vp_subs_read()): a malformed one fails before any decode.
 * Temporary files (the captions as libass reads them, the encoded video) live in $TMPDIR
 * (or /tmp) and are removed; @p out is written atomically.
 * @return 0, or a negative error with @p fail (may be NULL) naming the file at fault: the
 *         video (fail->input 0: VP_ERR_NO_VIDEO, unreadable...), the subtitle file (input 1:
 *         its line and reason), or the output (input -1: VP_ERR_BAD_OPTION for a bad option
 *         or style key, VP_ERR_OUTPUT_IS_INPUT, VP_ERR_CONTAINER_CODEC when the output's
 *         container cannot hold the source's audio, the write's error); VP_ERR_CANCELLED.
 *         Thread-safe.
 */
VP_API int vp_subs_burn(const char *in, const char *subs, const char *out,
                        const VpSubsBurnOpts *opts, VpFailure *fail);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_SUBTITLES_H */

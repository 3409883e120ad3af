/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file export.h
 * Platform exports: each preset scales the picture to fit its frame, pads it keeping the
 * aspect, sets its frame rate, encodes H.264 at its CRF under its bitrate cap, and AAC.
 * Several presets are made from one decode of the source.
 */
#ifndef VIDPIPE_EXPORT_H
#define VIDPIPE_EXPORT_H

#include "common.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One export preset. In a preset file every field but "name" is optional. */
typedef struct VpPreset {
    char name[32];              /**< [a-z0-9_-]+, the output's suffix ("clip_youtube.mp4") */
    char description[96];
    int width, height;          /**< the frame the picture is fitted and padded to */
    double fps;                 /**< frame rate */
    int crf;                    /**< x264 CRF */
    char x264_preset[16];       /**< x264 preset */
    int64_t max_bitrate;        /**< bits/s cap (VBV, buffer 2 s); 0 = none */
    int64_t audio_bitrate;      /**< AAC bits/s */
} VpPreset;

typedef struct VpPresetSet VpPresetSet;

/**
 * A set holding the built-in presets (youtube, instagram, tiktok, twitter, facebook,
 * web_optimized, high_quality, social_media, fast_draft).
 * @return 0 or AVERROR(ENOMEM); *out is the new set (vp_preset_set_free()) or NULL.
 * Thread-safe; a set is then used from one thread at a time.
 */
VP_API int vp_preset_set_new(VpPresetSet **out);

/**
 * Add the presets of a JSON document: {"presets": [{"name": "web720", "base": "youtube",
 * "height": 720, ...}, ...]}. Each starts from its "base" preset (or web_optimized) and
 * overrides the fields given; a name already in the set is replaced. The text is untrusted:
 * any bytes are safe. Returns 0 or AVERROR_INVALIDDATA with @p err naming the preset, field
 * or byte; on failure the set is unchanged.
 */
VP_API int vp_preset_set_parse(VpPresetSet *set, const char *text, size_t len, char *err,
                               size_t err_size);
/** vp_preset_set_parse() on a file (AVERROR(ENOENT) etc. when it cannot be read). */
VP_API int vp_preset_set_load(VpPresetSet *set, const char *path, char *err, size_t err_size);

/** The preset called @p name, or NULL. Valid until the set changes or is freed. A set may
 *  be read from several threads at once while nothing changes it. */
VP_API const VpPreset *vp_preset_set_find(const VpPresetSet *set, const char *name);
/** Number of presets, and the i-th (0 <= i < count, else NULL) in the order added; the
 *  pointer is valid until the set changes or is freed. */
VP_API int vp_preset_set_count(const VpPresetSet *set);
VP_API const VpPreset *vp_preset_set_get(const VpPresetSet *set, int i);
/** Free a set and set *set to NULL. Accepts NULL. */
VP_API void vp_preset_set_free(VpPresetSet **set);

/** The encoder settings a preset stands for (for vp_pipeline_add_encode()): fit and pad to
 *  its frame, its frame rate, CRF, x264 preset, caps. @p opts points at @p preset's strings
 *  and @p path, which must outlive it. Thread-safe. */
VP_API void vp_preset_encode_opts(const VpPreset *preset, const char *path, VpEncodeOpts *opts);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_EXPORT_H */

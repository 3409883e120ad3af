/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The option table of VpTranscribeOpts ("transcribe"): what `vidpipe subtitles transcribe`
 * and the subtitles step of `vidpipe run` read their settings through. */
#include <stddef.h>

#include "options/options.h"
#include "vidpipe/transcribe.h"

#define O(...) VPI_OPT_ROW(VpTranscribeOpts, __VA_ARGS__)

/* logger and cancel are the caller's wiring, not settings: no rows. */
static const VpiOption transcribe_options[] = {
    O(lang, CSTRING, 0, 0, 0, "the speech model's language", .def_str = "en-us"),
    O(max_chars, INT, 42, 10, 200, "characters a caption line holds"),
    O(max_lines, INT, 2, 1, 5, "lines a caption holds"),
    O(threads, INT, 0, 0, 8, "utterances decoded at once (0: one a core, at most 4)"),
    O(engine, CSTRING, 0, 0, 0, "speech engine (default: pocketsphinx)"),
    O(model_dir, CSTRING, 0, 0, 0, "the engine's model folder (default: its own)"),
    { NULL },
};
#undef O

const VpiOptTable vpi_transcribe_options = { "transcribe", transcribe_options, NULL };

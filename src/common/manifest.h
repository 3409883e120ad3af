/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Batch manifests: CSV rows "output,segment,segment,..." (RFC 4180 quoting). */
#ifndef VIDPIPE_TOOLS_MANIFEST_H
#define VIDPIPE_TOOLS_MANIFEST_H

#include <stddef.h>

/* One output and the segments joined into it, in order; paths resolved (see below). */
typedef struct VpiManifestRow {
    const char *output;
    const char *const *segments;
    int nb_segments;
    int line;               /* line of the file where the row starts (1-based) */
} VpiManifestRow;

typedef struct VpiManifestStrings VpiManifestStrings;

typedef struct VpiManifest {
    VpiManifestRow *rows;
    int nb_rows;
    int has_header;         /* the first row was a header and was skipped */
    int nb_unique_segments; /* distinct segment paths (shared ones are stored once) */
    VpiManifestStrings *strings;
} VpiManifest;

/*
 * Parse a manifest held in memory. The format:
 *  - RFC 4180 CSV: fields separated by commas; a field in double quotes may hold commas,
 *    line breaks and doubled quotes (""); rows end with LF, CRLF or CR; a UTF-8 BOM at the
 *    start is ignored.
 *  - Each row: the output, then one or more segments. Empty fields are ignored (rows of a
 *    spreadsheet padded to the longest one); rows with no field at all are skipped.
 *  - Unquoted fields lose leading and trailing spaces and tabs (quote a path to keep them);
 *    a quote inside an unquoted field is an ordinary character.
 *  - A first row whose first field is "output" (any case) is a header and is skipped.
 *  - Relative segment paths are resolved against @p seg_base, relative outputs against
 *    @p out_base (NULL or "" for either: left as they are).
 * @p name is the manifest's name for messages. Returns 0 with *m filled (free it with
 * vpi_manifest_free()), or a negative error with one line in @p why ("FILE:LINE: reason")
 * and *m empty. The input is untrusted: any bytes give either rows or an error.
 */
int vpi_manifest_parse(const char *data, size_t size, const char *name, const char *seg_base,
                       const char *out_base, VpiManifest *m, char *why, size_t why_size);

/* Read @p path (at most 1 GiB) and parse it; relative segment paths resolve against the
 * manifest's folder, relative outputs against @p out_dir or else the manifest's folder. */
int vpi_manifest_load(const char *path, const char *out_dir, VpiManifest *m, char *why,
                      size_t why_size);

/* Free everything *m holds and zero it. Safe on a zeroed manifest. */
void vpi_manifest_free(VpiManifest *m);

#endif /* VIDPIPE_TOOLS_MANIFEST_H */

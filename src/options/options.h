/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One declarative table per settings struct, in the manner of FFmpeg's AVOption tables: each
 * row gives the option's name, help, type, offset, default and range, and the same row drives
 * defaults, parsing from text (CLI) or from a parsed JSON value (files), validation with one
 * message form, and --help. Never installed; the public face is vidpipe/options.h. */
#ifndef VIDPIPE_OPTIONS_OPTIONS_H
#define VIDPIPE_OPTIONS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "vidpipe/options.h"
#include "vidpipe/probe.h"

typedef enum VpiOptType {
    VPI_OPT_INT,        /* int */
    VPI_OPT_INT64,      /* int64_t */
    VPI_OPT_DOUBLE,     /* double */
    VPI_OPT_BOOL,       /* int, 0 or 1: "1", "0", "true", "false", "yes", "no" */
    VPI_OPT_STRING,     /* char[size], copied; `names` (optional) lists the values allowed */
    VPI_OPT_CSTRING,    /* const char *, pointing at the caller's text; `names` as above */
    VPI_OPT_ENUM,       /* int, an index into `names` */
    VPI_OPT_RATIONAL,   /* VpRational: av_parse_video_rate ("29.97", "30000/1001", "ntsc") */
    VPI_OPT_SIZE,       /* two ints, width then height: av_parse_video_size ("hd720") */
    VPI_OPT_BITRATE,    /* int64_t bits/s: "2500000", "800k", "6M" */
    VPI_OPT_DURATION,   /* double seconds: "90", "1:30", "0.5" (av_parse_time) */
} VpiOptType;

enum {
    VPI_OPT_ZERO_OK = 1,    /* 0 means "none"/"auto" and is accepted outside the range */
    VPI_OPT_EVEN = 2,       /* INT and SIZE: multiples of 2 only (4:2:0 chroma) */
    VPI_OPT_ALIAS = 4,      /* another name for fields other rows check (FFmpeg's "s") */
};

typedef struct VpiOption {
    const char *name;
    const char *help;
    VpiOptType type;
    size_t offset;
    double def;                 /* numbers, BOOL, ENUM (the index) */
    const char *def_str;        /* STRING, CSTRING, RATIONAL, SIZE: the default as text */
    double min, max;            /* numbers; RATIONAL: of num/den; SIZE: of each side */
    const char *const *names;   /* ENUM, and the allowed values of a STRING/CSTRING */
    size_t size;                /* STRING: the array's size */
    int flags;
} VpiOption;

/* One row of a table: option @p n of struct @p S, stored in its member of the same name;
 * further designated initializers (.names, .flags, .def_str...) may follow. */
#define VPI_OPT_ROW(S, n, t, d, lo, hi, h, ...) \
    { .name = #n, .help = h, .type = VPI_OPT_##t, .offset = offsetof(S, n), \
      .def = d, .min = lo, .max = hi, __VA_ARGS__ }

/* Cross-field rules, run by vpi_opt_check() after every option is in range. */
typedef int (*VpiOptCheck)(const void *obj, char *err, size_t err_size);

struct VpOptionTable {
    const char *name;           /* "writer" */
    const VpiOption *options;   /* ends with { NULL } */
    VpiOptCheck check;          /* NULL if none */
};
typedef struct VpOptionTable VpiOptTable;

/* A value already parsed by a JSON reader: all the table code needs of it, so any reader
 * (the hand-written one, jansson) can feed options from files. */
typedef enum VpiValueType {
    VPI_VALUE_INT, VPI_VALUE_REAL, VPI_VALUE_BOOL, VPI_VALUE_STRING, VPI_VALUE_OTHER,
} VpiValueType;

typedef struct VpiValue {
    VpiValueType type;
    int64_t i;                  /* INT, BOOL */
    double d;                   /* REAL */
    const char *s;              /* STRING: must outlive a CSTRING option set from it */
} VpiValue;

const VpiOption *vpi_opt_find(const VpiOptTable *t, const char *name);
void vpi_opt_defaults(const VpiOptTable *t, void *obj);
/* Both return 0, VP_ERR_BAD_OPTION ("NAME: ...") or AVERROR_OPTION_NOT_FOUND ("unknown
 * option NAME"); @p obj is unchanged on error. */
int vpi_opt_set(const VpiOptTable *t, void *obj, const char *name, const char *text,
                char *err, size_t err_size);
int vpi_opt_set_value(const VpiOptTable *t, void *obj, const char *name, const VpiValue *v,
                      char *err, size_t err_size);
/* Every option in range, then t->check. */
int vpi_opt_check(const VpiOptTable *t, const void *obj, char *err, size_t err_size);
/* vpi_opt_check(), and when it fails one line "@p prefix: reason" through @p lg (NULL: the
 * default logger): what an entry point does with options it was handed. */
int vpi_opt_check_log(const VpiOptTable *t, const void *obj, const VpLogger *lg,
                      const char *prefix);

/* The tables of the library's settings structs (defined next to their components). */
extern const VpiOptTable vpi_writer_options;
extern const VpiOptTable vpi_proxy_options;
extern const VpiOptTable vpi_qc_spec_options;
extern const VpiOptTable vpi_qc_options;
extern const VpiOptTable vpi_loudnorm_options;
extern const VpiOptTable vpi_cleanup_options;
extern const VpiOptTable vpi_join_options;
extern const VpiOptTable vpi_replace_audio_options;
extern const VpiOptTable vpi_thumb_options;
extern const VpiOptTable vpi_pipeline_options;
extern const VpiOptTable vpi_encode_options;
extern const VpiOptTable vpi_probe_options;
extern const VpiOptTable vpi_batch_options;
extern const VpiOptTable vpi_subs_burn_options;
extern const VpiOptTable vpi_transcribe_options;
extern const VpiOptTable vpi_hls_options;

#endif /* VIDPIPE_OPTIONS_OPTIONS_H */

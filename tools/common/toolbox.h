/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the toolbox commands (proxy, thumb, export, qc, loudnorm, replace-audio, cleanup)
 * share: inputs from files and folders, output naming, and the batch runner. */
#ifndef VIDPIPE_TOOLS_TOOLBOX_H
#define VIDPIPE_TOOLS_TOOLBOX_H

#include "cli.h"
#include "outputs.h"

/* Why an item failed, for the exit code. TB_FAIL_USAGE: an output is one of the inputs. */
enum { TB_OK = 0, TB_FAIL_INPUT, TB_FAIL_CHECK, TB_FAIL_OUTPUT, TB_FAIL_USAGE };

/* One input of a toolbox command and what became of it. */
typedef struct TbItem {
    char *in;
    char *in2;                  /* a second input (replace-audio's audio file), or NULL */
    char *out;                  /* main output (the batch skips the item when it exists) */
    char *extra[3];             /* other outputs (thumbnail, metadata, ...) */
    int fail;                   /* TB_* */
    char status[16];            /* "done", "skipped", "failed" */
    char why[512];              /* one line naming the file at fault and the reason */
    char fault[512];            /* that file: in, in2, out or an extra output */
    void *result;               /* the command's result for --json */
} TbItem;

/* Options every toolbox command takes; TB_BATCH_OPTS() lists them in a CliOpt table. */
/* One input at a time unless -j: each input is already decoded (and encoded) on every core. */
#define TB_JOBS 1
#define TB_STR_(x) #x
#define TB_STR(x) TB_STR_(x)

typedef struct TbBatch {
    VpBatchOpts run;            /* jobs and retries, set through the batch option table */
    int overwrite;              /* -y */
    int no_overwrite;           /* -n */
    const char *report;
    int json;
    int single;                 /* one input file to one output: the overwrite rule refuses
                                   an existing output (vidpipe(1)); else the run skips
                                   complete outputs and redoes changed ones */
    /* Optional: more of an item's outcome for its --report line (VpBatchOpts.report_extra):
     * a JSON object's text, malloc'd, or NULL. */
    char *(*report_extra)(const TbItem *item);
} TbBatch;

/* What a QC found, as the reports give it: {"verdict": "pass"|"fail", "checks": N,
 * "failed": [{"check", "message", "value"}]} ("value" only when there is one); NULL without
 * memory. vidpipe qc's --report and vidpipe run's "qc" entries. */
struct VpQcReport;
json_t *tb_qc_summary(const struct VpQcReport *r);

#define TB_BATCH_OPTS(b)                                                                      \
    CLI_LIB_AS("jobs", 'j', &(b).run, "N", vp_option_table("batch"), "jobs",                \
               "work on N inputs at a time (0: one per core)", TB_STR(TB_JOBS)),            \
    CLI_OVERWRITE_OPTS((b).overwrite, (b).no_overwrite),                                     \
    CLI_LIB_AS("retries", 0, &(b).run, "N", vp_option_table("batch"), "retries",            \
               "retry an item N times after a transient I/O error", NULL),                  \
    { "report", 0, CLI_STR, &(b).report, "FILE", "write a JSON line per item to FILE" },     \
    { "json", 0, CLI_FLAG, &(b).json, NULL, "machine-readable result on stdout" }

void tb_batch_init(TbBatch *b);

/* Expand the positional arguments: files as given, folders to their media files (sorted,
 * not recursive). Prints the error and returns <0 when a folder cannot be read. */
int tb_inputs(const char *cmd, int nb_pos, char **pos, TbItem **items, int *nb);
void tb_items_free(TbItem *items, int nb);

/* @p dir "/" stem-of-@p in @p suffix ("clip.mp4" -> "dir/clip.jpg"). malloc'd. */
char *tb_out_name(const char *dir, const char *in, const char *suffix);
int tb_is_dir(const char *path);
/* Create @p dir if missing. Prints the error. */
int tb_mkdir(const char *dir);
/* Name every item's output: @p out itself for one input file (unless @p out is a folder),
 * else "out/<stem><suffix>" in the folder @p out (created). @p first is the first
 * positional argument. Returns 1 for one input file to one output (TbBatch.single), 0 for
 * outputs in a folder, or <0 after printing why (the items stay the caller's). */
int tb_outputs(TbItem *items, int nb, const char *first, const char *out, const char *suffix);

/* --json output of the toolbox commands: {"command": CMD, "items": [ {...}, ... ]}. */
void tb_json_begin(CliJson *j, const char *cmd);
/* Opens one item's object with its input, output (unless NULL), status and error; returns
 * 1 when the item was done, so its result can follow. The caller closes the object. */
int tb_json_item(CliJson *j, const TbItem *it, const char *output);
void tb_json_end(CliJson *j);

/* Run @p work over the items with the batch runner. Prints one line per failed item;
 * @p work sets item->fail and item->why. An item whose main output is one of its inputs
 * fails without a call of @p work. The overwrite rule (cli_output_rule() for a single
 * run, else skip what is complete and unchanged) and the signals (cli_signals_install())
 * are applied here; the work passes tb_cancel() on to its library call. Returns the exit
 * code for the whole run, or dies of a signal that interrupted it. */
typedef int (*TbWorkFn)(void *opaque, TbItem *item);
int tb_run(const char *cmd, TbBatch *b, TbItem *items, int nb, TbWorkFn work, void *opaque);

/* Fill item->why and item->fail for a library error on @p file (VP_ERR_OUTPUT_IS_INPUT is
 * TB_FAIL_USAGE whatever @p category says). Returns @p err. */
int tb_fail(TbItem *item, int category, const char *file, int err);
/* The same from a library call's VpFailure: its file and its message (which may say more
 * than the error code: "out.mp4: hardware encoder nvenc unavailable: ..."). */
int tb_fail_with(TbItem *item, int category, const VpFailure *f);

/* Pipeline options with the command's cancel installed: what every work passes on. */
void tb_pipeline_opts(VpPipelineOpts *po);

/* Progress of one pipeline (position in seconds) on the terminal. */
typedef struct TbProgress {
    CliProgress p;
} TbProgress;
void tb_progress_cb(void *opaque, double done_s, double total_s);

#endif

/* TB_FAIL_INPUT for errors about reading media, TB_FAIL_OUTPUT for errors writing. */
int tb_category(int err);
/* Report an error of a library call on @p in writing @p out: names the right file. */
int tb_fail_io(TbItem *item, const char *in, const char *out, int err);

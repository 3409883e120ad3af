/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The shared layer of the vidpipe CLI: option tables, messages, JSON, progress, workers. */
#ifndef VIDPIPE_TOOLS_CLI_H
#define VIDPIPE_TOOLS_CLI_H

#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include <jansson.h>

#include "vidpipe/vidpipe.h"

#include "helpers.h"

/* Exit codes shared by every command (documented in vidpipe(1)): the helper library's. */
enum {
    CLI_EXIT_OK = VPI_EXIT_OK,
    CLI_EXIT_FAILED = VPI_EXIT_FAILED,          /* a verdict was negative, items failed */
    CLI_EXIT_UNREADABLE = VPI_EXIT_UNREADABLE,  /* an input could not be read */
    CLI_EXIT_USAGE = VPI_EXIT_USAGE,            /* bad command line */
    CLI_EXIT_ERROR = VPI_EXIT_ERROR,            /* could not write output, or internal */
};

typedef enum CliOptType {
    CLI_FLAG,    /* int, set to 1 */
    CLI_INT,     /* int */
    CLI_INT64,   /* int64_t */
    CLI_DOUBLE,  /* double */
    CLI_STR,     /* const char * (points into argv) */
    CLI_OPTION,  /* option `key` of the library struct at dst, read through `table`: type,
                    range, default and help come from the library's option table */
} CliOptType;

/* One option of a command: drives parsing and the generated --help. */
typedef struct CliOpt {
    const char *name;       /* long name without "--" */
    char short_name;        /* 0 if none */
    CliOptType type;
    void *dst;
    const char *arg;        /* argument name in help ("N", "FILE"); NULL for flags */
    const char *help;
    double min, max;        /* range for numbers; min == max means unchecked */
    const VpOptionTable *table; /* CLI_OPTION: vp_option_table("writer") ... */
    const char *key;        /* CLI_OPTION: the option's name in the table */
    const char *def;        /* CLI_OPTION: the command's own default, for --help, when it is
                               not the table's (the command sets *dst to it); NULL: the
                               table's */
} CliOpt;

/* A CLI option that is option KEY of the library struct *DST (help NULL: the table's). */
#define CLI_LIB(name, short_name, dst, arg, table, key) \
    { name, short_name, CLI_OPTION, dst, arg, NULL, 0, 0, table, key, NULL }
/* The same with the command's own help and default (DEF, a string): the range, the type and
 * the messages stay the table's. */
#define CLI_LIB_AS(name, short_name, dst, arg, table, key, help, def) \
    { name, short_name, CLI_OPTION, dst, arg, help, 0, 0, table, key, def }

typedef struct CliCommand {
    const char *name;
    const char *summary;    /* one line */
    const char *usage;      /* "[OPTIONS] FILE..." */
    const char *details;    /* paragraph after the options, or NULL */
    int (*run)(int argc, char **argv);
} CliCommand;

/* Parse argv (argv[0] is the command name) against @p opts. Positional arguments are moved
 * to the front of argv+1 in order; *nb_pos receives their count. Prints help and returns
 * 1 for --help, 0 on success, CLI_EXIT_USAGE (negated) on error. */
int cli_parse(const CliCommand *cmd, const CliOpt *opts, int argc, char **argv, int *nb_pos);
void cli_print_help(const CliCommand *cmd, const CliOpt *opts, FILE *f);
/* cli_parse() notes each option given (@p o NULL: a new parse), for cli_settings(). */
void cli_settings_note(const CliOpt *opts, const CliOpt *o, const char *val);
/* The settings text of the last cli_parse(): every option given except those that do not
 * shape an output (output paths, -y/-n, jobs, retries, report, json, log), in the
 * command's option order; what an output records having been made from. */
const char *cli_settings(void);
/* The default of option @p key of @p t as text, for help that combines options; "" if none. */
const char *cli_lib_default(const VpOptionTable *t, const char *key, char *buf, size_t size);

/* Global state set by the main entry point. */
extern int cli_verbosity;      /* -1 quiet, 0 normal, 1 verbose, 2 debug */
extern const char *cli_prog;   /* "vidpipe" */

/* A line of results on stdout from any thread, after the progress line is cleared. */
void cli_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "vidpipe: FILE: reason" on stderr. */
void cli_file_error(const char *file, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "vidpipe: message" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line the library logs in a long-running command (channels, serve, worker): the log of
 * the running process, so info prints without -v; -q keeps errors only. */
void cli_log_line(int level, const char *msg);
/* Block SIGTERM and SIGINT in the calling thread, before any other thread starts, so every
 * thread inherits the mask and the main thread takes them with sigwait(*set). A SIGINT the
 * parent ignores (a background job) stays ignored. Also ignores SIGPIPE. */
void cli_block_stop_signals(sigset_t *set);
/* --listen "HOST:PORT", "[V6]:PORT" or ":PORT" (every address) of the servers. 0, or -1
 * after one line naming @p cmd and the bad value. */
int cli_parse_listen(const char *cmd, const char *arg, char *host, size_t size, int *port);
/* An event as one compact JSON line on stdout, flushed (the servers' --json). Does not take
 * @p ev; NULL prints nothing. */
void cli_json_line(const json_t *ev, size_t flags);
/* --tmp DIR must be an existing folder: 0, or CLI_EXIT_USAGE after one line naming it. */
int cli_check_folder(const char *opt, const char *dir);

/* Exit code for a failed input read: vpi_exit_code(err, VPI_AT_INPUT) (2, or 4 for an
 * internal error such as ENOMEM). */
int cli_exit_for_error(int err);

/* Read a list of paths, one per line ("-" = stdin); appends to *paths (malloc'd strings). */
int cli_read_list(const char *file, char ***paths, int *nb, int *cap);
int cli_push_path(char ***paths, int *nb, int *cap, const char *path);
void cli_free_paths(char **paths, int nb);
/* The inputs of a command: @p first (if not NULL), the @p nb_pos positional arguments, then
 * the lines of the --list file @p list (if not NULL). Returns 0, or an exit code after
 * printing why (nothing is left allocated then). */
int cli_gather_paths(const char *first, int nb_pos, char **pos, const char *list,
                     char ***paths, int *nb);

/* Number of worker threads for -j 0: the number of online cores, at most VPI_MAX_JOBS. */
int cli_default_jobs(void);

/* Run fn(ctx, i) for i in [0, n) on @p jobs threads (vpi_run(): 1..VPI_MAX_JOBS, never
 * lowered). Returns 0 when all are done, or a negative AVERROR when none could start or
 * @p jobs is out of range (the options' ranges refuse such counts first). */
int cli_parallel_for(int n, int jobs, void (*fn)(void *ctx, int i), void *ctx);

/* A progress line on stderr, only when stderr is a terminal and not quiet. */
typedef struct CliProgress {
    int enabled;
    int64_t start_us, last_us;
    const char *what;
} CliProgress;
void cli_progress_init(CliProgress *p, const char *what);
void cli_progress_update(CliProgress *p, int64_t done, int64_t total);
/* The same line with free text after `what` (at most 5 updates a second). */
void cli_progress_text(CliProgress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_progress_end(CliProgress *p);

/* ---- JSON writer ------------------------------------------------------------------ */
/* Builds one document with jansson and prints it at cj_end, so the output is JSON even for
 * names that are not UTF-8 (the rule of docs/json.md, through vpi_json_set_text). */
typedef struct CliJson {
    FILE *f;
    json_t *root;
    json_t *stack[32];  /* the open objects and arrays, innermost last */
    int depth;
    int failed;         /* out of memory, or nesting past 32: cj_end says so */
} CliJson;

void cj_init(CliJson *j, FILE *f);
void cj_obj_begin(CliJson *j, const char *key);   /* key NULL inside arrays / at top */
void cj_obj_end(CliJson *j);
void cj_arr_begin(CliJson *j, const char *key);
void cj_arr_end(CliJson *j);
void cj_str(CliJson *j, const char *key, const char *v);  /* NULL -> null */
void cj_int(CliJson *j, const char *key, int64_t v);
void cj_num(CliJson *j, const char *key, double v);        /* NaN -> null; 6 decimals */
void cj_bool(CliJson *j, const char *key, int v);
void cj_null(CliJson *j, const char *key);
void cj_json(CliJson *j, const char *key, const char *text);  /* a JSON document, as is */
void cj_end(CliJson *j);       /* prints the document, a final newline; frees it */

#endif /* VIDPIPE_TOOLS_CLI_H */

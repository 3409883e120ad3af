/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "cli.h"
#include "json_text.h"

int cli_verbosity;
const char *cli_prog = "vidpipe";

/* ---- messages ------------------------------------------------------------------------ */

static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;
static int progress_visible;

static void clear_progress_locked(void)
{
    if (progress_visible) {
        fputs("\r\033[K", stderr);
        progress_visible = 0;
    }
}

static void vmsg(const char *prefix, const char *file, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&msg_lock);
    clear_progress_locked();
    fprintf(stderr, "%s: ", cli_prog);
    if (prefix)
        fputs(prefix, stderr);
    if (file)
        fprintf(stderr, "%s: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&msg_lock);
}

void cli_print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&msg_lock);
    clear_progress_locked();
    vprintf(fmt, ap);
    fflush(stdout);
    pthread_mutex_unlock(&msg_lock);
    va_end(ap);
}

void cli_file_error(const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(NULL, file, fmt, ap);
    va_end(ap);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(NULL, NULL, fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    if (cli_verbosity < 0)
        return;
    va_start(ap, fmt);
    vmsg("warning: ", NULL, fmt, ap);
    va_end(ap);
}

void cli_info(const char *fmt, ...)
{
    va_list ap;
    if (cli_verbosity < 1)
        return;
    va_start(ap, fmt);
    vmsg(NULL, NULL, fmt, ap);
    va_end(ap);
}

int cli_exit_for_error(int err)
{
    return vpi_exit_code(err, VPI_AT_INPUT);
}

/* ---- options ------------------------------------------------------------------------- */

const char *cli_lib_default(const VpOptionTable *t, const char *key, char *buf, size_t size)
{
    VpOptionInfo info;
    snprintf(buf, size, "%s", "");
    for (int i = 0; t && vp_option_info(t, i, &info) == 0; i++)
        if (!strcmp(info.name, key)) {
            snprintf(buf, size, "%s", info.def);
            break;
        }
    return buf;
}

/* The table's help, then its range and default: "crf ... (0..51, default 23)". */
static void print_lib_help(FILE *f, const char *left, const CliOpt *o)
{
    VpOptionInfo info;
    int found = 0;
    for (int i = 0; !found && vp_option_info(o->table, i, &info) == 0; i++)
        found = !strcmp(info.name, o->key);
    if (!found) {
        fprintf(f, "  %-26s %s\n", left, o->help ? o->help : "");
        return;
    }
    fprintf(f, "  %-26s %s (", left, o->help ? o->help : info.help);
    if (info.range[0])
        fprintf(f, "%s, ", info.range);
    const char *def = o->def ? o->def : info.def;
    fprintf(f, "default %s)\n", def[0] ? def : "none");
}

void cli_print_help(const CliCommand *cmd, const CliOpt *opts, FILE *f)
{
    fprintf(f, "Usage: %s %s %s\n%s\n\nOptions:\n", cli_prog, cmd->name, cmd->usage,
            cmd->summary);
    for (const CliOpt *o = opts; o && o->name; o++) {
        char left[64];
        int n = 0;
        if (o->short_name)
            n = snprintf(left, sizeof(left), "-%c, ", o->short_name);
        else
            n = snprintf(left, sizeof(left), "    ");
        snprintf(left + n, sizeof(left) - (size_t)n, "--%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        if (o->type == CLI_OPTION)
            print_lib_help(f, left, o);
        else
            fprintf(f, "  %-26s %s\n", left, o->help);
    }
    fprintf(f, "  %-26s %s\n", "-h, --help", "show this help and exit");
    if (cmd->details)
        fprintf(f, "\n%s\n", cmd->details);
}

static int set_value(const CliCommand *cmd, const CliOpt *o, const char *val)
{
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case CLI_FLAG:
        *(int *)o->dst = 1;
        return 0;
    case CLI_STR:
        *(const char **)o->dst = val;
        return 0;
    case CLI_OPTION: {
        char err[512];
        if (vp_option_set(o->table, o->dst, o->key, val, err, sizeof(err)) < 0) {
            /* The library names its field ("fps: ..."); the user typed --rate. */
            size_t n = strlen(o->key);
            const char *why = !strncmp(err, o->key, n) && !strncmp(err + n, ": ", 2)
                              ? err + n + 2 : err;
            cli_error("%s: --%s: %s", cmd->name, o->name, why);
            return -1;
        }
        return 0;
    }
    case CLI_INT:
    case CLI_INT64: {
        /* the option tables' message forms (src/options/), so every option reads alike */
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
            cli_error("%s: --%s: '%s' is not an integer", cmd->name, o->name, val);
            return -1;
        }
        if (o->min != o->max && (v < o->min || v > o->max)) {
            cli_error("%s: --%s: value %s is out of range %.15g..%.15g", cmd->name, o->name, val,
                      o->min, o->max);
            return -1;
        }
        if (o->type == CLI_INT)
            *(int *)o->dst = (int)v;
        else
            *(int64_t *)o->dst = v;
        return 0;
    }
    case CLI_DOUBLE: {
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v)) {
            cli_error("%s: --%s: '%s' is not a number", cmd->name, o->name, val);
            return -1;
        }
        if (o->min != o->max && (v < o->min || v > o->max)) {
            cli_error("%s: --%s: value %s is out of range %.15g..%.15g", cmd->name, o->name, val,
                      o->min, o->max);
            return -1;
        }
        *(double *)o->dst = v;
        return 0;
    }
    }
    return -1;
}

int cli_parse(const CliCommand *cmd, const CliOpt *opts, int argc, char **argv, int *nb_pos)
{
    int npos = 0, only_pos = 0;

    cli_settings_note(opts, NULL, NULL);
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || !a[1]) {
            argv[1 + npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_print_help(cmd, opts, stdout);
            return 1;
        }
        const CliOpt *o = NULL;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            for (const CliOpt *p = opts; p && p->name; p++)
                if (strlen(p->name) == len && !strncmp(p->name, name, len))
                    o = p;
            if (eq)
                val = eq + 1;
        } else {
            for (const CliOpt *p = opts; p && p->name; p++)
                if (p->short_name == a[1])
                    o = p;
            if (o && a[2])
                val = a + 2;
        }
        if (!o) {
            cli_error("%s: unknown option '%s' (see '%s %s --help')", cmd->name, a, cli_prog,
                      cmd->name);
            return -CLI_EXIT_USAGE;
        }
        if (o->type == CLI_FLAG) {
            if (val) {
                cli_error("%s: --%s takes no value", cmd->name, o->name);
                return -CLI_EXIT_USAGE;
            }
        } else if (!val) {
            if (i + 1 >= argc) {
                cli_error("%s: --%s needs a value (%s)", cmd->name, o->name, o->arg);
                return -CLI_EXIT_USAGE;
            }
            val = argv[++i];
        }
        if (set_value(cmd, o, val) < 0)
            return -CLI_EXIT_USAGE;
        cli_settings_note(opts, o, val);
    }
    *nb_pos = npos;
    return 0;
}

/* ---- path lists ---------------------------------------------------------------------- */

int cli_push_path(char ***paths, int *nb, int *cap, const char *path)
{
    if (*nb == *cap) {
        int c = *cap ? *cap * 2 : 64;
        char **p = realloc(*paths, (size_t)c * sizeof(*p));
        if (!p)
            return AVERROR(ENOMEM);
        *paths = p;
        *cap = c;
    }
    if (!((*paths)[*nb] = strdup(path)))
        return AVERROR(ENOMEM);
    (*nb)++;
    return 0;
}

int cli_read_list(const char *file, char ***paths, int *nb, int *cap)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    char *line = NULL;
    size_t n = 0;
    ssize_t len;
    int ret = 0;

    if (!f)
        return AVERROR(errno);
    while ((len = getline(&line, &n, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!len)
            continue;
        if ((ret = cli_push_path(paths, nb, cap, line)) < 0)
            break;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return ret;
}

int cli_gather_paths(const char *first, int nb_pos, char **pos, const char *list,
                     char ***paths, int *nb)
{
    int cap = 0, r = 0;

    *paths = NULL;
    *nb = 0;
    if (first)
        r = cli_push_path(paths, nb, &cap, first);
    for (int i = 0; i < nb_pos && r >= 0; i++)
        r = cli_push_path(paths, nb, &cap, pos[i]);
    if (r < 0) {
        cli_error("out of memory");
        cli_free_paths(*paths, *nb);
        return CLI_EXIT_ERROR;
    }
    if (list && (r = cli_read_list(list, paths, nb, &cap)) < 0) {
        cli_file_error(list, "%s", r == AVERROR(ENOMEM) ? "out of memory" : vp_strerror(r));
        cli_free_paths(*paths, *nb);
        return cli_exit_for_error(r);
    }
    return 0;
}

void cli_free_paths(char **paths, int nb)
{
    for (int i = 0; i < nb; i++)
        free(paths[i]);
    free(paths);
}

/* ---- workers ------------------------------------------------------------------------- */

int cli_default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > VPI_MAX_JOBS ? VPI_MAX_JOBS : (int)n;
}

typedef struct ParallelCtx {
    void (*fn)(void *ctx, int i);
    void *ctx;
} ParallelCtx;

static void parallel_one(void *opaque, void *worker, size_t i)
{
    ParallelCtx *pc = opaque;
    (void)worker;
    pc->fn(pc->ctx, (int)i);
}

int cli_parallel_for(int n, int jobs, void (*fn)(void *ctx, int i), void *ctx)
{
    ParallelCtx pc = { .fn = fn, .ctx = ctx };
    VpiRunner r = { .jobs = jobs, .run = parallel_one, .opaque = &pc };
    int ret = vpi_run(&r, n > 0 ? (size_t)n : 0);
    return ret < 0 ? ret : 0;
}

/* ---- progress ------------------------------------------------------------------------ */

void cli_progress_init(CliProgress *p, const char *what)
{
    memset(p, 0, sizeof(*p));
    p->enabled = isatty(STDERR_FILENO) && cli_verbosity >= 0;
    p->start_us = vpi_now_us();
    p->what = what;
}

void cli_progress_update(CliProgress *p, int64_t done, int64_t total)
{
    if (!p->enabled)
        return;
    int64_t t = vpi_now_us();
    if (t - p->last_us < 200000 && done < total)
        return;
    p->last_us = t;
    double el = (t - p->start_us) / 1e6;
    double rate = el > 0 ? done / el : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    pthread_mutex_lock(&msg_lock);
    fprintf(stderr, "\r\033[K%s %lld/%lld  %.1f/s  ETA %d:%02d", p->what, (long long)done,
            (long long)total, rate, (int)eta / 60, (int)eta % 60);
    progress_visible = 1;
    pthread_mutex_unlock(&msg_lock);
}

void cli_progress_text(CliProgress *p, const char *fmt, ...)
{
    if (!p->enabled)
        return;
    int64_t t = vpi_now_us();
    if (t - p->last_us < 200000)
        return;
    p->last_us = t;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&msg_lock);
    fprintf(stderr, "\r\033[K%s ", p->what);
    vfprintf(stderr, fmt, ap);
    progress_visible = 1;
    pthread_mutex_unlock(&msg_lock);
    va_end(ap);
}

void cli_progress_end(CliProgress *p)
{
    if (!p->enabled)
        return;
    pthread_mutex_lock(&msg_lock);
    clear_progress_locked();
    pthread_mutex_unlock(&msg_lock);
}

/* ---- JSON ---------------------------------------------------------------------------- */

void cj_init(CliJson *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
}

/* Puts @p v (a new reference, or NULL when out of memory) into the open container, under
 * @p key in an object; the first value is the document itself. */
static void cj_put(CliJson *j, const char *key, json_t *v)
{
    json_t *top = j->depth ? j->stack[j->depth - 1] : NULL;
    int ret = -1;
    if (!v)
        ret = -1;
    else if (!top && !j->root)
        ret = (j->root = json_incref(v)) ? 0 : -1;
    else if (json_is_array(top))
        ret = json_array_append(top, v);
    else if (json_is_object(top) && key)
        ret = json_object_set(top, key, v);
    json_decref(v);
    if (ret < 0)
        j->failed = 1;
}

/* The stack holds its own reference to each open container, so a container that could not
 * be put in its parent is still a safe (if orphaned) place for its members. */
static void cj_open(CliJson *j, const char *key, json_t *v)
{
    if (!v || j->depth == 32) {
        json_decref(v);
        j->failed = 1;
        return;
    }
    cj_put(j, key, json_incref(v));
    j->stack[j->depth++] = v;
}

static void cj_close(CliJson *j)
{
    if (j->depth > 0)
        json_decref(j->stack[--j->depth]);
}

void cj_obj_begin(CliJson *j, const char *key) { cj_open(j, key, json_object()); }
void cj_obj_end(CliJson *j) { cj_close(j); }
void cj_arr_begin(CliJson *j, const char *key) { cj_open(j, key, json_array()); }
void cj_arr_end(CliJson *j) { cj_close(j); }

void cj_str(CliJson *j, const char *key, const char *v)
{
    json_t *top = j->depth ? j->stack[j->depth - 1] : NULL;
    if (key && json_is_object(top)) {
        if (vpi_json_set_text(top, key, v) < 0)
            j->failed = 1;
    } else {
        cj_put(j, key, vpi_json_text(v));
    }
}

void cj_int(CliJson *j, const char *key, int64_t v) { cj_put(j, key, json_integer(v)); }

void cj_num(CliJson *j, const char *key, double v)
{
    /* Six decimals, as the hand-written printer gave ("%.6f"); cj_end prints 15 digits. */
    cj_put(j, key, isfinite(v) ? json_real(round(v * 1e6) / 1e6) : json_null());
}

void cj_bool(CliJson *j, const char *key, int v) { cj_put(j, key, json_boolean(v)); }
void cj_null(CliJson *j, const char *key) { cj_put(j, key, json_null()); }

void cj_json(CliJson *j, const char *key, const char *text)
{
    cj_put(j, key, json_loads(text, JSON_DECODE_ANY, NULL));
}

void cj_end(CliJson *j)
{
    if (j->failed || !j->root || json_dumpf(j->root, j->f, JSON_INDENT(2) |
                                            JSON_REAL_PRECISION(15)) < 0)
        cli_error("cannot write the JSON output (out of memory)");
    else
        fputc('\n', j->f);
    fflush(j->f);
    while (j->depth > 0)
        cj_close(j);
    json_decref(j->root);
    j->root = NULL;
}

/* ---- settings: what the options of the last cli_parse() were ------------------------ */

#define MAX_OPTS 128
static const CliOpt *set_opts;
static const char *set_vals[MAX_OPTS];
static char *set_text;

static int not_a_setting(const char *name)
{
    static const char *const names[] = { "output", "overwrite", "no-overwrite", "jobs",
                                         "retries", "report", "json", "log", "dry-run",
                                         "no-fsync", NULL };
    for (int i = 0; names[i]; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

void cli_settings_note(const CliOpt *opts, const CliOpt *o, const char *val)
{
    if (opts != set_opts) {
        set_opts = opts;
        memset(set_vals, 0, sizeof(set_vals));
    }
    if (o && o - opts < MAX_OPTS && !not_a_setting(o->name))
        set_vals[o - opts] = val ? val : "1";
}

const char *cli_settings(void)
{
    size_t len = 1;
    for (int i = 0; set_opts && i < MAX_OPTS && set_opts[i].name; i++)
        if (set_vals[i])
            len += strlen(set_opts[i].name) + strlen(set_vals[i]) + 2;
    free(set_text);
    if (!(set_text = malloc(len)))
        return NULL;
    set_text[0] = 0;
    for (int i = 0; set_opts && i < MAX_OPTS && set_opts[i].name; i++)
        if (set_vals[i]) {
            strcat(set_text, set_opts[i].name);
            strcat(set_text, "=");
            strcat(set_text, set_vals[i]);
            strcat(set_text, "\n");
        }
    return set_text;
}

void cli_log_line(int level, const char *msg)
{
    if (level <= VP_LOG_ERROR)
        cli_error("%s", msg);
    else if (level <= VP_LOG_WARNING)
        cli_warn("%s", msg);
    else if (cli_verbosity >= 0)
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
}

void cli_block_stop_signals(sigset_t *set)
{
    struct sigaction old;
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    if (!(sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler == SIG_IGN))
        sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cli_parse_listen(const char *cmd, const char *arg, char *host, size_t size, int *port)
{
    const char *colon;
    if (arg[0] == '[') {
        const char *end = strchr(arg, ']');
        if (!end || end[1] != ':' || (size_t)(end - arg - 1) >= size || end == arg + 1)
            goto bad;
        snprintf(host, size, "%.*s", (int)(end - arg - 1), arg + 1);
        colon = end + 1;
    } else {
        colon = strrchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= size || memchr(arg, ':', (size_t)(colon - arg)))
            goto bad;
        snprintf(host, size, "%.*s", (int)(colon - arg), arg);
        if (!*host)
            snprintf(host, size, "0.0.0.0");
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p < 0 || p > 65535)
        goto bad;
    *port = (int)p;
    return 0;
bad:
    cli_error("%s: --listen: '%s' is not HOST:PORT (port 0..65535)", cmd, arg);
    return -1;
}

void cli_json_line(const json_t *ev, size_t flags)
{
    char *text = ev ? json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII | flags) : NULL;
    if (text) {
        printf("%s\n", text);
        fflush(stdout);
        free(text);
    }
}

int cli_check_folder(const char *opt, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        cli_file_error(dir, "%s: %s", opt, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    if (!S_ISDIR(st.st_mode)) {
        cli_file_error(dir, "%s: not a folder", opt);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

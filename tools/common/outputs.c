/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "outputs.h"

/* 0 running; 1 asked to finish (CLI_SIG_FINISH's first SIGINT); 2 abandon. */
static volatile int sig_level;
static volatile sig_atomic_t sig_caught, sig_count;
static int sig_mode;
static const char *sig_cmd = "vidpipe";
static char sig_finish_msg[160];
static size_t sig_finish_len;

static void on_signal(int sig)
{
    int level = sig_mode == CLI_SIG_FINISH && sig == SIGINT && !sig_level ? 1 : 2;
    if (!sig_caught || level == 2)
        sig_caught = sig;
    if (++sig_count >= 3) {
        /* The work did not stop after two signals: the third one is not asked again. */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    if (level == 1 && write(STDERR_FILENO, sig_finish_msg, sig_finish_len) < 0) {
        /* nothing to do about it in a signal handler */
    }
    __atomic_store_n(&sig_level, level, __ATOMIC_RELAXED);
}

static int level_at_least(void *opaque)
{
    return __atomic_load_n(&sig_level, __ATOMIC_RELAXED) >= (int)(intptr_t)opaque;
}

void cli_signals_install(const char *cmd, int mode)
{
    /* No SA_RESTART: a read of a pipe (encode-raw's frames) returns EINTR at once. */
    struct sigaction sa = { .sa_handler = on_signal }, old;
    int sigs[2] = { SIGINT, SIGTERM };

    sig_cmd = cmd;
    sig_mode = mode;
    int n = snprintf(sig_finish_msg, sizeof(sig_finish_msg), "\n%s: %s: finishing what is in "
                     "progress (Ctrl-C again to abandon it)\n", cli_prog, cmd);
    sig_finish_len = n > 0 && (size_t)n < sizeof(sig_finish_msg) ? (size_t)n : 0;
    sigemptyset(&sa.sa_mask);
    for (int k = 0; k < 2; k++)
        if (sigaction(sigs[k], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[k], &sa, NULL);
}

VpCancel cli_cancel(void)
{
    return (VpCancel){ level_at_least, (void *)(intptr_t)2 };
}

VpCancel cli_stop(void)
{
    return (VpCancel){ level_at_least, (void *)(intptr_t)1 };
}

int cli_stop_requested(void)
{
    return level_at_least((void *)(intptr_t)1);
}

int cli_signal_caught(void)
{
    return sig_caught;
}

int cli_signals_end(int ret, const char *what)
{
    int sig = sig_caught;
    if (!sig)
        return ret;
    fflush(stdout);
    cli_error("%s: interrupted by %s; %s", sig_cmd, sig == SIGINT ? "SIGINT" : "SIGTERM",
              what ? what : "no partial output left");
    signal(sig, SIG_DFL);
    raise(sig);
    return 128 + sig;   /* the signal was blocked or ignored: say it in the status */
}

int cli_overwrite_mode(const char *cmd, int yes, int no, CliOverwrite *ow)
{
    if (yes && no) {
        cli_error("%s: -y and -n contradict each other; give one", cmd);
        return -1;
    }
    *ow = yes ? CLI_OW_YES : no ? CLI_OW_NO : CLI_OW_ASK;
    return 0;
}

int cli_output_rule(const char *path, CliOverwrite ow)
{
    struct stat sb;
    if (!path || ow == CLI_OW_YES || lstat(path, &sb) < 0)
        return 0;
    if (ow == CLI_OW_NO) {
        if (cli_verbosity >= 0)
            cli_file_error(path, "already exists, left as it is (-n)");
        return 1;
    }
    cli_file_error(path, "already exists (use -y to overwrite)");
    return CLI_EXIT_USAGE;
}

int cli_batch_skip(CliOverwrite ow)
{
    return ow == CLI_OW_YES ? 0 : ow == CLI_OW_NO ? 2 : 1;
}

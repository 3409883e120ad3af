/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every command that writes files shares about its outputs: Ctrl-C and SIGTERM stop
 * it without a half-written file, and one overwrite rule (vidpipe(1), OUTPUTS). */
#ifndef VIDPIPE_TOOLS_OUTPUTS_H
#define VIDPIPE_TOOLS_OUTPUTS_H

#include "vidpipe/common.h"

/* How a command answers SIGINT and SIGTERM. */
enum {
    CLI_SIG_ABANDON,    /* any signal cancels the work: temporaries removed, no output */
    CLI_SIG_FINISH,     /* the first SIGINT asks to finish what is in progress (a recording,
                           the batch's items in progress): cli_stop_requested(); a second
                           SIGINT or a SIGTERM cancels */
};

/* Install the handlers for the command @p cmd (a signal the parent ignores, as a
 * background job's SIGINT, stays ignored). A third signal kills at once. */
void cli_signals_install(const char *cmd, int mode);
/* The cancel callback for the library calls of the command: it says stop once the work is
 * to be abandoned. Safe from any thread. */
VpCancel cli_cancel(void);
/* CLI_SIG_FINISH: the callback that says stop once the first SIGINT came. */
VpCancel cli_stop(void);
int cli_stop_requested(void);
/* The signal that stopped the command, or 0. */
int cli_signal_caught(void);
/* End of the command: when a signal came, print one line ("vidpipe: CMD: interrupted by
 * SIGINT; " @p what, or that no partial output is left) and die of the signal, so that the
 * exit status is 128 + its number (130, 143) as shells and make expect. Else returns
 * @p ret. */
int cli_signals_end(int ret, const char *what);

/* The overwrite rule: an existing output is refused unless -y; -n never overwrites. */
typedef enum CliOverwrite {
    CLI_OW_ASK = 0,     /* neither: refuse one output; over many items, skip an output
                           whose record says the same inputs and settings made it */
    CLI_OW_YES,         /* -y: replace */
    CLI_OW_NO,          /* -n: leave every existing output alone */
} CliOverwrite;

/* Parses "-y"/"-n" into *ow: the two CliOpt rows of every command that writes. */
#define CLI_OVERWRITE_OPTS(yes, no)                                                          \
    { "overwrite", 'y', CLI_FLAG, &(yes), NULL, "replace existing outputs" },                \
    { "no-overwrite", 'n', CLI_FLAG, &(no), NULL,                                           \
      "never replace an existing output (exit 0 without touching it)" }

/* The mode from the two flags; both given is a usage error (printed, returns -1). */
int cli_overwrite_mode(const char *cmd, int yes, int no, CliOverwrite *ow);
/* The rule for one output @p path of a single-output run: returns 0 to go on (absent, or
 * -y), 1 when -n keeps it (said on stderr: exit 0), or CLI_EXIT_USAGE after printing
 * "vidpipe: PATH: already exists (use -y to overwrite)". */
int cli_output_rule(const char *path, CliOverwrite ow);
/* For VpBatchOpts.skip_existing: 0 redo all (-y), 2 skip all (-n), 1 skip unchanged. */
int cli_batch_skip(CliOverwrite ow);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe: entry point, global options, and the table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/commands.h"

static const CliCommand *const commands[] = {
    &cmd_probe,
    &cmd_check,
    &cmd_join,
    &cmd_batch,
    &cmd_encode_raw,
    &cmd_proxy,
    &cmd_qc,
    &cmd_thumb,
    &cmd_export,
    &cmd_loudnorm,
    &cmd_replace_audio,
    &cmd_cleanup,
    &cmd_subtitles,
    &cmd_run,
    &cmd_channels,
    &cmd_serve,
    &cmd_worker,
    NULL,
};

static void log_to_stderr(void *opaque, int level, const char *msg)
{
    (void)opaque;
    if (level <= VP_LOG_ERROR)
        cli_error("%s", msg);
    else if (level <= VP_LOG_WARNING)
        cli_warn("%s", msg);
    else
        cli_info("%s", msg);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: vidpipe [-v|-q] COMMAND [OPTIONS] [ARGS]\n"
               "vidpipe %s: a video production pipeline on FFmpeg's libraries.\n\nCommands:\n",
            vp_version());
    for (int i = 0; commands[i]; i++)
        fprintf(f, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nGlobal options (before COMMAND):\n"
               "  -v, --verbose  more detail on stderr (twice: FFmpeg's debug output)\n"
               "  -q, --quiet    only errors (no summary line after writing files)\n"
               "  --version      print the version and exit\n"
               "\n'vidpipe COMMAND --help' describes a command; 'man vidpipe' all of them.\n"
               "Exit codes: 0 success, 1 a check or item failed, 2 an input could not be "
               "read,\n            3 bad command line, 4 output or internal error.\n");
}

int main(int argc, char **argv)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            cli_verbosity++;
        else if (!strcmp(argv[i], "-vv"))
            cli_verbosity += 2;
        else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
            cli_verbosity = -1;
        else if (!strcmp(argv[i], "--version")) {
            printf("vidpipe %s\n", vp_version());
            return 0;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            cli_error("unknown option '%s' (see 'vidpipe --help')", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    int level = cli_verbosity < 0 ? VP_LOG_ERROR
              : cli_verbosity == 0 ? VP_LOG_WARNING
              : cli_verbosity == 1 ? VP_LOG_VERBOSE : VP_LOG_DEBUG;
    vp_set_log_callback(log_to_stderr, NULL, level);

    for (int c = 0; commands[c]; c++)
        if (!strcmp(commands[c]->name, argv[i]))
            return commands[c]->run(argc - i, argv + i);
    cli_error("unknown command '%s' (see 'vidpipe --help')", argv[i]);
    return CLI_EXIT_USAGE;
}

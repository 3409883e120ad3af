/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every subcommand of the vidpipe CLI; the table in vidpipe.c lists them in help order. */
#ifndef VIDPIPE_TOOLS_COMMANDS_H
#define VIDPIPE_TOOLS_COMMANDS_H

#include "cli.h"

extern const CliCommand cmd_probe;
extern const CliCommand cmd_check;
extern const CliCommand cmd_join;
extern const CliCommand cmd_batch;
extern const CliCommand cmd_encode_raw;
extern const CliCommand cmd_proxy;
extern const CliCommand cmd_qc;
extern const CliCommand cmd_export;
extern const CliCommand cmd_thumb;
extern const CliCommand cmd_loudnorm;
extern const CliCommand cmd_replace_audio;
extern const CliCommand cmd_cleanup;
extern const CliCommand cmd_channels;
extern const CliCommand cmd_serve;
extern const CliCommand cmd_worker;
extern const CliCommand cmd_subtitles;
extern const CliCommand cmd_run;

#endif

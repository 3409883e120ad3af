/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What `vidpipe serve` and `vidpipe worker` share: --s3-endpoint folded into the storage spec,
 * --migrate, and the one line and exit status of a service that cannot open. */
#ifndef VIDPIPE_TOOLS_SERVICE_CLI_H
#define VIDPIPE_TOOLS_SERVICE_CLI_H

#include "cli.h"
#include "vidpipe/service.h"

/* @p storage ("s3://BUCKET/PREFIX[?...]") with @p endpoint as its endpoint option, in *out
 * (malloc'ed; free() it). 0, or CLI_EXIT_USAGE after one line saying why (no s3:// storage,
 * an endpoint already in the spec, not an http(s) URL). */
int svc_cli_storage_endpoint(const char *cmd, const char *storage, const char *endpoint,
                             char **out);

/* --migrate: create or upgrade the schema of @p so's store, say from which version to which
 * (on stdout; as {"event": "migrated", ...} with @p json) and return the exit status. */
int svc_cli_migrate(const char *cmd, const VpServiceOpts *so, int json);

/* Print vp_service_open()'s failure @p err as one line and return the exit status: 4 out of
 * memory, else 2 (the data folder, database or storage cannot be used; the line names it). */
int svc_cli_open_failed(const char *cmd, int err, const VpFailure *fail);

/* @p spec as messages show it: a URI's password ("user:secret@host") replaced by "***". */
const char *svc_cli_shown_spec(const char *spec, char *buf, size_t size);

#endif

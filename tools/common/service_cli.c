/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "service_cli.h"

int svc_cli_storage_endpoint(const char *cmd, const char *storage, const char *endpoint,
                             char **out)
{
    static const char url_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789:/.-_[]";
    *out = NULL;
    if (!storage || strncmp(storage, "s3://", 5)) {
        cli_error("%s: --s3-endpoint needs --storage s3://BUCKET/PREFIX", cmd);
        return CLI_EXIT_USAGE;
    }
    /* The spec's own "endpoint=" would be a second answer to the same question. */
    const char *q = strchr(storage, '?');
    for (const char *p = q; p; p = strchr(p + 1, '&'))
        if (!strncmp(p + 1, "endpoint=", 9)) {
            cli_error("%s: --s3-endpoint: the storage spec already names an endpoint", cmd);
            return CLI_EXIT_USAGE;
        }
    /* A query value is %-decoded by the storage: a URL of these characters needs no
     * encoding, and one with others ("?", "&", "%") is no endpoint. */
    if ((strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)) ||
        strspn(endpoint, url_chars) != strlen(endpoint) ||
        !endpoint[endpoint[4] == 's' ? 8 : 7]) {
        cli_error("%s: --s3-endpoint: '%s' is not http[s]://HOST[:PORT]", cmd, endpoint);
        return CLI_EXIT_USAGE;
    }
    size_t n = strlen(storage) + strlen(endpoint) + 16;
    if (!(*out = malloc(n))) {
        cli_error("%s: out of memory", cmd);
        return CLI_EXIT_ERROR;
    }
    snprintf(*out, n, "%s%cendpoint=%s", storage, q ? '&' : '?', endpoint);
    return 0;
}

const char *svc_cli_shown_spec(const char *spec, char *buf, size_t size)
{
    const char *auth = spec ? strstr(spec, "://") : NULL, *at, *colon;
    if (!auth)
        return spec;
    auth += 3;
    at = auth + strcspn(auth, "@/?");
    colon = memchr(auth, ':', at - auth);
    if (*at != '@' || !colon)
        return spec;
    snprintf(buf, size, "%.*s***%s", (int)(colon + 1 - spec), spec, at);
    return buf;
}

int svc_cli_migrate(const char *cmd, const VpServiceOpts *so, int json)
{
    VpFailure fail = { 0 };
    int from = 0, to = 0, r;
    char shown[1024], db[1024];

    if (so->db)
        snprintf(db, sizeof(db), "%s", svc_cli_shown_spec(so->db, shown, sizeof(shown)));
    else
        snprintf(db, sizeof(db), "sqlite:%s/vidpipe.db", so->data_dir);
    if ((r = vp_service_migrate(so, &from, &to, &fail)) < 0)
        return svc_cli_open_failed(cmd, r, &fail);
    if (json) {
        json_t *ev = json_pack("{s:s, s:s, s:i, s:i}", "event", "migrated", "db", db,
                               "from", from, "to", to);
        cli_json_line(ev, 0);
        json_decref(ev);
    } else if (from == to) {
        printf("%s: schema already at version %d: nothing to do\n", db, to);
    } else if (!from) {
        printf("%s: schema created at version %d (the database was empty)\n", db, to);
    } else {
        printf("%s: schema migrated from version %d to %d\n", db, from, to);
    }
    fflush(stdout);
    return CLI_EXIT_OK;
}

int svc_cli_open_failed(const char *cmd, int err, const VpFailure *fail)
{
    cli_error("%s: %s", cmd, *fail->message ? fail->message : vp_strerror(err));
    return err == AVERROR(ENOMEM) ? CLI_EXIT_ERROR : CLI_EXIT_UNREADABLE;
}

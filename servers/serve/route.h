/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request paths against the job server's route patterns: the one parser of the request
 * line that is ours (the rest is libmicrohttpd's), fuzzed by fuzz/fuzz_serve_request.c. */
#ifndef VIDPIPE_SERVERS_SERVE_ROUTE_H
#define VIDPIPE_SERVERS_SERVE_ROUTE_H

#include <stdint.h>

/* The longest id a '*' in a route matches (an upload id): letters, digits, '-' and '_'. */
#define SV_TOKEN_MAX 128

/* 1 if @p path matches @p pattern, else 0. In the pattern '#' stands for a decimal number
 * (1 to 18 digits: no overflow), written to nums[] in order (at most 2), and '*' for an id
 * of 1..SV_TOKEN_MAX letters, digits, '-' or '_', copied NUL-terminated to @p token (at most
 * one per pattern). */
int sv_route_match(const char *pattern, const char *path, int64_t nums[2],
                   char token[SV_TOKEN_MAX + 1]);

#endif /* VIDPIPE_SERVERS_SERVE_ROUTE_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request paths against the route table's patterns: the one parser of the request line
 * that is ours (the rest is libevent's), fuzzed by fuzz/fuzz_chs_route.c. */
#ifndef VIDPIPE_SERVERS_CHANNELS_ROUTE_H
#define VIDPIPE_SERVERS_CHANNELS_ROUTE_H

#include <stdint.h>

/* 1 if @p path matches @p pattern, where '#' in the pattern stands for a decimal number
 * (1 to 18 digits, so no overflow; at most 2 per pattern), with the numbers in args[];
 * 0 otherwise. Pure: no allocation, no state. */
int chs_route_match(const char *pattern, const char *path, int64_t *args);

#endif /* VIDPIPE_SERVERS_CHANNELS_ROUTE_H */

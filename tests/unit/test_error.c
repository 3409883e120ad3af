/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error table: names and messages for vidpipe's codes and FFmpeg's. */
#include <errno.h>

#include <libavutil/error.h>

#include "test.h"
#include "vidpipe/vidpipe.h"

int main(void)
{
    CHECK_STR(vp_err_name(VP_ERR_TRUNCATED), "VP_ERR_TRUNCATED");
    CHECK_STR(vp_strerror(VP_ERR_TRUNCATED), "file is truncated (media data cut short)");
    CHECK_STR(vp_err_name(AVERROR(ENOENT)), "ENOENT");
    CHECK_STR(vp_strerror(AVERROR(ENOENT)), "no such file or directory");
    CHECK_STR(vp_strerror(AVERROR(EACCES)), "permission denied");
    CHECK_STR(vp_err_name(AVERROR_INVALIDDATA), "AVERROR_INVALIDDATA");
    CHECK_STR(vp_err_name(0), "OK");
    CHECK(strlen(vp_strerror(AVERROR(ENOSPC))) > 0);
    CHECK(strlen(vp_strerror(-123456789)) > 0);
    /* vidpipe's codes are disjoint from errno and from FFmpeg's tags. */
#define X(name, value, msg) CHECK(value < -0xffff); CHECK_STR(vp_strerror(value), msg);
    VP_ERROR_TABLE(X)
#undef X
    CHECK_STR(vp_version(), VIDPIPE_VERSION_STRING);
    TEST_END();
}

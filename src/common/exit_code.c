/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include <libavutil/error.h>

#include "vidpipe/common.h"

#include "helpers.h"

int vpi_exit_code(int err, int where)
{
    if (err >= 0)
        return VPI_EXIT_OK;
    switch (err) {
    case VP_ERR_NOT_JOINABLE:
    case VP_ERR_QC_FAILED:
        return VPI_EXIT_FAILED;
    case VP_ERR_OUTPUT_IS_INPUT:
        return VPI_EXIT_USAGE;
    case AVERROR(ENOSPC):
    case AVERROR(EROFS):
    case AVERROR(EDQUOT):
    case AVERROR(EFBIG):
    case AVERROR(ENOMEM):
    case VP_ERR_BAD_OPTION:
    case VP_ERR_CONTAINER_CODEC:
        return VPI_EXIT_ERROR;
    case AVERROR(ENOTDIR):
    case AVERROR(EEXIST):
        if (where == VPI_AT_UNKNOWN)
            return VPI_EXIT_ERROR;
        break;
    }
    return where == VPI_AT_OUTPUT ? VPI_EXIT_ERROR : VPI_EXIT_UNREADABLE;
}

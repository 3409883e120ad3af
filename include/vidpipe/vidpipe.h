/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file vidpipe.h
 * libvidpipe: one include for the whole public API. Link with `pkg-config --libs vidpipe`.
 */
#ifndef VIDPIPE_VIDPIPE_H
#define VIDPIPE_VIDPIPE_H

#include "common.h"
#include "vidpipe/version.h"
#include "probe.h"
#include "check.h"
#include "join.h"
#include "hls.h"
#include "batch.h"
#include "writer.h"
#include "pipeline.h"
#include "proxy.h"
#include "qc.h"
#include "export.h"
#include "audio.h"
#include "cleanup.h"
#include "options.h"
#include "channels.h"
#include "service.h"
#include "subtitles.h"
#include "transcribe.h"
#include "run.h"

#endif /* VIDPIPE_VIDPIPE_H */

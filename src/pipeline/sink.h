/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sinks of the one-pass engine (pipeline.c): what every output and analyser implements.
 * Never installed. */
#ifndef VIDPIPE_SINK_H
#define VIDPIPE_SINK_H

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>

#include "vidpipe/pipeline.h"
#include "util/internal.h"

typedef struct VpiSink VpiSink;

/* What sinks see of the source. Video frames reach sinks with pts in microseconds from the
 * start of the source (AV_TIME_BASE_Q); audio frames with pts in samples (1/sample_rate)
 * from the same origin. Frames are only lent: a sink that keeps one takes its own ref. */
typedef struct VpiSource {
    const VpSourceInfo *info;
    AVFormatContext *fmt;
    AVStream *vst, *ast;                /* NULL when absent */
    AVCodecContext *vdec, *adec;        /* NULL when absent */
    int64_t frame_dur_us;               /* nominal video frame duration; 0 unknown */
    const VpLogger *log;                /* the run's logger (vpi_log) */
    const VpCancel *cancel;             /* the run's cancel, for the contexts sinks open */
} VpiSource;

typedef struct VpiSinkClass {
    const char *name;
    size_t priv_size;
    size_t opts_size;
    /* Check and adopt the options (already copied into s->opts); called when added. */
    int (*init)(VpiSink *s, const VpiSource *src);
    /* 1 if the video frame at @p pts_us (a packet's, so estimated) must be decoded for this
     * sink; NULL means every frame. */
    int (*need_video)(VpiSink *s, int64_t pts_us);
    int (*video)(VpiSink *s, AVFrame *f);
    int (*audio)(VpiSink *s, AVFrame *f);
    /* For a video packet this sink wants as it is (stream copy); NULL = none. */
    int (*video_packet)(VpiSink *s, const AVPacket *pkt);
    /* Seek mode (stills): the next time (us) to seek to, or INT64_MIN when satisfied. A
     * sink without it makes the pipeline decode the whole source. */
    int64_t (*next_seek)(VpiSink *s);
    /* End of the source: flush, write, and rename outputs into place. */
    int (*finish)(VpiSink *s);
    /* Free; outputs not finished are removed. */
    void (*close)(VpiSink *s);
    /* 1: video, audio, video_packet and finish run on the sink's own thread, fed through a
     * short queue, so that its filtering and encoding overlap the decoding. need_video and
     * next_seek are still called from the demuxing thread. */
    int threaded;
    int (*info)(const VpiSink *s, VpOutputInfo *info);
} VpiSinkClass;

struct VpiSink {
    const VpiSinkClass *cls;
    const VpiSource *src;
    void *opts;                         /* copy of the caller's options (cls->opts_size) */
    void *priv;                         /* cls->priv_size, zeroed */
    char *path;                         /* owned copy of the output path, or NULL */
    int wants_audio;                    /* set by init */
    int every_picture;                  /* set by init: needs every picture in order (a
                                           filter chain with memory): no seeking */
    VpiOutput out;                      /* the output being written (vpi_sink_output_begin) */
    int out_open;                       /* the engine renames it into place after finish */
    int out_failed;                     /* the output could not be created or written */
    char reason[400];                   /* with out_failed: why, when the sink knows better
                                           than the error code (no file name); else "" */
    struct VpiSinkThread *thr;          /* threaded classes, while the pass runs */
};

/* Create the sink's temporary output file; the engine commits or removes it. */
int vpi_sink_output_begin(VpiSink *s);

/* The encode sink's options for join --conform ("conform" class): the reference's exact
 * picture and sound, which VpEncodeOpts cannot ask for. enc.fit is ignored. The strings must
 * outlive the pipeline (string literals). */
typedef struct VpiConformOpts {
    VpEncodeOpts enc;                   /* first: the encode sink reads it as VpEncodeOpts */
    int width, height;                  /* exactly: scaled, not fitted */
    AVRational sar;                     /* of the output; 0/0 = 1:1 */
    enum AVPixelFormat pix_fmt;         /* the encoder must take it as is */
    int keyint;                         /* frames between keyframes; 0 = encoder default */
    const char *encoder_params;         /* x264-params, or NULL */
    int sample_rate, channels;          /* AAC output; 0 = as the encode sink chooses */
    const char *format;                 /* container ("mp4"); NULL = from the path */
} VpiConformOpts;

extern const VpiSinkClass vpi_sink_encode;
extern const VpiSinkClass vpi_sink_conform;
extern const VpiSinkClass vpi_sink_thumb;
extern const VpiSinkClass vpi_sink_qc;
extern const VpiSinkClass vpi_sink_loudness;
extern const VpiSinkClass vpi_sink_filter;
extern const VpiSinkClass vpi_sink_tap;

/* Add a sink of class @p name (one of the registered classes) to the pipeline; @p opts is
 * copied. Returns the sink's index or a negative error. */
int vpi_pipeline_add_sink(VpPipeline *p, const char *name, const void *opts,
                          const char *path, VpiSink **out);

/* Encoded-output helpers shared by sinks. */
/* Open an output container for @p tmp_path in @p format (a muxer name; NULL: guessed from
 * @p final_path), with the run's cancel as its interrupt callback (pass it to avio_open2)
 * and its logger. */
int vpi_mux_open(AVFormatContext **oc, const char *final_path, const char *tmp_path,
                 const char *format, const VpiSource *src);
/* An audio filter graph: abuffer (from the decoder's parameters) -> @p chain -> abuffersink.
 * On failure *graph may be allocated: the caller frees it with the rest of its state. */
int vpi_audio_graph(AVFilterGraph **graph, AVFilterContext **src, AVFilterContext **sink,
                    const AVCodecContext *adec, const char *chain);
/* The decoder's channel layout as filters take it ("stereo"); the default one for its
 * channel count when it does not know it, as ffmpeg does. */
void vpi_layout_name(const AVCodecContext *adec, char *buf, size_t size);
/* Link @p src -> @p chain -> @p sink in @p graph and configure it. */
int vpi_graph_link(AVFilterGraph *graph, AVFilterContext *src, AVFilterContext *sink,
                   const char *chain);
/* A video filter graph for pictures like @p f: buffer (time base 1/1000000) -> @p chain ->
 * buffersink. On failure *graph may be allocated: the caller frees it. */
int vpi_video_graph(AVFilterGraph **graph, AVFilterContext **src, AVFilterContext **sink,
                    const AVFrame *f, const char *chain);

/* A sink's pictures through the chain of the steps before it (vidpipe run's QC and stills):
 * the graph is built at the first picture and again when the pictures change size or
 * format; each picture the chain gives is handed to @p each. Zeroed = no chain. */
typedef struct VpiVideoChain {
    char *chain;                        /* NULL: pictures go to each() as they are */
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    AVFrame *out;
    int w, h, fmt;
} VpiVideoChain;
/* Adopt @p chain (copied; NULL or "" for none). */
int vpi_video_chain_init(VpiVideoChain *vc, const char *chain);
/* @p f through the chain, then each(@p opaque, picture) for every picture it gives; a chain
 * that cannot be built is logged with @p src's path. */
int vpi_video_chain_push(VpiVideoChain *vc, AVFrame *f, const VpiSource *src,
                         int (*each)(void *opaque, AVFrame *f), void *opaque);
/* The end: what the chain still holds, to each(). */
int vpi_video_chain_flush(VpiVideoChain *vc, int (*each)(void *opaque, AVFrame *f),
                          void *opaque);
void vpi_video_chain_free(VpiVideoChain *vc);

/* The tap sink ("tap"): the source's audio through an optional libavfilter chain, each
 * filtered frame handed to a callback (a transcriber, a meter) on the demuxing thread. The
 * callback's negative return fails the run. */
typedef struct VpiTapOpts {
    const char *audio_filters;          /* NULL: the decoded audio as it is */
    int (*audio)(void *opaque, const AVFrame *f);
    void *opaque;
} VpiTapOpts;

/* A check run after every sink has finished and before any output takes its final name
 * (vp_pipeline_run): a negative return leaves every output unwritten and is the run's
 * result. One per pipeline; call before the run. */
void vpi_pipeline_set_gate(VpPipeline *p, int (*gate)(void *opaque), void *opaque);

/* "12.345" style time for messages. */
const char *vpi_fmt_time(char buf[32], double seconds);

#endif /* VIDPIPE_SINK_H */

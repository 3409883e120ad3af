/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <libavutil/error.h>

#include "helpers.h"

typedef struct Run {
    const VpiRunner *r;
    size_t nb;
    atomic_size_t next;
} Run;

typedef struct Worker {
    Run *run;
    void *state;
    pthread_t thread;
} Worker;

static void *worker_main(void *arg)
{
    Worker *w = arg;
    Run *run = w->run;
    const VpiRunner *r = run->r;
    size_t i;

    while (!(r->stop && r->stop(r->opaque)) && (i = atomic_fetch_add(&run->next, 1)) < run->nb)
        r->run(r->opaque, w->state, i);
    return NULL;
}

int vpi_run(const VpiRunner *r, size_t nb)
{
    Run run = { .r = r, .nb = nb };
    Worker *workers;
    int jobs, started = 0, err = 0;

    if (!r || !r->run || r->jobs < 1 || r->jobs > VPI_MAX_JOBS)
        return AVERROR(EINVAL);
    if (!nb)
        return 0;
    jobs = (size_t)r->jobs > nb ? (int)nb : r->jobs;
    atomic_init(&run.next, 0);
    if (!(workers = calloc((size_t)jobs, sizeof(*workers))))
        return AVERROR(ENOMEM);
    for (int w = 0; w < jobs; w++) {
        workers[w].run = &run;
        if (r->worker_new && !(workers[w].state = r->worker_new(r->opaque))) {
            err = AVERROR(ENOMEM);
            break;
        }
        if ((err = pthread_create(&workers[w].thread, NULL, worker_main, &workers[w]))) {
            err = AVERROR(err);
            if (r->worker_free)
                r->worker_free(r->opaque, workers[w].state);
            break;
        }
        started++;
    }
    for (int w = 0; w < started; w++) {
        pthread_join(workers[w].thread, NULL);
        if (r->worker_free)
            r->worker_free(r->opaque, workers[w].state);
    }
    free(workers);
    return started ? started : err;
}

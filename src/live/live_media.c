/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VpiLiveMedia's lifetime and lookups: shared by schedules, producers and the ingest cache
 * (made in live_ingest.c). */
#include <math.h>
#include <stdlib.h>

#include "live.h"

VpiLiveMedia *vpi_live_media_ref(VpiLiveMedia *m)
{
    if (m)
        __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
    return m;
}

void vpi_live_media_unref(VpiLiveMedia **pm)
{
    VpiLiveMedia *m = pm ? *pm : NULL;
    if (!m)
        return;
    *pm = NULL;
    if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(m->source);
    free(m->play_path);
    free(m->keys);
    free(m->param_sets);
    free(m->auto_breaks);
    free(m);
}

int64_t vpi_live_media_key_before(const VpiLiveMedia *m, int64_t t)
{
    /* keys are ascending: binary search for the last one <= t */
    int lo = 0, hi = m->nb_keys - 1, best = -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (m->keys[mid] <= t) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best >= 0 ? m->keys[best] : 0;
}

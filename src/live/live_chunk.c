/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Chunks of the channel stream and the reference counts that let one copy of the bytes
 * serve the ring, every viewer's socket buffer and the HLS window (no copy per viewer). */
#include <stdlib.h>

#include "live.h"

VpChunk *vpi_chunk_new(size_t size)
{
    VpChunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->refs = 1;
    c->flags = 0;
    c->pts = 0;
    c->seq = 0;
    c->size = size;
    return c;
}

const uint8_t *vp_chunk_data(const VpChunk *ch, size_t *size)
{
    if (size)
        *size = ch ? ch->size : 0;
    return ch ? ch->data : NULL;
}

VpChunk *vp_chunk_ref(VpChunk *ch)
{
    if (ch)
        __atomic_add_fetch(&ch->refs, 1, __ATOMIC_RELAXED);
    return ch;
}

void vp_chunk_unref(VpChunk **ch)
{
    if (!ch || !*ch)
        return;
    /* acq_rel: the last owner's reads of the bytes happen before the free */
    if (__atomic_sub_fetch(&(*ch)->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(*ch);
    *ch = NULL;
}

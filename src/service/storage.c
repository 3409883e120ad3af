/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The storage registry and the checks every back end shares (storage.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "service/storage.h"

static const VpiStorageClass *const storage_classes[] = {
    &vpi_storage_file,
    &vpi_storage_s3,
    NULL
};

int vpi_storage_key_ok(const char *key)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyz0123456789._-/";
    size_t len;
    if (!key || !(len = strlen(key)) || len > 512 || strspn(key, allowed) != len ||
        key[0] == '/')
        return 0;
    /* No empty component, none starting with "." (".", "..", and the temporary names of
     * files being written); one trailing "/" (a prefix) is allowed. */
    for (const char *c = key;;) {
        size_t n = strcspn(c, "/");
        if (n == 0)
            return !c[0] && c != key;
        if (c[0] == '.')
            return 0;
        if (!c[n])
            return 1;
        c += n + 1;
    }
}

static int name_ok(const char *upload)
{
    return vpi_storage_key_ok(upload) && !strchr(upload, '/');
}

int vpi_storage_open(const char *spec, VpiStorage **out, char *reason, size_t reason_size)
{
    const VpiStorageClass *cls = NULL;
    const char *target = spec;
    VpiStorage *st;
    int ret;

    *out = NULL;
    for (int i = 0; storage_classes[i]; i++) {
        size_t n = strlen(storage_classes[i]->name);
        if (!strncmp(spec, storage_classes[i]->name, n) && spec[n] == ':') {
            cls = storage_classes[i];
            target = spec + n + 1;
            break;
        }
    }
    if (!cls) {
        /* A bare folder; anything else that looks like "scheme:..." is unknown. */
        const char *colon = strchr(spec, ':'), *slash = strchr(spec, '/');
        if (colon && (!slash || colon < slash)) {
            snprintf(reason, reason_size,
                     "%s: unknown storage (this vidpipe knows file:DIR and s3://BUCKET/PREFIX)",
                     spec);
            return AVERROR(EINVAL);
        }
        cls = &vpi_storage_file;
    }
    if (!*target) {
        snprintf(reason, reason_size, "%s: the storage needs a location", spec);
        return AVERROR(EINVAL);
    }
    if (!(st = calloc(1, sizeof(*st))) || !(st->priv = calloc(1, cls->priv_size))) {
        free(st);
        snprintf(reason, reason_size, "%s: out of memory", spec);
        return AVERROR(ENOMEM);
    }
    st->cls = cls;
    if ((ret = cls->open(st, target, reason, reason_size)) < 0) {
        free(st->priv);
        free(st);
        return ret;
    }
    *out = st;
    return 0;
}

void vpi_storage_close(VpiStorage **pst)
{
    VpiStorage *st = *pst;
    if (!st)
        return;
    st->cls->close(st);
    free(st->priv);
    free(st);
    *pst = NULL;
}

int vpi_storage_put(VpiStorage *st, const char *key, const char *path)
{
    return vpi_storage_key_ok(key) ? st->cls->put(st, key, path) : AVERROR(EINVAL);
}

int vpi_storage_open_read(VpiStorage *st, const char *key, VpiObject *o)
{
    o->fd = -1;
    return vpi_storage_key_ok(key) ? st->cls->open_read(st, key, o) : AVERROR(EINVAL);
}

int vpi_storage_fetch(VpiStorage *st, const char *key, const char *tmp_dir, char *path,
                      size_t path_size, int *is_copy)
{
    *is_copy = 0;
    return vpi_storage_key_ok(key) ?
           st->cls->fetch(st, key, tmp_dir, path, path_size, is_copy) : AVERROR(EINVAL);
}

int vpi_storage_remove_prefix(VpiStorage *st, const char *prefix)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (n < 2 || prefix[n - 1] != '/' || !vpi_storage_key_ok(prefix))
        return AVERROR(EINVAL);
    return st->cls->remove_prefix(st, prefix);
}

int vpi_storage_put_part(VpiStorage *st, const char *upload, int number, const char *path)
{
    if (!name_ok(upload) || number < 1)
        return AVERROR(EINVAL);
    return st->cls->put_part(st, upload, number, path);
}

int vpi_storage_compose(VpiStorage *st, const char *upload, int nb_parts, const char *key,
                        int64_t size, const uint8_t *sha256, char *reason, size_t reason_size)
{
    if (!name_ok(upload) || nb_parts < 1 || !vpi_storage_key_ok(key))
        return AVERROR(EINVAL);
    return st->cls->compose(st, upload, nb_parts, key, size, sha256, reason, reason_size);
}

int vpi_storage_remove_parts(VpiStorage *st, const char *upload)
{
    return name_ok(upload) ? st->cls->remove_parts(st, upload) : AVERROR(EINVAL);
}

const char *vpi_storage_staging_dir(VpiStorage *st)
{
    return st->cls->staging_dir ? st->cls->staging_dir(st) : NULL;
}

int vpi_storage_presign_get(VpiStorage *st, const char *key, int expires, char **url)
{
    *url = NULL;
    if (!vpi_storage_key_ok(key) || expires < 1)
        return AVERROR(EINVAL);
    return st->cls->presign_get ? st->cls->presign_get(st, key, expires, url) : AVERROR(ENOSYS);
}

int vpi_storage_presign_get_as(VpiStorage *st, const char *key, int expires,
                               const char *content_type, const char *disposition, char **url)
{
    *url = NULL;
    if (!st->cls->presign_get_as)
        return vpi_storage_presign_get(st, key, expires, url);
    if (!vpi_storage_key_ok(key) || expires < 1)
        return AVERROR(EINVAL);
    return st->cls->presign_get_as(st, key, expires, content_type, disposition, url);
}

int vpi_storage_presign_put_part(VpiStorage *st, const char *upload, int number, int expires,
                                 char **url)
{
    *url = NULL;
    if (!name_ok(upload) || number < 1 || expires < 1)
        return AVERROR(EINVAL);
    return st->cls->presign_put_part ?
           st->cls->presign_put_part(st, upload, number, expires, url) : AVERROR(ENOSYS);
}

int vpi_storage_record_part(VpiStorage *st, const char *upload, int number, const char *etag)
{
    if (!name_ok(upload) || number < 1 || !etag)
        return AVERROR(EINVAL);
    return st->cls->record_part ? st->cls->record_part(st, upload, number, etag) :
           AVERROR(ENOSYS);
}

int64_t vpi_storage_min_part_size(const VpiStorage *st)
{
    return st->cls->min_part_size > 0 ? st->cls->min_part_size : 1 << 20;
}

int vpi_storage_takes_direct_parts(const VpiStorage *st)
{
    return st->cls->presign_put_part && st->cls->record_part;
}

int vpi_storage_presign_put_parts(VpiStorage *st, const char *upload, int first, int count,
                                  int expires, char **urls)
{
    int i = 0, ret = 0;
    if (count < 1 || first < 1 || first > INT_MAX - count)
        return AVERROR(EINVAL);
    for (int k = 0; k < count; k++)
        urls[k] = NULL;
    if (!name_ok(upload) || expires < 1)
        return AVERROR(EINVAL);
    if (st->cls->presign_put_parts)
        return st->cls->presign_put_parts(st, upload, first, count, expires, urls);
    if (!st->cls->presign_put_part)
        return AVERROR(ENOSYS);
    for (; i < count && ret >= 0; i++)
        ret = st->cls->presign_put_part(st, upload, first + i, expires, &urls[i]);
    if (ret < 0)
        for (int k = 0; k < count; k++)
            av_freep(&urls[k]);
    return ret;
}

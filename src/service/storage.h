/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job service's object storage (docs/serve.md, "Storage"): originals, proxies and
 * thumbnails by key, and the parts of resumable uploads, behind one small interface, so a
 * local folder (storage_file.c, the embedded default) and S3 (storage_s3.c) are back ends
 * of the same calls. Never installed.
 *
 * Keys are relative paths of lower-case letters, digits and "._-/", without "..", empty
 * components or a leading "/" ("videos/12/original", "videos/12/j3-1/proxy.mp4"). An object
 * appears whole or not at all: every back end publishes it only once all of it is stored. */
#ifndef VIDPIPE_SERVICE_STORAGE_H
#define VIDPIPE_SERVICE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct VpiStorage VpiStorage;

/* A stored object opened for reading. */
typedef struct VpiObject {
    int fd;                     /* the caller closes it */
    int64_t size;
    int64_t mtime;              /* seconds since the epoch */
} VpiObject;

/* A back end. Every hook returns 0 or a negative AVERROR: ENOENT for a missing object or
 * upload, EINVAL for a bad key, EBADMSG when an assembled upload is not what was announced,
 * ENOSPC, EIO. Hooks may be called from several threads at once on one VpiStorage. */
typedef struct VpiStorageClass {
    const char *name;           /* the spec prefix: "file" matches "file:DIR" */
    size_t priv_size;
    /* Open @p target (the spec after "name:"); on failure write one line to @p reason. */
    int (*open)(VpiStorage *st, const char *target, char *reason, size_t reason_size);
    void (*close)(VpiStorage *st);
    /* Store the finished local file @p path as @p key: moved when it can be (the file is
     * gone on success), copied else. Replaces an older object of that key. */
    int (*put)(VpiStorage *st, const char *key, const char *path);
    int (*open_read)(VpiStorage *st, const char *key, VpiObject *o);
    /* A local file holding @p key's bytes, for a worker to decode: the object itself where
     * the storage is local (*is_copy = 0), else a copy made under @p tmp_dir (*is_copy = 1;
     * the caller removes it). */
    int (*fetch)(VpiStorage *st, const char *key, const char *tmp_dir, char *path,
                 size_t path_size, int *is_copy);
    /* Remove every object under @p prefix (a key ending in "/"); 0 when there was none. */
    int (*remove_prefix)(VpiStorage *st, const char *prefix);
    /* The parts of upload @p upload (a name of the same alphabet as keys, no "/"):
     * store the finished local file @p path as part @p number (moved as put()). */
    int (*put_part)(VpiStorage *st, const char *upload, int number, const char *path);
    /* Concatenate parts 1..@p nb_parts as object @p key, checking that the whole has
     * @p size bytes and, when @p sha256 is not NULL, that SHA-256 (32 bytes); EBADMSG and
     * nothing stored otherwise. The parts stay (remove_parts drops them). */
    int (*compose)(VpiStorage *st, const char *upload, int nb_parts, const char *key,
                   int64_t size, const uint8_t *sha256, char *reason, size_t reason_size);
    int (*remove_parts)(VpiStorage *st, const char *upload);
    /* A folder on the file system of the storage's local files where bodies being received
     * can be written before put()/put_part() moves them, or NULL. */
    const char *(*staging_dir)(VpiStorage *st);
    /* Optional: a URL where a client can GET @p key's bytes itself for @p expires seconds
     * (S3: a presigned URL the HTTP server redirects to), av_malloc'ed into *url. Back ends
     * without one leave it NULL (vpi_storage_presign_get: ENOSYS) and the server sends the
     * bytes from open_read(). Does not check that the object exists. */
    int (*presign_get)(VpiStorage *st, const char *key, int expires, char **url);
    /* Optional, for clients that send upload parts to the storage themselves: a URL where
     * the client PUTs part @p number of @p upload for @p expires seconds (S3: a presigned
     * UploadPart), av_malloc'ed into *url; then record_part() with the ETag the storage
     * answered the client stores the part as put_part() would have (compose() refuses a
     * part whose ETag is not the storage's). ENOSYS where the back end has none. */
    int (*presign_put_part)(VpiStorage *st, const char *upload, int number, int expires,
                            char **url);
    int (*record_part)(VpiStorage *st, const char *upload, int number, const char *etag);
    /* Optional: presign_get() whose answer carries @p content_type and @p disposition
     * (Content-Disposition) when not NULL (S3: response-content-type and
     * response-content-disposition). vpi_storage_presign_get_as() falls back on
     * presign_get(). */
    int (*presign_get_as)(VpiStorage *st, const char *key, int expires,
                          const char *content_type, const char *disposition, char **url);
    /* Optional: presign_put_part() for parts @p first..@p first + @p count - 1 at once
     * into urls[0..count-1] (S3: the upload's id looked up once, not per part); on error
     * none is left. vpi_storage_presign_put_parts() loops over presign_put_part() else. */
    int (*presign_put_parts)(VpiStorage *st, const char *upload, int first, int count,
                             int expires, char **urls);
    /* The smallest part but the last a resumable upload may have (S3: 5 MiB, its
     * EntityTooSmall limit); 0: 1 MiB, the service's own floor. */
    int64_t min_part_size;
} VpiStorageClass;

struct VpiStorage {
    const VpiStorageClass *cls;
    void *priv;
};

extern const VpiStorageClass vpi_storage_file;
/* "s3://BUCKET[/PREFIX][?endpoint=URL&region=R...]" (storage_s3.c, docs/serve.md) */
extern const VpiStorageClass vpi_storage_s3;

/* Open the storage named by @p spec ("file:DIR", "s3://BUCKET/PREFIX?endpoint=URL", or a
 * bare DIR for a folder).
 * @return 0 with *out set (vpi_storage_close), or a negative error with one line in
 *         @p reason naming the storage and why. */
int vpi_storage_open(const char *spec, VpiStorage **out, char *reason, size_t reason_size);
void vpi_storage_close(VpiStorage **st);
/* 1 if @p key is a valid key (see above), 0 else. Pure. */
int vpi_storage_key_ok(const char *key);

int vpi_storage_put(VpiStorage *st, const char *key, const char *path);
int vpi_storage_open_read(VpiStorage *st, const char *key, VpiObject *o);
int vpi_storage_fetch(VpiStorage *st, const char *key, const char *tmp_dir, char *path,
                      size_t path_size, int *is_copy);
int vpi_storage_remove_prefix(VpiStorage *st, const char *prefix);
int vpi_storage_put_part(VpiStorage *st, const char *upload, int number, const char *path);
int vpi_storage_compose(VpiStorage *st, const char *upload, int nb_parts, const char *key,
                        int64_t size, const uint8_t *sha256, char *reason, size_t reason_size);
int vpi_storage_remove_parts(VpiStorage *st, const char *upload);
const char *vpi_storage_staging_dir(VpiStorage *st);
/* 0 with *url (av_free it), AVERROR(ENOSYS) when the back end has no URLs of its own. */
int vpi_storage_presign_get(VpiStorage *st, const char *key, int expires, char **url);
/* vpi_storage_presign_get() with the answer's Content-Type and Content-Disposition, where
 * the back end can set them (else as vpi_storage_presign_get()). */
int vpi_storage_presign_get_as(VpiStorage *st, const char *key, int expires,
                               const char *content_type, const char *disposition, char **url);
/* 0 with *url (av_free it), AVERROR(ENOSYS) when the back end takes no parts directly. */
int vpi_storage_presign_put_part(VpiStorage *st, const char *upload, int number, int expires,
                                 char **url);
/* 0 with urls[0..@p count-1] (av_free each), or an error with none left; ENOSYS as
 * vpi_storage_presign_put_part(). */
int vpi_storage_presign_put_parts(VpiStorage *st, const char *upload, int first, int count,
                                  int expires, char **urls);
/* The class's min_part_size, or 1 MiB. */
int64_t vpi_storage_min_part_size(const VpiStorage *st);
/* 1 when clients can send parts to the storage themselves (presign_put_part and
 * record_part), 0 else. Pure. */
int vpi_storage_takes_direct_parts(const VpiStorage *st);
/* @p etag: as the storage answered the client, quoted or not. */
int vpi_storage_record_part(VpiStorage *st, const char *upload, int number, const char *etag);

#endif

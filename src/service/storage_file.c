/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Object storage in a local folder (the embedded default of `vidpipe serve --data DIR`):
 *
 *     DIR/objects/KEY            stored objects ("videos/12/original", ...)
 *     DIR/uploads/UPLOAD/N       part N of a resumable upload
 *     DIR/staging/               bodies being received, moved into place by rename
 *
 * Every file appears by rename(2) once whole and synced (VpiOutput for what is written here,
 * a synced file moved in for what the service wrote to staging/), so a kill -9 at any point
 * leaves either the old state or the new one. Staging on the same file system makes a
 * finished upload part or proxy a rename, not a copy; across file systems it is copied. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "service/storage.h"
#include "util/internal.h"

typedef struct FileStorage {
    char root[PATH_MAX / 2];
    char staging[PATH_MAX / 2 + 16];
} FileStorage;

static int path_of(FileStorage *p, char *buf, size_t size, const char *area, const char *name)
{
    int n = snprintf(buf, size, "%s/%s/%s", p->root, area, name);
    return n < 0 || (size_t)n >= size ? AVERROR(ENAMETOOLONG) : 0;
}

/* Staging files are "body-PID-..."; those of a process that is gone are leftovers of a kill. */
static void clean_staging(FileStorage *p)
{
    DIR *d = opendir(p->staging);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        long pid;
        char path[PATH_MAX];
        if (sscanf(e->d_name, "body-%ld-", &pid) != 1 || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", p->staging, e->d_name) < (int)sizeof(path))
            unlink(path);
    }
    closedir(d);
}

static int fs_open(VpiStorage *st, const char *target, char *reason, size_t reason_size)
{
    FileStorage *p = st->priv;
    static const char *const areas[] = { "objects", "uploads", "staging" };
    char path[PATH_MAX];
    int ret;

    if (strlen(target) >= sizeof(p->root) - 1) {
        snprintf(reason, reason_size, "%s: path too long", target);
        return AVERROR(ENAMETOOLONG);
    }
    snprintf(p->root, sizeof(p->root), "%s", target);
    for (size_t i = 0; i < sizeof(areas) / sizeof(*areas); i++) {
        snprintf(path, sizeof(path), "%s/%s", p->root, areas[i]);
        if ((ret = vpi_mkdir_p(path)) < 0 || (ret = access(path, W_OK) ? AVERROR(errno) : 0)) {
            snprintf(reason, reason_size, "%s: cannot use the folder (%s)", path,
                     av_err2str(ret));
            return ret;
        }
    }
    snprintf(p->staging, sizeof(p->staging), "%s/staging", p->root);
    clean_staging(p);
    return 0;
}

static void fs_close(VpiStorage *st)
{
    (void)st;
}

static int sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, ret = 0;
    if (!slash || (size_t)(slash - path) >= sizeof(dir))
        return 0;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return AVERROR(errno);
    if (fsync(fd) < 0)
        ret = AVERROR(errno);
    close(fd);
    return ret;
}

static int make_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) >= sizeof(dir))
        return AVERROR(EINVAL);
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    return vpi_mkdir_p(dir);
}

/* Copy @p in's bytes to the open @p out_fd, hashing them into @p sha when not NULL.
 * @return the bytes copied or a negative error. */
static int64_t copy_fd(int in, int out_fd, struct AVSHA *sha)
{
    enum { BUF = 1 << 20 };
    uint8_t *buf = av_malloc(BUF);
    int64_t total = 0;
    if (!buf)
        return AVERROR(ENOMEM);
    for (;;) {
        ssize_t n = read(in, buf, BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            total = AVERROR(errno);
            break;
        }
        if (n == 0)
            break;
        if (sha)
            av_sha_update(sha, buf, (unsigned)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out_fd, buf + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                av_free(buf);
                return AVERROR(errno);
            }
            off += w;
        }
        total += n;
    }
    av_free(buf);
    return total;
}

/* Move the finished file @p src to @p dst: fsync + rename (+ the folder's fsync); across file
 * systems a synced copy under a temporary name, renamed, then @p src removed. */
static int move_in(const char *src, const char *dst)
{
    int fd, ret;
    if ((ret = make_parent(dst)) < 0)
        return ret;
    if ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0)
        return AVERROR(errno);
    if (fsync(fd) < 0) {
        ret = AVERROR(errno);
        close(fd);
        return ret;
    }
    if (rename(src, dst) == 0) {
        close(fd);
        return sync_dir_of(dst);
    }
    if (errno != EXDEV) {
        ret = AVERROR(errno);
        close(fd);
        return ret;
    }
    VpiOutput o;
    if ((ret = vpi_output_begin(&o, dst)) < 0) {
        close(fd);
        return ret;
    }
    int out = open(o.tmp_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    int64_t n = out < 0 ? AVERROR(errno) : copy_fd(fd, out, NULL);
    close(fd);
    if (out >= 0 && close(out) < 0 && n >= 0)
        n = AVERROR(errno);
    if (n < 0) {
        vpi_output_abort(&o);
        return (int)n;
    }
    if ((ret = vpi_output_commit(&o)) < 0)
        return ret;
    unlink(src);
    return 0;
}

static int fs_put(VpiStorage *st, const char *key, const char *path)
{
    char dst[PATH_MAX];
    int ret = path_of(st->priv, dst, sizeof(dst), "objects", key);
    return ret < 0 ? ret : move_in(path, dst);
}

static int fs_open_read(VpiStorage *st, const char *key, VpiObject *o)
{
    char path[PATH_MAX];
    struct stat sb;
    int ret = path_of(st->priv, path, sizeof(path), "objects", key);
    if (ret < 0)
        return ret;
    if ((o->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return AVERROR(errno);
    if (fstat(o->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        ret = S_ISREG(sb.st_mode) ? AVERROR(errno) : AVERROR(ENOENT);
        close(o->fd);
        o->fd = -1;
        return ret;
    }
    o->size = sb.st_size;
    o->mtime = sb.st_mtime;
    return 0;
}

static int fs_fetch(VpiStorage *st, const char *key, const char *tmp_dir, char *path,
                    size_t path_size, int *is_copy)
{
    struct stat sb;
    int ret = path_of(st->priv, path, path_size, "objects", key);
    (void)tmp_dir;
    if (ret < 0)
        return ret;
    if (stat(path, &sb) < 0)
        return AVERROR(errno);
    *is_copy = 0;
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
        return errno;
    return 0;
}

static int rm_tree(const char *path)
{
    struct stat sb;
    int e;
    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : AVERROR(errno);
    e = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return e < 0 ? AVERROR(errno) : e > 0 ? AVERROR(e) : 0;
}

static int fs_remove_prefix(VpiStorage *st, const char *prefix)
{
    char path[PATH_MAX];
    int ret = path_of(st->priv, path, sizeof(path), "objects", prefix);
    if (ret < 0)
        return ret;
    path[strlen(path) - 1] = 0;     /* the trailing "/" */
    return rm_tree(path);
}

static int part_path(FileStorage *p, char *buf, size_t size, const char *upload, int number)
{
    int n = snprintf(buf, size, "%s/uploads/%s/%d", p->root, upload, number);
    return n < 0 || (size_t)n >= size ? AVERROR(ENAMETOOLONG) : 0;
}

static int fs_put_part(VpiStorage *st, const char *upload, int number, const char *path)
{
    char dst[PATH_MAX];
    int ret = part_path(st->priv, dst, sizeof(dst), upload, number);
    return ret < 0 ? ret : move_in(path, dst);
}

static int fs_compose(VpiStorage *st, const char *upload, int nb_parts, const char *key,
                      int64_t size, const uint8_t *sha256, char *reason, size_t reason_size)
{
    FileStorage *p = st->priv;
    char dst[PATH_MAX], part[PATH_MAX];
    struct AVSHA *sha = av_sha_alloc();
    uint8_t digest[32];
    int64_t total = 0;
    VpiOutput o = { 0 };
    int ret, out = -1;

    if (!sha)
        return AVERROR(ENOMEM);
    av_sha_init(sha, 256);
    if ((ret = path_of(p, dst, sizeof(dst), "objects", key)) < 0 ||
        (ret = make_parent(dst)) < 0 || (ret = vpi_output_begin(&o, dst)) < 0)
        goto end;
    if ((out = open(o.tmp_path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0) {
        ret = AVERROR(errno);
        goto end;
    }
    for (int i = 1; i <= nb_parts; i++) {
        int in;
        int64_t n;
        if ((ret = part_path(p, part, sizeof(part), upload, i)) < 0)
            goto end;
        if ((in = open(part, O_RDONLY | O_CLOEXEC)) < 0) {
            ret = AVERROR(errno);
            snprintf(reason, reason_size, "part %d is missing (%s)", i, av_err2str(ret));
            goto end;
        }
        n = copy_fd(in, out, sha);
        close(in);
        if (n < 0) {
            ret = (int)n;
            snprintf(reason, reason_size, "cannot assemble part %d (%s)", i, av_err2str(ret));
            goto end;
        }
        total += n;
    }
    av_sha_final(sha, digest);
    if (total != size) {
        ret = AVERROR(EBADMSG);
        snprintf(reason, reason_size, "the parts hold %lld bytes, the upload announced %lld",
                 (long long)total, (long long)size);
        goto end;
    }
    if (sha256 && memcmp(digest, sha256, 32)) {
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", digest[i]);
        ret = AVERROR(EBADMSG);
        snprintf(reason, reason_size, "SHA-256 of the assembled file is %s, not the one given",
                 hex);
        goto end;
    }
    if (close(out) < 0) {
        out = -1;
        ret = AVERROR(errno);
        goto end;
    }
    out = -1;
    ret = vpi_output_commit(&o);
end:
    if (out >= 0)
        close(out);
    if (ret < 0)
        vpi_output_abort(&o);
    av_free(sha);
    return ret;
}

static int fs_remove_parts(VpiStorage *st, const char *upload)
{
    char path[PATH_MAX];
    int ret = path_of(st->priv, path, sizeof(path), "uploads", upload);
    return ret < 0 ? ret : rm_tree(path);
}

static const char *fs_staging_dir(VpiStorage *st)
{
    return ((FileStorage *)st->priv)->staging;
}

const VpiStorageClass vpi_storage_file = {
    .name = "file",
    .priv_size = sizeof(FileStorage),
    .open = fs_open,
    .close = fs_close,
    .put = fs_put,
    .open_read = fs_open_read,
    .fetch = fs_fetch,
    .remove_prefix = fs_remove_prefix,
    .put_part = fs_put_part,
    .compose = fs_compose,
    .remove_parts = fs_remove_parts,
    .staging_dir = fs_staging_dir,
};

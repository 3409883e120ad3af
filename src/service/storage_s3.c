/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Object storage in an S3 bucket (docs/serve.md, "S3 storage"), spec
 * "s3://BUCKET[/PREFIX][?endpoint=URL&region=R&...]", path-style requests signed with SigV4
 * (sigv4.c) over libcurl:
 *
 *     PREFIX/KEY                          stored objects
 *     PREFIX/.uploads/UPLOAD/object       the S3 multipart upload of a resumable upload,
 *                                         then, once completed, the assembled object
 *     PREFIX/.uploads/UPLOAD/upload-id    its UploadId (the object's body)
 *     PREFIX/.uploads/UPLOAD/part-N-ETAG  one empty object per stored part
 *
 * Keys never have a component starting with ".", so ".uploads" cannot meet an object. The
 * state of an upload lives in the bucket, not in this process: any API node can take the
 * next part or complete it. The part records carry what CompleteMultipartUpload needs (part
 * numbers and ETags) and are read with one ListObjectsV2, as S3-compatible servers without
 * ListParts (s3rver) have it too.
 *
 * Every request is retried with exponential backoff on connection errors, timeouts, and 500,
 * 502, 503, 504 (S3's "InternalError", "SlowDown"), never on another 4xx: those do not get
 * better. A GET that loses its connection resumes with a Range request from the last byte
 * it has. Bodies are streamed from and to files; uploads carry Content-MD5, so S3 refuses a
 * body damaged on the way. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <libavutil/base64.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/md5.h>
#include <libavutil/sha.h>

#include "service/s3_xml.h"
#include "service/sigv4.h"
#include "service/storage.h"
#include "util/internal.h"

typedef struct S3Storage {
    char *endpoint;             /* "http://127.0.0.1:4569", no trailing "/" */
    char *host;                 /* what curl sends as Host: "127.0.0.1:4569" */
    char *public_endpoint;      /* of presigned URLs, when clients reach S3 by another name */
    char *public_host;
    char *bucket;
    char *prefix;               /* "" or "some/prefix/" */
    char *region, *access_key, *secret_key, *session_token;
    char *tmp_dir;              /* open_read's downloads */
    int64_t multipart_above;    /* put() of larger files is a multipart upload */
    int64_t part_size;          /* of those */
    int timeout;                /* seconds to connect, or without a byte moving */
    int retries;
    int backoff_ms;             /* the first retry's delay; doubled each time, 20 s at most */
    pthread_mutex_t upload_lock;
    CURLSH *share;
    pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
    int locks_made;
} S3Storage;

/* ---- one request ---------------------------------------------------------------------- */

typedef struct S3Call {
    const char *method;
    const char *key;            /* the full key in the bucket; NULL: the bucket itself */
    VpiSigv4Pair query[4];
    int nb_query;
    VpiSigv4Pair headers[3];    /* signed headers besides host, x-amz-date, -content-sha256 */
    int nb_headers;
    int in_fd;                  /* body: a region of a file ... */
    int64_t in_off, in_len;
    const char *in_mem;         /* ... or bytes (in_len of them) */
    int has_body;
    int out_fd;                 /* response body to this file (2xx only), else to mem */
    struct AVSHA *out_sha;      /* and/or through this hash */
    int resume;                 /* a GET that continues with Range after a dropped link */
    int tries;                  /* 0: the storage's retries */

    long status;
    char etag[256];
    int64_t length;             /* the whole object's size, from Content-Length/-Range */
    int64_t written;            /* body bytes kept (to out_fd / out_sha) */
    int64_t mtime;
    AVBPrint mem;               /* an error's or a small answer's body */
    char reason[320];

    /* per attempt */
    int64_t sent;
    int64_t attempt_from;       /* the Range start of this attempt */
    int restart_checked;
} S3Call;

static void call_init(S3Call *c, const char *method, const char *key)
{
    memset(c, 0, sizeof(*c));
    c->method = method;
    c->key = key;
    c->in_fd = c->out_fd = -1;
    c->length = -1;
    av_bprint_init(&c->mem, 0, AV_BPRINT_SIZE_UNLIMITED);
}

static void call_uninit(S3Call *c)
{
    av_bprint_finalize(&c->mem, NULL);
}

static size_t read_body(char *buf, size_t size, size_t nitems, void *opaque)
{
    S3Call *c = opaque;
    size_t want = size * nitems;
    int64_t left = c->in_len - c->sent;
    if ((int64_t)want > left)
        want = (size_t)left;
    if (!want)
        return 0;
    if (c->in_mem) {
        memcpy(buf, c->in_mem + c->sent, want);
    } else {
        ssize_t n;
        do
            n = pread(c->in_fd, buf, want, c->in_off + c->sent);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return CURL_READFUNC_ABORT;     /* the file shrank or failed under us */
        want = (size_t)n;
    }
    c->sent += want;
    return want;
}

/* curl rewinds a body it must send again (a kept-alive connection found closed) */
static int seek_body(void *opaque, curl_off_t offset, int origin)
{
    S3Call *c = opaque;
    if (origin != SEEK_SET || offset < 0 || offset > c->in_len)
        return CURL_SEEKFUNC_FAIL;
    c->sent = offset;
    return CURL_SEEKFUNC_OK;
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t write_body(char *buf, size_t size, size_t nitems, void *opaque)
{
    S3Call *c = opaque;
    size_t n = size * nitems;
    if (c->status < 200 || c->status > 299 || (c->out_fd < 0 && !c->out_sha)) {
        if (c->mem.len + n > (16 << 20))
            return 0;                       /* no answer of ours is that big */
        av_bprint_append_data(&c->mem, buf, (unsigned)n);
        return n;
    }
    if (!c->restart_checked) {
        c->restart_checked = 1;
        /* asked for a range but sent the whole object: start the copy again */
        if (c->attempt_from > 0 && c->status == 200) {
            if (c->out_fd >= 0 && (ftruncate(c->out_fd, 0) < 0 ||
                                   lseek(c->out_fd, 0, SEEK_SET) < 0))
                return 0;
            if (c->out_sha)
                av_sha_init(c->out_sha, 256);
            c->written = 0;
        }
    }
    if (c->out_fd >= 0 && write_all(c->out_fd, buf, n) < 0)
        return 0;
    if (c->out_sha)
        av_sha_update(c->out_sha, (const uint8_t *)buf, (unsigned)n);
    c->written += n;
    return n;
}

static size_t header_line(char *buf, size_t size, size_t nitems, void *opaque)
{
    S3Call *c = opaque;
    size_t n = size * nitems;
    char line[512];
    long long a, b, total;
    if (n >= sizeof(line))
        return n;
    memcpy(line, buf, n);
    line[n] = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (!strncmp(line, "HTTP/", 5)) {
        /* a new response (after a 100 Continue, say): what came before was not it */
        sscanf(line, "HTTP/%*s %ld", &c->status);
        c->etag[0] = 0;
    } else if (!strncasecmp(line, "etag:", 5)) {
        const char *v = line + 5;
        v += strspn(v, " \t\"");
        snprintf(c->etag, sizeof(c->etag), "%.*s", (int)strcspn(v, "\""), v);
    } else if (!strncasecmp(line, "content-range:", 14) &&
               sscanf(line + 14, " bytes %lld-%lld/%lld", &a, &b, &total) == 3) {
        c->length = total;
    } else if (!strncasecmp(line, "content-length:", 15) && c->status == 200 &&
               sscanf(line + 15, " %lld", &total) == 1) {
        c->length = total;
    }
    return n;
}

/* The answer's XML, the parts this back end reads. */
typedef struct S3Answer {
    int error;                  /* the root is <Error> */
    char code[64], message[256];
    char upload_id[512];
    char etag[256];
    int truncated;
    char token[1024];
    char **keys;
    int nb_keys;
    int delete_errors;
    char delete_error[320];
} S3Answer;

static void answer_free(S3Answer *a)
{
    for (int i = 0; i < a->nb_keys; i++)
        av_free(a->keys[i]);
    av_freep(&a->keys);
    a->nb_keys = 0;
}

static int on_element(void *opaque, const char *path, const char *text, size_t len)
{
    S3Answer *a = opaque;
    (void)len;
    if (!strncmp(path, "Error/", 6) || !strcmp(path, "Error"))
        a->error = 1;
    if (!strcmp(path, "Error/Code"))
        snprintf(a->code, sizeof(a->code), "%s", text);
    else if (!strcmp(path, "Error/Message"))
        snprintf(a->message, sizeof(a->message), "%s", text);
    else if (!strcmp(path, "InitiateMultipartUploadResult/UploadId"))
        snprintf(a->upload_id, sizeof(a->upload_id), "%s", text);
    else if (!strcmp(path, "CompleteMultipartUploadResult/ETag") ||
             !strcmp(path, "CopyObjectResult/ETag"))
        snprintf(a->etag, sizeof(a->etag), "%s", text);
    else if (!strcmp(path, "ListBucketResult/IsTruncated"))
        a->truncated = !strcmp(text, "true");
    else if (!strcmp(path, "ListBucketResult/NextContinuationToken"))
        snprintf(a->token, sizeof(a->token), "%s", text);
    else if (!strcmp(path, "ListBucketResult/Contents/Key")) {
        char **k, *dup;
        if (a->nb_keys >= 100000)
            return AVERROR_INVALIDDATA;
        if (!(k = av_realloc_array(a->keys, a->nb_keys + 1, sizeof(*k))))
            return AVERROR(ENOMEM);
        a->keys = k;
        if (!(dup = av_strdup(text)))
            return AVERROR(ENOMEM);
        a->keys[a->nb_keys++] = dup;
    } else if (!strcmp(path, "DeleteResult/Error/Key")) {
        a->delete_errors++;
        snprintf(a->delete_error, sizeof(a->delete_error), "%s", text);
    }
    return 0;
}

static int parse_answer(S3Call *c, S3Answer *a)
{
    memset(a, 0, sizeof(*a));
    if (!av_bprint_is_complete(&c->mem))
        return AVERROR(ENOMEM);
    if (!c->mem.len)
        return 0;
    return vpi_s3_xml_parse(c->mem.str, c->mem.len, on_element, a);
}

static int status_error(long status)
{
    switch (status) {
    case 404: return AVERROR(ENOENT);
    case 401:
    case 403: return AVERROR(EACCES);
    case 400:
    case 411:
    case 416: return AVERROR(EINVAL);
    case 409:
    case 412: return AVERROR(EEXIST);   /* a conditional write lost */
    case 507: return AVERROR(ENOSPC);
    default:  return AVERROR(EIO);
    }
}

static int retryable(CURLcode cc, long status)
{
    switch (cc) {
    case CURLE_OK:
        return status == 500 || status == 502 || status == 503 || status == 504;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int64_t backoff(const S3Storage *p, int attempt, unsigned *seed)
{
    int64_t d = p->backoff_ms;
    for (int i = 0; i < attempt && d < 20000; i++)
        d *= 2;
    if (d > 20000)
        d = 20000;
    /* half fixed, half random: many clients retrying at once spread out */
    return d / 2 + (int64_t)(rand_r(seed) % (unsigned)(d / 2 + 1));
}

/* "/BUCKET/KEY" or "/BUCKET" for signing and the URL (raw: the signer encodes). */
static char *resource_of(const S3Storage *p, const char *key)
{
    return key ? av_asprintf("/%s/%s", p->bucket, key) : av_asprintf("/%s", p->bucket);
}

static int attempt(S3Storage *p, S3Call *c, const char *resource, CURLcode *cc)
{
    CURL *h = NULL;
    struct curl_slist *hl = NULL;
    VpiSigv4Pair sh[8];
    VpiSigv4Result sig = { 0 };
    AVBPrint url, line;
    char date[17], payload[65], range[64];
    int nsh = 0, ret = 0;

    c->status = 0;
    c->etag[0] = 0;
    c->sent = 0;
    c->restart_checked = 0;
    c->attempt_from = c->resume ? c->written : 0;
    av_bprint_clear(&c->mem);
    if (!c->resume && c->written) {
        /* a plain GET retried from the start */
        if (c->out_fd >= 0 && (ftruncate(c->out_fd, 0) < 0 || lseek(c->out_fd, 0, SEEK_SET) < 0))
            return AVERROR(errno);
        if (c->out_sha)
            av_sha_init(c->out_sha, 256);
        c->written = 0;
    }

    av_bprint_init(&url, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&line, 0, AV_BPRINT_SIZE_UNLIMITED);
    vpi_sigv4_amz_date(time(NULL), date);
    if (c->has_body && c->in_mem) {
        if ((ret = vpi_sigv4_sha256_hex(c->in_mem, (size_t)c->in_len, payload)) < 0)
            goto end;
    } else if (c->has_body) {
        /* a file's body would be read twice to sign it; Content-MD5 guards it instead */
        snprintf(payload, sizeof(payload), "UNSIGNED-PAYLOAD");
    } else {
        vpi_sigv4_sha256_hex("", 0, payload);
    }
    sh[nsh++] = (VpiSigv4Pair){ "host", p->host };
    sh[nsh++] = (VpiSigv4Pair){ "x-amz-date", date };
    sh[nsh++] = (VpiSigv4Pair){ "x-amz-content-sha256", payload };
    if (p->session_token)
        sh[nsh++] = (VpiSigv4Pair){ "x-amz-security-token", p->session_token };
    for (int i = 0; i < c->nb_headers; i++)
        sh[nsh++] = c->headers[i];
    const VpiSigv4Key k = { p->access_key, p->secret_key, p->region, "s3" };
    if ((ret = vpi_sigv4_sign(&k, &(VpiSigv4Request){
            .method = c->method, .path = resource, .query = c->query, .nb_query = c->nb_query,
            .headers = sh, .nb_headers = nsh, .payload_hash = payload, .amz_date = date },
            &sig)) < 0)
        goto end;

    av_bprintf(&url, "%s", p->endpoint);
    vpi_sigv4_uri_encode(&url, resource, 1);
    if (c->nb_query) {
        av_bprint_chars(&url, '?', 1);
        if ((ret = vpi_sigv4_canonical_query(&url, c->query, c->nb_query)) < 0)
            goto end;
    }
    if (!av_bprint_is_complete(&url)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int i = 1; i < nsh; i++) {         /* curl writes Host itself */
        av_bprint_clear(&line);
        av_bprintf(&line, "%s: %s", sh[i].name, sh[i].value);
        struct curl_slist *n = av_bprint_is_complete(&line) ? curl_slist_append(hl, line.str) :
                               NULL;
        if (!n) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        hl = n;
    }
    av_bprint_clear(&line);
    av_bprintf(&line, "Authorization: %s", sig.authorization);
    struct curl_slist *n = av_bprint_is_complete(&line) ? curl_slist_append(hl, line.str) : NULL;
    if (!n || !(hl = n) || !(n = curl_slist_append(hl, "Expect:")))
        goto nomem;
    hl = n;
    if (c->attempt_from > 0) {
        snprintf(range, sizeof(range), "Range: bytes=%" PRId64 "-", c->attempt_from);
        if (!(n = curl_slist_append(hl, range)))
            goto nomem;
        hl = n;
    }
    if (c->has_body && !strcmp(c->method, "POST")) {
        if (!(n = curl_slist_append(hl, "Content-Type: application/xml")))
            goto nomem;
        hl = n;
    }

    if (!(h = curl_easy_init()))
        goto nomem;
    curl_easy_setopt(h, CURLOPT_URL, url.str);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SHARE, p->share);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)p->timeout);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)p->timeout);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_line);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!strcmp(c->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(c->has_body ? c->in_len : 0));
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_body);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
    } else if (!strcmp(c->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(c->has_body ? c->in_len : 0));
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_body);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
    } else if (!strcmp(c->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(c->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
    /* OpenSSL writes to a socket the server closed raise SIGPIPE (curl's NOSIGNAL leaves it
     * to us): blocked on this thread for the transfer and a pending one dropped, so neither
     * the process nor its other threads see it, and no process-wide handler is touched */
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    *cc = curl_easy_perform(h);
    if (!sigismember(&old_set, SIGPIPE)) {
        sigset_t pending;
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
            sigtimedwait(&pipe_set, NULL, &(struct timespec){ 0, 0 });
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_off_t ft = -1;
    if (curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft) == CURLE_OK && ft >= 0)
        c->mtime = (int64_t)ft;
    if (*cc != CURLE_OK)
        snprintf(c->reason, sizeof(c->reason), "%s", curl_easy_strerror(*cc));
    goto end;
nomem:
    ret = AVERROR(ENOMEM);
end:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    vpi_sigv4_result_free(&sig);
    av_bprint_finalize(&url, NULL);
    av_bprint_finalize(&line, NULL);
    return ret;
}

/* Run @p c with the retries. @return 0 for a 2xx answer (c->status), else a negative error
 * with c->reason: "PUT bucket/key: 403 AccessDenied (Access Denied)". A 404 is ENOENT. */
static int perform(S3Storage *p, S3Call *c)
{
    char *resource = resource_of(p, c->key);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)c;
    int tries = c->tries ? c->tries : p->retries + 1, ret = 0;
    CURLcode cc = CURLE_OK;

    if (!resource)
        return AVERROR(ENOMEM);
    for (int i = 0, progress_resets = 0;; i++) {
        int64_t before = c->written;
        cc = CURLE_OK;
        c->reason[0] = 0;
        if ((ret = attempt(p, c, resource, &cc)) < 0)
            break;
        if (!retryable(cc, c->status))
            break;
        /* a GET that moved forward before it broke is not failing: let it go on */
        if (c->resume && c->written > before && progress_resets < 1000) {
            progress_resets++;
            i = -1;
            continue;
        }
        if (i + 1 >= tries)
            break;
        sleep_ms(backoff(p, i, &seed));
    }
    if (ret >= 0 && cc != CURLE_OK) {
        ret = cc == CURLE_OPERATION_TIMEDOUT ? AVERROR(ETIMEDOUT) : AVERROR(EIO);
        char why[128];
        snprintf(why, sizeof(why), "%.127s", c->reason);
        snprintf(c->reason, sizeof(c->reason), "%s %.160s: %s", c->method, resource + 1, why);
    } else if (ret >= 0 && (c->status < 200 || c->status > 299)) {
        S3Answer a;
        int pr = parse_answer(c, &a);
        ret = status_error(c->status);
        snprintf(c->reason, sizeof(c->reason), "%s %.120s: %ld %s%s%.100s%s", c->method,
                 resource + 1, c->status, pr >= 0 && a.code[0] ? a.code : "error",
                 pr >= 0 && a.message[0] ? " (" : "", pr >= 0 ? a.message : "",
                 pr >= 0 && a.message[0] ? ")" : "");
        answer_free(&a);
    }
    av_free(resource);
    return ret;
}

/* A 2xx answer whose body is XML (CompleteMultipartUpload, CopyObject, DeleteObjects may
 * answer 200 and still have failed: S3 then sends <Error>). */
static int perform_xml(S3Storage *p, S3Call *c, S3Answer *a)
{
    int ret = perform(p, c);
    memset(a, 0, sizeof(*a));
    if (ret < 0)
        return ret;
    if ((ret = parse_answer(c, a)) < 0) {
        snprintf(c->reason, sizeof(c->reason), "%s %.120s: unreadable answer (%s)", c->method,
                 c->key ? c->key : p->bucket, av_err2str(ret));
        return AVERROR(EIO);
    }
    if (a->error) {
        snprintf(c->reason, sizeof(c->reason), "%s %.120s: %s (%.100s)", c->method,
                 c->key ? c->key : p->bucket, a->code, a->message);
        return !strcmp(a->code, "NoSuchUpload") || !strcmp(a->code, "NoSuchKey") ?
               AVERROR(ENOENT) : AVERROR(EIO);
    }
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

static char *full_key(const S3Storage *p, const char *key)
{
    return av_asprintf("%s%s", p->prefix, key);
}

/* Content-MD5 (base64) of @p len bytes of @p fd at @p off. */
static int md5_region(int fd, int64_t off, int64_t len, char b64[25])
{
    enum { BUF = 1 << 20 };
    struct AVMD5 *md5 = av_md5_alloc();
    uint8_t *buf = av_malloc(BUF), d[16];
    int ret = 0;
    if (!md5 || !buf) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    av_md5_init(md5);
    for (int64_t done = 0; done < len;) {
        size_t want = len - done > BUF ? BUF : (size_t)(len - done);
        ssize_t n = pread(fd, buf, want, off + done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ret = n < 0 ? AVERROR(errno) : AVERROR(EIO);
            goto end;
        }
        av_md5_update(md5, buf, (size_t)n);
        done += n;
    }
    av_md5_final(md5, d);
    av_base64_encode(b64, 25, d, 16);
end:
    av_free(md5);
    av_free(buf);
    return ret;
}

/* PUT @p len bytes of @p fd at @p off to @p key (with @p query: an UploadPart);
 * the answer's ETag into @p etag. */
static int put_region(S3Storage *p, const char *key, const VpiSigv4Pair *query, int nb_query,
                      int fd, int64_t off, int64_t len, char *etag, size_t etag_size,
                      char *reason, size_t reason_size)
{
    S3Call c;
    char md5[25];
    int ret;
    if ((ret = md5_region(fd, off, len, md5)) < 0)
        return ret;
    call_init(&c, "PUT", key);
    for (int i = 0; i < nb_query; i++)
        c.query[c.nb_query++] = query[i];
    c.headers[c.nb_headers++] = (VpiSigv4Pair){ "content-md5", md5 };
    c.in_fd = fd;
    c.in_off = off;
    c.in_len = len;
    c.has_body = 1;
    ret = perform(p, &c);
    if (ret < 0 && reason)
        snprintf(reason, reason_size, "%s", c.reason);
    if (ret >= 0 && etag)
        snprintf(etag, etag_size, "%s", c.etag);
    call_uninit(&c);
    return ret;
}

/* @p only_new: a conditional write (If-None-Match: *), EEXIST when the key exists */
static int put_bytes(S3Storage *p, const char *key, const char *data, size_t len,
                     int only_new)
{
    S3Call c;
    int ret;
    call_init(&c, "PUT", key);
    if (only_new)
        c.headers[c.nb_headers++] = (VpiSigv4Pair){ "if-none-match", "*" };
    c.in_mem = data;
    c.in_len = (int64_t)len;
    c.has_body = 1;
    ret = perform(p, &c);
    call_uninit(&c);
    return ret;
}

static int delete_key(S3Storage *p, const char *key)
{
    S3Call c;
    int ret;
    call_init(&c, "DELETE", key);
    ret = perform(p, &c);
    call_uninit(&c);
    return ret == AVERROR(ENOENT) ? 0 : ret;
}

/* GET @p key into @p fd and/or @p sha, resuming after drops. */
static int get_object(S3Storage *p, const char *key, int fd, struct AVSHA *sha, int64_t *size,
                      int64_t *mtime, char *reason, size_t reason_size)
{
    S3Call c;
    int ret;
    call_init(&c, "GET", key);
    c.out_fd = fd;
    c.out_sha = sha;
    c.resume = 1;
    ret = perform(p, &c);
    if (ret >= 0 && c.length >= 0 && c.written != c.length) {
        snprintf(c.reason, sizeof(c.reason), "GET %s: %" PRId64 " bytes of %" PRId64, key,
                 c.written, c.length);
        ret = AVERROR(EIO);
    }
    if (ret < 0 && reason)
        snprintf(reason, reason_size, "%s", c.reason);
    if (size)
        *size = c.written;
    if (mtime)
        *mtime = c.mtime;
    call_uninit(&c);
    return ret;
}

/* Every key under @p full_prefix (ListObjectsV2, page by page), to @p fn. */
static int list_keys(S3Storage *p, const char *full_prefix,
                     int (*fn)(S3Storage *p, char **keys, int nb, void *opaque), void *opaque)
{
    char token[1024] = "";
    int ret = 0;
    for (;;) {
        S3Call c;
        S3Answer a;
        call_init(&c, "GET", NULL);
        c.query[c.nb_query++] = (VpiSigv4Pair){ "list-type", "2" };
        c.query[c.nb_query++] = (VpiSigv4Pair){ "prefix", full_prefix };
        c.query[c.nb_query++] = (VpiSigv4Pair){ "max-keys", "1000" };
        if (token[0])
            c.query[c.nb_query++] = (VpiSigv4Pair){ "continuation-token", token };
        ret = perform_xml(p, &c, &a);
        call_uninit(&c);
        if (ret >= 0 && a.nb_keys)
            ret = fn(p, a.keys, a.nb_keys, opaque);
        int more = ret >= 0 && a.truncated && a.token[0] && strcmp(a.token, token);
        if (more)
            snprintf(token, sizeof(token), "%s", a.token);
        answer_free(&a);
        if (ret < 0 || !more)
            return ret;
    }
}

static void xml_escaped(AVBPrint *bp, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': av_bprintf(bp, "&amp;"); break;
        case '<': av_bprintf(bp, "&lt;"); break;
        case '>': av_bprintf(bp, "&gt;"); break;
        default:  av_bprint_chars(bp, *s, 1);
        }
    }
}

/* DeleteObjects for one page of keys (at most 1000, as S3 allows). */
static int delete_keys(S3Storage *p, char **keys, int nb, void *opaque)
{
    AVBPrint body;
    S3Call c;
    S3Answer a;
    char md5[25];
    uint8_t d[16];
    int ret;
    (void)opaque;

    av_bprint_init(&body, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    for (int i = 0; i < nb; i++) {
        av_bprintf(&body, "<Object><Key>");
        xml_escaped(&body, keys[i]);
        av_bprintf(&body, "</Key></Object>");
    }
    av_bprintf(&body, "</Delete>");
    if (!av_bprint_is_complete(&body)) {
        av_bprint_finalize(&body, NULL);
        return AVERROR(ENOMEM);
    }
    /* DeleteObjects requires Content-MD5 */
    av_md5_sum(d, (const uint8_t *)body.str, body.len);
    av_base64_encode(md5, sizeof(md5), d, 16);
    call_init(&c, "POST", NULL);
    c.query[c.nb_query++] = (VpiSigv4Pair){ "delete", "" };
    c.headers[c.nb_headers++] = (VpiSigv4Pair){ "content-md5", md5 };
    c.in_mem = body.str;
    c.in_len = body.len;
    c.has_body = 1;
    ret = perform_xml(p, &c, &a);
    if (ret >= 0 && a.delete_errors)
        ret = AVERROR(EIO);
    answer_free(&a);
    call_uninit(&c);
    av_bprint_finalize(&body, NULL);
    /* Servers without a working DeleteObjects (s3rver fails some with 500 when it removes
     * the keys' folders in parallel; some S3-compatible services lack it): one by one. */
    for (int i = 0; ret < 0 && ret != AVERROR(ENOMEM) && ret != AVERROR(EACCES) && i < nb; i++) {
        int r = delete_key(p, keys[i]);
        if (r < 0)
            return r;
        if (i == nb - 1)
            ret = 0;
    }
    return ret;
}

static int remove_full_prefix(S3Storage *p, const char *full_prefix)
{
    return list_keys(p, full_prefix, delete_keys, NULL);
}

/* ---- the hooks ------------------------------------------------------------------------- */

static int s3_put_multipart(S3Storage *p, const char *key, int fd, int64_t size)
{
    S3Call c;
    S3Answer a;
    AVBPrint body;
    char (*etags)[256] = NULL;
    int64_t part = p->part_size;
    int nb, ret;

    /* S3 allows 10000 parts */
    if (part < (size + 9999) / 10000)
        part = (size + 9999) / 10000;
    nb = (int)((size + part - 1) / part);
    av_bprint_init(&body, 0, AV_BPRINT_SIZE_UNLIMITED);
    call_init(&c, "POST", key);
    c.query[c.nb_query++] = (VpiSigv4Pair){ "uploads", "" };
    ret = perform_xml(p, &c, &a);
    call_uninit(&c);
    if (ret < 0)
        return ret;
    if (!a.upload_id[0]) {
        answer_free(&a);
        return AVERROR(EIO);
    }
    if (!(etags = av_calloc(nb, sizeof(*etags)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int i = 0; i < nb; i++) {
        char number[16];
        snprintf(number, sizeof(number), "%d", i + 1);
        VpiSigv4Pair q[2] = { { "partNumber", number }, { "uploadId", a.upload_id } };
        int64_t off = (int64_t)i * part, len = size - off < part ? size - off : part;
        if ((ret = put_region(p, key, q, 2, fd, off, len, etags[i], sizeof(etags[i]),
                              NULL, 0)) < 0)
            goto end;
    }
    av_bprintf(&body, "<CompleteMultipartUpload>");
    for (int i = 0; i < nb; i++)
        av_bprintf(&body, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>", i + 1,
                   etags[i]);
    av_bprintf(&body, "</CompleteMultipartUpload>");
    if (!av_bprint_is_complete(&body)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    S3Answer done;
    call_init(&c, "POST", key);
    c.query[c.nb_query++] = (VpiSigv4Pair){ "uploadId", a.upload_id };
    c.in_mem = body.str;
    c.in_len = body.len;
    c.has_body = 1;
    ret = perform_xml(p, &c, &done);
    answer_free(&done);
    call_uninit(&c);
end:
    if (ret < 0) {
        /* leave no parts billed for: AbortMultipartUpload, whatever it answers */
        call_init(&c, "DELETE", key);
        c.query[c.nb_query++] = (VpiSigv4Pair){ "uploadId", a.upload_id };
        c.tries = 2;
        perform(p, &c);
        call_uninit(&c);
    }
    answer_free(&a);
    av_free(etags);
    av_bprint_finalize(&body, NULL);
    return ret;
}

static int s3_put(VpiStorage *st, const char *key, const char *path)
{
    S3Storage *p = st->priv;
    struct stat sb;
    char *k = full_key(p, key);
    int fd = -1, ret;
    if (!k)
        return AVERROR(ENOMEM);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
        ret = AVERROR(errno);
        goto end;
    }
    ret = sb.st_size > p->multipart_above ? s3_put_multipart(p, k, fd, sb.st_size) :
          put_region(p, k, NULL, 0, fd, 0, sb.st_size, NULL, 0, NULL, 0);
    if (ret >= 0)
        unlink(path);
end:
    if (fd >= 0)
        close(fd);
    av_free(k);
    return ret;
}

static int temp_file(const char *dir, char *path, size_t path_size)
{
    int fd;
    if (snprintf(path, path_size, "%s/vidpipe-s3-XXXXXX", dir) >= (int)path_size)
        return AVERROR(ENAMETOOLONG);
    if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
        return AVERROR(errno);
    return fd;
}

static int s3_open_read(VpiStorage *st, const char *key, VpiObject *o)
{
    S3Storage *p = st->priv;
    char path[PATH_MAX];
    char *k = full_key(p, key);
    int fd, ret;
    if (!k)
        return AVERROR(ENOMEM);
    if ((fd = ret = temp_file(p->tmp_dir, path, sizeof(path))) < 0)
        goto end;
    unlink(path);       /* the fd is the copy: gone with its last close */
    if ((ret = get_object(p, k, fd, NULL, &o->size, &o->mtime, NULL, 0)) < 0 ||
        (lseek(fd, 0, SEEK_SET) < 0 && (ret = AVERROR(errno)) < 0)) {
        close(fd);
        goto end;
    }
    o->fd = fd;
end:
    av_free(k);
    return ret;
}

static int s3_fetch(VpiStorage *st, const char *key, const char *tmp_dir, char *path,
                    size_t path_size, int *is_copy)
{
    S3Storage *p = st->priv;
    char *k = full_key(p, key);
    int fd, ret;
    if (!k)
        return AVERROR(ENOMEM);
    if ((fd = ret = temp_file(tmp_dir, path, path_size)) < 0)
        goto end;
    ret = get_object(p, k, fd, NULL, NULL, NULL, NULL, 0);
    if (close(fd) < 0 && ret >= 0)
        ret = AVERROR(errno);
    if (ret < 0)
        unlink(path);
    else
        *is_copy = 1;
end:
    av_free(k);
    return ret;
}

static int s3_remove_prefix(VpiStorage *st, const char *prefix)
{
    S3Storage *p = st->priv;
    char *k = full_key(p, prefix);
    int ret;
    if (!k)
        return AVERROR(ENOMEM);
    ret = remove_full_prefix(p, k);
    av_free(k);
    return ret;
}

/* "PREFIX/.uploads/UPLOAD/" + @p rest */
static char *upload_key(const S3Storage *p, const char *upload, const char *rest)
{
    return av_asprintf("%s.uploads/%s/%s", p->prefix, upload, rest);
}

/* The UploadId of @p upload into @p id; ENOENT when it has none. */
static int read_upload_id(S3Storage *p, const char *upload, char *id, size_t id_size)
{
    char *k = upload_key(p, upload, "upload-id");
    S3Call c;
    int ret;
    if (!k)
        return AVERROR(ENOMEM);
    call_init(&c, "GET", k);
    ret = perform(p, &c);
    if (ret >= 0) {
        if (!av_bprint_is_complete(&c.mem) || !c.mem.len || c.mem.len >= id_size ||
            memchr(c.mem.str, 0, c.mem.len))
            ret = AVERROR(EIO);
        else
            snprintf(id, id_size, "%s", c.mem.str);
    }
    call_uninit(&c);
    av_free(k);
    return ret;
}

static int upload_id(S3Storage *p, const char *upload, char *id, size_t id_size)
{
    char *obj = NULL, *marker = NULL;
    S3Call c;
    S3Answer a = { 0 };
    int ret;

    /* One thread of a process creates the S3 upload of a resumable upload; the others find
     * its id. Across processes (API nodes taking parts of one upload at the same instant)
     * the id is written with a conditional PUT: the node that loses aborts its own upload
     * and takes the winner's. (A server without conditional writes, s3rver, keeps the last
     * id written: docs/serve.md.) */
    pthread_mutex_lock(&p->upload_lock);
    if ((ret = read_upload_id(p, upload, id, id_size)) != AVERROR(ENOENT))
        goto end;
    if (!(obj = upload_key(p, upload, "object")) ||
        !(marker = upload_key(p, upload, "upload-id"))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    call_init(&c, "POST", obj);
    c.query[c.nb_query++] = (VpiSigv4Pair){ "uploads", "" };
    ret = perform_xml(p, &c, &a);
    call_uninit(&c);
    if (ret >= 0 && (!a.upload_id[0] || strlen(a.upload_id) >= id_size))
        ret = AVERROR(EIO);
    if (ret >= 0 && (ret = put_bytes(p, marker, a.upload_id, strlen(a.upload_id), 1)) >= 0)
        snprintf(id, id_size, "%s", a.upload_id);
    if (ret == AVERROR(EEXIST) && (ret = read_upload_id(p, upload, id, id_size)) >= 0 &&
        strcmp(id, a.upload_id)) {
        /* another node's id is the one (not ours, written by a retry of ours) */
        call_init(&c, "DELETE", obj);
        c.query[c.nb_query++] = (VpiSigv4Pair){ "uploadId", a.upload_id };
        perform(p, &c);
        call_uninit(&c);
    }
end:
    pthread_mutex_unlock(&p->upload_lock);
    answer_free(&a);
    av_free(obj);
    av_free(marker);
    return ret;
}

static int etag_ok(const char *etag)
{
    size_t n = strlen(etag);
    return n && n <= 64 && strspn(etag, "0123456789abcdefABCDEF-") == n;
}

typedef struct StaleParts {
    const char *keep;           /* the record just written */
    int ret;
} StaleParts;

static int drop_stale(S3Storage *p, char **keys, int nb, void *opaque)
{
    StaleParts *s = opaque;
    for (int i = 0; i < nb; i++)
        if (strcmp(keys[i], s->keep)) {
            int ret = delete_key(p, keys[i]);
            if (ret < 0)
                return ret;
        }
    return 0;
}

/* The record compose() lists for part @p number stored with @p etag; then those of earlier
 * sends of that part are dropped. */
static int record_part(S3Storage *p, const char *upload, int number, const char *etag)
{
    char rest[128];
    char *record = NULL, *same = NULL;
    int ret;
    if (!etag_ok(etag))
        return AVERROR(EINVAL);
    snprintf(rest, sizeof(rest), "part-%05d-%s", number, etag);
    if (!(record = upload_key(p, upload, rest))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = put_bytes(p, record, "", 0, 0)) < 0)
        goto end;
    snprintf(rest, sizeof(rest), "part-%05d-", number);
    if (!(same = upload_key(p, upload, rest))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    StaleParts s = { record, 0 };
    ret = list_keys(p, same, drop_stale, &s);
end:
    av_free(record);
    av_free(same);
    return ret;
}

static int s3_put_part(VpiStorage *st, const char *upload, int number, const char *path)
{
    S3Storage *p = st->priv;
    char id[512], etag[256], num[16];
    char *obj = NULL;
    struct stat sb;
    int fd = -1, ret;

    if (number > 10000)
        return AVERROR(EINVAL);     /* S3's limit */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
        ret = AVERROR(errno);
        goto end;
    }
    if ((ret = upload_id(p, upload, id, sizeof(id))) < 0)
        goto end;
    if (!(obj = upload_key(p, upload, "object"))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    snprintf(num, sizeof(num), "%d", number);
    VpiSigv4Pair q[2] = { { "partNumber", num }, { "uploadId", id } };
    if ((ret = put_region(p, obj, q, 2, fd, 0, sb.st_size, etag, sizeof(etag), NULL, 0)) < 0)
        goto end;
    if ((ret = record_part(p, upload, number, etag)) == AVERROR(EINVAL))
        ret = AVERROR(EIO);         /* S3 answered an ETag we cannot keep */
    if (ret >= 0)
        unlink(path);
end:
    if (fd >= 0)
        close(fd);
    av_free(obj);
    return ret;
}

/* Parts @p first.. of @p upload, @p count of them: one look-up of the UploadId (creating
 * the S3 upload if needed), then only local signing. */
static int s3_presign_put_parts(VpiStorage *st, const char *upload, int first, int count,
                                int expires, char **urls)
{
    S3Storage *p = st->priv;
    char id[512], num[16], date[17];
    char *obj = NULL, *path = NULL;
    int i = 0, ret;

    if (first < 1 || count < 1 || first > 10000 - count + 1)
        return AVERROR(EINVAL);     /* S3's limit */
    if ((ret = upload_id(p, upload, id, sizeof(id))) < 0)
        return ret;
    if (!(obj = upload_key(p, upload, "object")) ||
        !(path = av_asprintf("/%s/%s", p->bucket, obj))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    vpi_sigv4_amz_date(time(NULL), date);
    const VpiSigv4Key k = { p->access_key, p->secret_key, p->region, "s3" };
    for (; i < count; i++) {
        snprintf(num, sizeof(num), "%d", first + i);
        VpiSigv4Pair q[2] = { { "partNumber", num }, { "uploadId", id } };
        if ((ret = vpi_sigv4_presign(&k, "PUT", p->public_endpoint ? p->public_endpoint :
                                     p->endpoint, p->public_host ? p->public_host : p->host,
                                     path, q, 2, p->session_token, date,
                                     expires > 604800 ? 604800 : expires, &urls[i])) < 0)
            break;
    }
end:
    if (ret < 0)
        while (i-- > 0)
            av_freep(&urls[i]);
    av_free(obj);
    av_free(path);
    return ret;
}

static int s3_presign_put_part(VpiStorage *st, const char *upload, int number, int expires,
                               char **url)
{
    return s3_presign_put_parts(st, upload, number, 1, expires, url);
}

static int s3_record_part(VpiStorage *st, const char *upload, int number, const char *etag)
{
    char bare[128];
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
        etag++, n -= 2;
    if (number > 10000 || n >= sizeof(bare))
        return AVERROR(EINVAL);
    snprintf(bare, sizeof(bare), "%.*s", (int)n, etag);
    return record_part(st->priv, upload, number, bare);
}

typedef struct PartList {
    size_t skip;                /* length of "PREFIX/.uploads/UPLOAD/" */
    int nb_parts;
    char (*etag)[65];           /* [nb_parts], "" where missing */
} PartList;

static int collect_parts(S3Storage *p, char **keys, int nb, void *opaque)
{
    PartList *l = opaque;
    (void)p;
    for (int i = 0; i < nb; i++) {
        const char *name = keys[i] + l->skip;
        int n, end = 0;
        if (strlen(keys[i]) <= l->skip || sscanf(name, "part-%5d-%n", &n, &end) != 1 || !end ||
            n < 1 || n > l->nb_parts || !etag_ok(name + end))
            continue;
        snprintf(l->etag[n - 1], sizeof(l->etag[n - 1]), "%s", name + end);
    }
    return 0;
}

static void hex32(const uint8_t *d, char *hex)
{
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static int s3_compose(VpiStorage *st, const char *upload, int nb_parts, const char *key,
                      int64_t size, const uint8_t *sha256, char *reason, size_t reason_size)
{
    S3Storage *p = st->priv;
    char id[512], src_header[PATH_MAX * 3 + 8];
    char *obj = NULL, *parts_prefix = NULL, *dst = NULL;
    struct AVSHA *sha = av_sha_alloc();
    uint8_t digest[32];
    PartList l = { 0 };
    AVBPrint body, src;
    S3Call c;
    S3Answer a;
    int64_t got = 0;
    int ret;

    av_bprint_init(&body, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&src, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!sha || !(obj = upload_key(p, upload, "object")) ||
        !(parts_prefix = upload_key(p, upload, "part-")) || !(dst = full_key(p, key)) ||
        !(l.etag = av_calloc(nb_parts, sizeof(*l.etag)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = read_upload_id(p, upload, id, sizeof(id))) < 0) {
        snprintf(reason, reason_size, "%s", ret == AVERROR(ENOENT) ? "no part was stored" :
                 "cannot read the upload's state");
        goto end;
    }
    l.skip = strlen(parts_prefix) - strlen("part-");
    l.nb_parts = nb_parts;
    if ((ret = list_keys(p, parts_prefix, collect_parts, &l)) < 0) {
        snprintf(reason, reason_size, "cannot list the parts (%s)", av_err2str(ret));
        goto end;
    }
    av_bprintf(&body, "<CompleteMultipartUpload>");
    for (int i = 0; i < nb_parts; i++) {
        if (!l.etag[i][0]) {
            ret = AVERROR(ENOENT);
            snprintf(reason, reason_size, "part %d is missing", i + 1);
            goto end;
        }
        av_bprintf(&body, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>", i + 1,
                   l.etag[i]);
    }
    av_bprintf(&body, "</CompleteMultipartUpload>");
    if (!av_bprint_is_complete(&body)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    /* S3 checks each part's MD5 on arrival, not what the client meant the whole to be:
     * read the assembled object back through SHA-256. An earlier compose that completed
     * the upload and then found it wrong (or failed later on) left that object: it is
     * checked again, the upload being gone (S3 would answer NoSuchUpload). */
    av_sha_init(sha, 256);
    ret = get_object(p, obj, -1, sha, &got, NULL, NULL, 0);
    if (ret == AVERROR(ENOENT)) {
        call_init(&c, "POST", obj);
        c.query[c.nb_query++] = (VpiSigv4Pair){ "uploadId", id };
        c.in_mem = body.str;
        c.in_len = body.len;
        c.has_body = 1;
        ret = perform_xml(p, &c, &a);
        answer_free(&a);
        if (ret < 0)
            snprintf(reason, reason_size, "%s", c.reason);
        call_uninit(&c);
        if (ret < 0)
            goto end;
        av_sha_init(sha, 256);
        got = 0;
        ret = get_object(p, obj, -1, sha, &got, NULL, NULL, 0);
    }
    if (ret < 0) {
        snprintf(reason, reason_size, "cannot read the assembled upload back (%s)",
                 av_err2str(ret));
        goto end;
    }
    av_sha_final(sha, digest);
    if (got != size) {
        ret = AVERROR(EBADMSG);
        snprintf(reason, reason_size, "the parts hold %" PRId64 " bytes, the upload announced "
                 "%" PRId64, got, size);
    } else if (sha256 && memcmp(digest, sha256, 32)) {
        char hex[65];
        hex32(digest, hex);
        ret = AVERROR(EBADMSG);
        snprintf(reason, reason_size, "SHA-256 of the assembled file is %s, not the one given",
                 hex);
    }
    if (ret < 0)
        goto end;   /* the assembled object stays as the parts do, until remove_parts() */

    /* in place under its key: a server-side copy (S3's CopyObject: up to 5 GiB) */
    if (size > ((int64_t)5 << 30)) {
        ret = AVERROR(EFBIG);
        snprintf(reason, reason_size, "%" PRId64 " bytes: S3 copies objects up to 5 GiB in "
                 "one request", size);
        goto end;
    }
    av_bprint_chars(&src, '/', 1);
    vpi_sigv4_uri_encode(&src, p->bucket, 0);
    av_bprint_chars(&src, '/', 1);
    vpi_sigv4_uri_encode(&src, obj, 1);
    if (!av_bprint_is_complete(&src) || src.len >= sizeof(src_header)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    snprintf(src_header, sizeof(src_header), "%s", src.str);
    call_init(&c, "PUT", dst);
    c.headers[c.nb_headers++] = (VpiSigv4Pair){ "x-amz-copy-source", src_header };
    ret = perform_xml(p, &c, &a);
    answer_free(&a);
    if (ret < 0)
        snprintf(reason, reason_size, "%s", c.reason);
    call_uninit(&c);
end:
    av_free(sha);
    av_free(obj);
    av_free(parts_prefix);
    av_free(dst);
    av_free(l.etag);
    av_bprint_finalize(&body, NULL);
    av_bprint_finalize(&src, NULL);
    return ret;
}

static int s3_remove_parts(VpiStorage *st, const char *upload)
{
    S3Storage *p = st->priv;
    char id[512];
    char *obj = upload_key(p, upload, "object"), *base = upload_key(p, upload, "");
    int ret = 0;
    if (!obj || !base) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (read_upload_id(p, upload, id, sizeof(id)) >= 0) {
        /* AbortMultipartUpload: the parts of an upload never completed are billed until
         * aborted. Its answer does not matter: completed already, or a server without it. */
        S3Call c;
        call_init(&c, "DELETE", obj);
        c.query[c.nb_query++] = (VpiSigv4Pair){ "uploadId", id };
        perform(p, &c);
        call_uninit(&c);
    }
    ret = remove_full_prefix(p, base);
end:
    av_free(obj);
    av_free(base);
    return ret;
}

/* S3 answers a presigned GET with the headers its response-* parameters name (they are
 * signed with the rest): a browser then plays, shows or saves the object under its name. */
static int s3_presign_get_as(VpiStorage *st, const char *key, int expires,
                             const char *content_type, const char *disposition, char **url)
{
    S3Storage *p = st->priv;
    char date[17];
    char *path = av_asprintf("/%s/%s%s", p->bucket, p->prefix, key);
    VpiSigv4Pair q[2];
    int nb = 0, ret;
    if (!path)
        return AVERROR(ENOMEM);
    if (disposition)
        q[nb++] = (VpiSigv4Pair){ "response-content-disposition", disposition };
    if (content_type)
        q[nb++] = (VpiSigv4Pair){ "response-content-type", content_type };
    vpi_sigv4_amz_date(time(NULL), date);
    const VpiSigv4Key k = { p->access_key, p->secret_key, p->region, "s3" };
    ret = vpi_sigv4_presign(&k, "GET", p->public_endpoint ? p->public_endpoint : p->endpoint,
                            p->public_host ? p->public_host : p->host, path, nb ? q : NULL, nb,
                            p->session_token, date, expires > 604800 ? 604800 : expires, url);
    av_free(path);
    return ret;
}

static int s3_presign_get(VpiStorage *st, const char *key, int expires, char **url)
{
    return s3_presign_get_as(st, key, expires, NULL, NULL, url);
}

/* ---- open / close ---------------------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *opaque)
{
    S3Storage *p = opaque;
    (void)h;
    (void)access;
    pthread_mutex_lock(&p->share_lock[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *opaque)
{
    S3Storage *p = opaque;
    (void)h;
    pthread_mutex_unlock(&p->share_lock[data]);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
           c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A query value, %XX decoded. */
static char *decoded(const char *s, size_t n)
{
    char *out = av_malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

/* The credentials file (~/.aws/credentials or AWS_SHARED_CREDENTIALS_FILE), profile
 * AWS_PROFILE or "default": aws_access_key_id, aws_secret_access_key, aws_session_token. */
static int read_credentials_file(S3Storage *p)
{
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
    const char *profile = getenv("AWS_PROFILE");
    char path[PATH_MAX], line[2048], section[256] = "";
    FILE *f;
    if (!file) {
        if (!home || snprintf(path, sizeof(path), "%s/.aws/credentials", home) >= (int)sizeof(path))
            return 0;
        file = path;
    }
    if (!profile || !*profile)
        profile = "default";
    if (!(f = fopen(file, "re")))
        return 0;
    while (fgets(line, sizeof(line), f)) {
        char *s = line + strspn(line, " \t"), *eq, *v, *e;
        s[strcspn(s, "\r\n")] = 0;
        if (*s == '[') {
            snprintf(section, sizeof(section), "%.*s", (int)strcspn(s + 1, "]"), s + 1);
            continue;
        }
        if (strcmp(section, profile) || !(eq = strchr(s, '=')))
            continue;
        for (e = eq; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        *e = 0;
        v = eq + 1 + strspn(eq + 1, " \t");
        for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        *e = 0;
        char **dst = !strcmp(s, "aws_access_key_id") ? &p->access_key :
                     !strcmp(s, "aws_secret_access_key") ? &p->secret_key :
                     !strcmp(s, "aws_session_token") ? &p->session_token : NULL;
        if (dst && !*dst && !(*dst = av_strdup(v))) {
            fclose(f);
            return AVERROR(ENOMEM);
        }
    }
    fclose(f);
    return 0;
}

static int set_str(char **dst, const char *v)
{
    av_free(*dst);
    return (*dst = av_strdup(v)) ? 0 : AVERROR(ENOMEM);
}

static int parse_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v)
        return AVERROR(EINVAL);
    if (!strcmp(end, "k") || !strcmp(end, "K"))
        n *= 1024, end++;
    else if (!strcmp(end, "M"))
        n *= 1 << 20, end++;
    if (*end || n < min || n > max)
        return AVERROR(EINVAL);
    *out = n;
    return 0;
}

/* Check @p e is scheme://host[:port] (a trailing "/" dropped) and give the Host header curl
 * will send for it (without a default port). */
static int endpoint_host(char *e, char **host)
{
    size_t n = strlen(e);
    while (n && e[n - 1] == '/')
        e[--n] = 0;
    int https = !strncmp(e, "https://", 8);
    if (!https && strncmp(e, "http://", 7))
        return AVERROR(EINVAL);
    const char *h = e + (https ? 8 : 7);
    if (!*h || strpbrk(h, "/?#@"))
        return AVERROR(EINVAL);
    const char *def = https ? ":443" : ":80";
    size_t hl = strlen(h);
    if (hl > strlen(def) && !strcmp(h + hl - strlen(def), def))
        hl -= strlen(def);
    return (*host = av_strndup(h, hl)) ? 0 : AVERROR(ENOMEM);
}

static void s3_close(VpiStorage *st);

static int s3_open(VpiStorage *st, const char *target, char *reason, size_t reason_size)
{
    S3Storage *p = st->priv;
    const char *b, *q;
    char *query = NULL;
    int ret = 0;

    p->multipart_above = (int64_t)64 << 20;
    p->part_size = (int64_t)16 << 20;
    p->timeout = 30;
    p->retries = 5;
    p->backoff_ms = 200;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&p->share_lock[i], NULL);
    pthread_mutex_init(&p->upload_lock, NULL);
    p->locks_made = 1;

#define FAIL(code, ...) do { snprintf(reason, reason_size, __VA_ARGS__); ret = code; \
                             goto end; } while (0)
    if (strncmp(target, "//", 2))
        FAIL(AVERROR(EINVAL), "s3:%s: not s3://BUCKET/PREFIX", target);
    b = target + 2;
    size_t blen = strcspn(b, "/?");
    if (blen < 3 || blen > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") < blen)
        FAIL(AVERROR(EINVAL), "s3:%s: the bucket name must be 3 to 63 of a-z 0-9 . -", target);
    if (!(p->bucket = av_strndup(b, blen)))
        FAIL(AVERROR(ENOMEM), "s3:%s: out of memory", target);
    q = b + blen;
    q += strspn(q, "/");
    size_t plen = strcspn(q, "?");
    while (plen && q[plen - 1] == '/')
        plen--;
    if (!(p->prefix = plen ? av_asprintf("%.*s/", (int)plen, q) : av_strdup("")))
        FAIL(AVERROR(ENOMEM), "s3:%s: out of memory", target);
    if (plen && !vpi_storage_key_ok(p->prefix))
        FAIL(AVERROR(EINVAL), "s3:%s: the prefix must be of a-z 0-9 . _ - /, without empty or "
             "dot-led components", target);
    q = strchr(q, '?');
    if (q && !(query = av_strdup(q + 1)))
        FAIL(AVERROR(ENOMEM), "s3:%s: out of memory", target);
    for (char *save = NULL, *kv = query ? strtok_r(query, "&", &save) : NULL; kv;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '='), *v;
        int64_t n = 0;
        if (!eq)
            FAIL(AVERROR(EINVAL), "s3:%s: \"%s\" is not name=value", target, kv);
        *eq = 0;
        if (!(v = decoded(eq + 1, strlen(eq + 1))))
            FAIL(AVERROR(ENOMEM), "s3:%s: out of memory", target);
        ret = !strcmp(kv, "endpoint") ? set_str(&p->endpoint, v) :
              !strcmp(kv, "public_endpoint") ? set_str(&p->public_endpoint, v) :
              !strcmp(kv, "region") ? set_str(&p->region, v) :
              !strcmp(kv, "tmp") ? set_str(&p->tmp_dir, v) :
              !strcmp(kv, "timeout") ? ((ret = parse_int(v, 1, 3600, &n)) < 0 ? ret :
                                        (p->timeout = (int)n, 0)) :
              !strcmp(kv, "retries") ? ((ret = parse_int(v, 0, 20, &n)) < 0 ? ret :
                                        (p->retries = (int)n, 0)) :
              !strcmp(kv, "backoff_ms") ? ((ret = parse_int(v, 1, 60000, &n)) < 0 ? ret :
                                           (p->backoff_ms = (int)n, 0)) :
              !strcmp(kv, "multipart_above") ? parse_int(v, 5 << 20, INT64_MAX / 2,
                                                         &p->multipart_above) :
              !strcmp(kv, "part_size") ? parse_int(v, 5 << 20, (int64_t)5 << 30,
                                                   &p->part_size) :
              AVERROR(ENOSYS);
        av_free(v);
        if (ret == AVERROR(ENOSYS))
            FAIL(AVERROR(EINVAL), "s3:%s: unknown option \"%s\" (endpoint, public_endpoint, "
                 "region, tmp, timeout, retries, backoff_ms, multipart_above, part_size)",
                 target, kv);
        if (ret < 0)
            FAIL(ret, "s3:%s: %s: %s", target, kv,
                 ret == AVERROR(ENOMEM) ? "out of memory" : "out of range");
    }

    if (!p->region) {
        const char *r = getenv("AWS_REGION");
        if (!r || !*r)
            r = getenv("AWS_DEFAULT_REGION");
        if ((ret = set_str(&p->region, r && *r ? r : "us-east-1")) < 0)
            FAIL(ret, "s3:%s: out of memory", target);
    }
    if (!p->endpoint) {
        const char *e = getenv("AWS_ENDPOINT_URL_S3");
        if (!e || !*e)
            e = getenv("AWS_ENDPOINT_URL");
        p->endpoint = e && *e ? av_strdup(e) : av_asprintf("https://s3.%s.amazonaws.com",
                                                           p->region);
        if (!p->endpoint)
            FAIL(AVERROR(ENOMEM), "s3:%s: out of memory", target);
    }
    if ((ret = endpoint_host(p->endpoint, &p->host)) < 0 ||
        (p->public_endpoint && (ret = endpoint_host(p->public_endpoint, &p->public_host)) < 0))
        FAIL(ret, "s3:%s: endpoint %s must be http[s]://host[:port]", target,
             p->host ? p->public_endpoint : p->endpoint);
    if (!p->tmp_dir) {
        const char *t = getenv("TMPDIR");
        if ((ret = set_str(&p->tmp_dir, t && *t ? t : "/tmp")) < 0)
            FAIL(ret, "s3:%s: out of memory", target);
    }
    {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
        const char *token = getenv("AWS_SESSION_TOKEN");
        if (id && *id && secret && *secret) {
            if ((ret = set_str(&p->access_key, id)) < 0 ||
                (ret = set_str(&p->secret_key, secret)) < 0 ||
                (token && *token && (ret = set_str(&p->session_token, token)) < 0))
                FAIL(ret, "s3:%s: out of memory", target);
        } else if ((ret = read_credentials_file(p)) < 0) {
            FAIL(ret, "s3:%s: out of memory", target);
        }
        if (!p->access_key || !p->secret_key)
            FAIL(AVERROR(EINVAL), "s3:%s: no credentials (set AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY, or write ~/.aws/credentials)", target);
    }

    /* curl_global_init is thread-safe from curl 7.84 on; the library calls it itself */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(p->share = curl_share_init()))
        FAIL(AVERROR(ENOMEM), "s3:%s: cannot start libcurl", target);
    curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);

    {
        /* a first request: the bucket exists and these credentials may list it. The prefix
         * matches no key (none has a component starting with "."), so the answer is never
         * truncated: s3rver on Node 20 fails (500) to make continuation tokens. */
        S3Call c;
        S3Answer a;
        char *probe = av_asprintf("%s.open-check", p->prefix);
        if (!probe)
            FAIL(AVERROR(ENOMEM), "s3:%s: out of memory", target);
        call_init(&c, "GET", NULL);
        c.query[c.nb_query++] = (VpiSigv4Pair){ "list-type", "2" };
        c.query[c.nb_query++] = (VpiSigv4Pair){ "max-keys", "1" };
        c.query[c.nb_query++] = (VpiSigv4Pair){ "prefix", probe };
        ret = perform_xml(p, &c, &a);
        av_free(probe);
        answer_free(&a);
        if (ret < 0)
            snprintf(reason, reason_size, "s3://%s/%s (%s): %s", p->bucket, p->prefix,
                     p->endpoint, c.reason);
        call_uninit(&c);
    }
#undef FAIL
end:
    av_free(query);
    if (ret < 0)
        s3_close(st);
    return ret;
}

static void s3_close(VpiStorage *st)
{
    S3Storage *p = st->priv;
    if (p->share)
        curl_share_cleanup(p->share);
    p->share = NULL;
    av_freep(&p->endpoint);
    av_freep(&p->public_endpoint);
    av_freep(&p->public_host);
    av_freep(&p->host);
    av_freep(&p->bucket);
    av_freep(&p->prefix);
    av_freep(&p->region);
    av_freep(&p->access_key);
    if (p->secret_key)
        memset(p->secret_key, 0, strlen(p->secret_key));
    av_freep(&p->secret_key);
    av_freep(&p->session_token);
    av_freep(&p->tmp_dir);
    if (p->locks_made) {
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&p->share_lock[i]);
        pthread_mutex_destroy(&p->upload_lock);
        p->locks_made = 0;
    }
}

const VpiStorageClass vpi_storage_s3 = {
    .name = "s3",
    .priv_size = sizeof(S3Storage),
    .open = s3_open,
    .close = s3_close,
    .put = s3_put,
    .open_read = s3_open_read,
    .fetch = s3_fetch,
    .remove_prefix = s3_remove_prefix,
    .put_part = s3_put_part,
    .compose = s3_compose,
    .remove_parts = s3_remove_parts,
    .presign_get = s3_presign_get,
    .presign_get_as = s3_presign_get_as,
    .presign_put_part = s3_presign_put_part,
    .presign_put_parts = s3_presign_put_parts,
    .record_part = s3_record_part,
    .min_part_size = 5 << 20,           /* S3 refuses smaller ones at completion */
};

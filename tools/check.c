/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe check: can these files be joined by stream copy? */
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/commands.h"

typedef struct CheckJob {
    char **paths;
    VpMediaInfo **infos;
    int *errs;
    char (*whys)[512];  /* why a join cannot read the file (errs[i] < 0), or "" */
    VpProbeOpts opts;
    CliProgress progress;
    int done, total;
} CheckJob;

static void probe_one(void *ctx, int i)
{
    CheckJob *job = ctx;
    /* What the join itself refuses to read, with its reason; such a file is not probed
     * (as the join does not probe it: FFmpeg's demuxer would trust its tables). */
    job->errs[i] = vp_check_file(job->paths[i], job->whys[i], sizeof(job->whys[i]));
    if (job->errs[i] >= 0)
        job->errs[i] = vp_probe_file(job->paths[i], &job->opts, &job->infos[i]);
    int d = __atomic_add_fetch(&job->done, 1, __ATOMIC_RELAXED);
    cli_progress_update(&job->progress, d, job->total);
}

static int run_check(int argc, char **argv)
{
    int json = 0, nb_pos = 0, quiet_notes = 0;
    VpBatchOpts run; /* -j, through the batch table: 0 (default) is one per core */
    vp_batch_default_opts(&run);
    const char *ref_path = NULL, *list = NULL;
    const CliOpt opts[] = {
        { "ref", 0, CLI_STR, &ref_path, "FILE", "compare with FILE (default: the first file)" },
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result" },
        CLI_LIB_AS("jobs", 'j', &run, "N", vp_option_table("batch"), "jobs",
                   "probe N files at a time (0: one per core)", NULL),
        { "list", 0, CLI_STR, &list, "FILE", "read more paths from FILE, one per line (- stdin)" },
        { "errors-only", 0, CLI_FLAG, &quiet_notes, NULL, "do not print notes" },
        { 0 },
    };
    int r = cli_parse(&cmd_check, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;

    char **paths;
    int nb, ret = CLI_EXIT_OK;
    if ((r = cli_gather_paths(ref_path, nb_pos, argv + 1, list, &paths, &nb)))
        return r;
    if (nb - (ref_path ? 1 : 0) < 1 || nb < 2) {
        cli_error("check: give at least two files, or --ref FILE and one file "
                  "(see 'vidpipe check --help')");
        cli_free_paths(paths, nb);
        return CLI_EXIT_USAGE;
    }

    CheckJob job = { .paths = paths, .total = nb };
    vp_probe_default_opts(&job.opts);
    /* The verdict needs stream parameters and the start of each GOP, not packet counts. */
    job.opts.count_packets = 0;
    job.opts.gop_scan_packets = 48;
    job.infos = calloc((size_t)nb, sizeof(*job.infos));
    job.errs = calloc((size_t)nb, sizeof(*job.errs));
    job.whys = calloc((size_t)nb, sizeof(*job.whys));
    if (!job.infos || !job.errs || !job.whys) {
        free(job.infos);
        free(job.errs);
        free(job.whys);
        goto oom;
    }
    cli_progress_init(&job.progress, "probed");
    cli_parallel_for(nb, run.jobs > 0 ? run.jobs : cli_default_jobs(), probe_one, &job);
    cli_progress_end(&job.progress);

    const VpMediaInfo *ref = job.infos[0];
    int unreadable = 0, errors = 0, notes = 0, bad_files = 0, ref_errors = 0;
    CliJson j;
    if (json) {
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", "check");
        cj_str(&j, "reference", paths[0]);
        cj_arr_begin(&j, "items");
    }
    for (int i = 0; i < nb; i++) {
        VpCheckResult res = { 0 };
        int err = job.errs[i];
        if (err >= 0 && job.infos[i]->video_index < 0)
            err = VP_ERR_NO_VIDEO;
        const char *reason = job.whys[i][0] ? job.whys[i] : vp_strerror(err);
        if (err < 0) {
            cli_file_error(paths[i], "%s", reason);
            unreadable++;
        } else if (ref && job.errs[0] >= 0) {
            /* the reference against the join's own requirements, the others against it */
            r = i ? vp_check_compare(ref, job.infos[i], &res) : vp_check_requirements(ref, &res);
            if (r < 0) {
                cli_error("check: %s", vp_strerror(r));
                ret = CLI_EXIT_ERROR;
            }
        }
        if (!i)
            ref_errors = res.nb_errors;
        else if (res.nb_errors)
            bad_files++;
        errors += res.nb_errors;
        notes += res.nb_diffs - res.nb_errors;
        if (json) {
            cj_obj_begin(&j, NULL);
            cj_str(&j, "input", paths[i]);
            if (err < 0) {
                cj_obj_begin(&j, "error");
                cj_str(&j, "code", vp_err_name(err));
                cj_str(&j, "message", reason);
                cj_obj_end(&j);
            } else {
                cj_null(&j, "error");
            }
            cj_bool(&j, "joinable", err >= 0 && !res.nb_errors && job.errs[0] >= 0);
            cj_arr_begin(&j, "differences");
            for (int k = 0; k < res.nb_diffs; k++) {
                const VpCheckDiff *d = &res.diffs[k];
                cj_obj_begin(&j, NULL);
                cj_str(&j, "severity", d->severity == VP_CHECK_ERROR ? "error" : "note");
                cj_str(&j, "field", d->field);
                cj_str(&j, "value", d->value);
                if (d->within_file)
                    cj_null(&j, "reference_value");
                else
                    cj_str(&j, "reference_value", d->ref_value);
                cj_bool(&j, "conformable", d->conformable);
                cj_bool(&j, "requirement", d->requirement);
                cj_obj_end(&j);
            }
            cj_arr_end(&j);
            cj_obj_end(&j);
        } else {
            for (int k = 0; k < res.nb_diffs; k++) {
                const VpCheckDiff *d = &res.diffs[k];
                if (d->severity == VP_CHECK_NOTE && quiet_notes)
                    continue;
                const char *sev = d->severity == VP_CHECK_ERROR ? "error" : "note";
                if (d->within_file)
                    printf("%s: %s: %s: %s\n", paths[i], sev, d->field, d->value);
                else if (d->requirement)
                    printf("%s: %s: %s is %s, the join needs %s\n", paths[i], sev, d->field,
                           d->value, d->ref_value);
                else
                    printf("%s: %s: %s is %s, reference %s has %s\n", paths[i], sev, d->field,
                           d->value, paths[0], d->ref_value);
            }
        }
        vp_check_result_clear(&res);
    }
    int joinable = !unreadable && !errors;
    if (json) {
        cj_arr_end(&j);
        cj_bool(&j, "joinable", joinable);
        cj_int(&j, "errors", errors);
        cj_int(&j, "notes", notes);
        cj_int(&j, "unreadable", unreadable);
        cj_obj_end(&j);
        cj_end(&j);
    } else if (joinable) {
        printf("joinable: %d files, %d note%s\n", nb, notes, notes == 1 ? "" : "s");
    } else if (!unreadable) {
        int others = errors - ref_errors;
        printf("not joinable: ");
        if (ref_errors)
            printf("the reference %s cannot be copied as it is (%d way%s; put a file a join "
                   "can copy first)%s", paths[0], ref_errors, ref_errors == 1 ? "" : "s",
                   others ? "; " : "\n");
        if (others)
            printf("%d of %d files differ from %s in %d way%s that need re-encoding "
                   "(--conform)\n", bad_files, nb - 1, paths[0], others,
                   others == 1 ? "" : "s");
    } else {
        printf("not checked: %d of %d files could not be read\n", unreadable, nb);
    }
    for (int i = 0; i < nb; i++)
        vp_media_info_free(&job.infos[i]);
    free(job.infos);
    free(job.errs);
    free(job.whys);
    cli_free_paths(paths, nb);
    if (ret != CLI_EXIT_OK)
        return ret;
    return unreadable ? CLI_EXIT_UNREADABLE : errors ? CLI_EXIT_FAILED : CLI_EXIT_OK;

oom:
    cli_error("check: out of memory");
    cli_free_paths(paths, nb);
    return CLI_EXIT_ERROR;
}

const CliCommand cmd_check = {
    .name = "check",
    .summary = "can these files be joined by stream copy? (compares with a reference)",
    .usage = "[--ref FILE] [--json] [-j N] FILE...",
    .details = "Compares each file with the reference (default: the first): video codec, "
               "profile/level,\nresolution, SAR, pixel format, frame rate, field order, "
               "rotation, audio codec, sample rate,\nchannels/layout, and which streams exist. "
               "One line per difference: file, field, its value,\nthe reference's value. "
               "'note' lines are differences 'vidpipe join' handles (other SPS/PPS,\n"
               "time base, open GOPs, audio longer or shorter than video, missing audio);\n"
               "'error' lines need re-encoding ('vidpipe join --conform'), among them a\n"
               "file that starts on a non-IDR frame (an open GOP at its start), and video\n"
               "that is not H.264 or audio that is not AAC-LC (PCM, MP3, HE-AAC) in any\n"
               "file, the reference included ('the join needs AAC-LC').\n"
               "MP4/MOV files are also read as 'vidpipe join' reads them, with its limits\n"
               "(offsets, sample counts, durations and edits the file can hold); a file\n"
               "beyond them is named with join's reason, as one that could not be read.\n"
               "Exit status: 0 joinable, 1 not joinable, 2 a file could not be read.",
    .run = run_check,
};

/* Store throughput with realistic track documents (about 1 KB of JSON):
 * single puts, batched puts (batches of 1000), and gets, for one store URI.
 * One JSON line of results.
 *
 * usage: bench_store URI [N]   (N documents for the batched runs, default 100000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define BATCH 1000
#define SINGLES 2000

static int track_doc(char *buf, size_t len, int i)
{
    return snprintf(buf, len,
                    "{\"path\":\"/home/listener/Music/Artist %d/Album %d/%02d - Song number %d.flac\","
                    "\"title\":\"Song number %d\",\"artist\":\"Artist %d\",\"album\":\"Album %d\","
                    "\"album_artist\":\"Artist %d\",\"genre\":\"Electronic\",\"year\":%d,"
                    "\"track\":%d,\"duration\":%.3f,\"codec\":\"flac\",\"sample_rate\":44100,"
                    "\"cover\":true,\"size\":%d,\"mtime\":1764000000,"
                    "\"hash\":\"8f14e45fceea167a5a36dedd4bea2543%08x\","
                    "\"features\":{\"loudness\":-9.81,\"loudness_range\":6.2,\"rms\":0.1732,"
                    "\"rms_var\":0.0412,\"tempo\":124.02,\"tempo_confidence\":0.83,"
                    "\"onset_rate\":3.91,\"centroid\":2143.7,\"rolloff\":5120.4,"
                    "\"flatness\":0.0213,\"key\":\"A\",\"mode\":\"minor\",\"key_confidence\":0.71,"
                    "\"chroma\":[0.61,0.12,0.33,0.18,0.52,0.41,0.09,0.77,0.2,1.0,0.15,0.44]},"
                    "\"valence\":%.3f,\"arousal\":%.3f,\"mood\":null,\"missing\":false,"
                    "\"added\":\"2026-11-25T12:00:00Z\",\"plays\":%d,\"likes\":%d,\"skips\":%d,"
                    "\"note\":\"%0100d\"}",
                    i % 500, i % 900, i % 20, i, i, i % 500, i % 900, i % 500, 1970 + i % 56,
                    i % 20, 120.0 + i % 300, 20000000 + i, (unsigned)i, (i % 200) / 100.0 - 1.0,
                    (i % 150) / 75.0 - 1.0, i % 40, i % 7, i % 5, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store URI [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 100000;
    char err[ET_ERR_MAX];
    et_store *s;
    if (et_store_open(argv[1], NULL, &s, err) != ET_OK) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 3;
    }
    char (*ids)[24] = malloc((size_t)n * 24), (*docs)[1400] = malloc((size_t)n * 1400);
    et_store_op *ops = malloc((size_t)n * sizeof *ops);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], 24, "t%08d", i);
        int len = track_doc(docs[i], 1400, i);
        bytes += (size_t)len;
        ops[i] = (et_store_op){ET_STORE_OP_PUT, "tracks", ids[i], docs[i], (size_t)len};
    }
    double t0 = et_now();
    for (int i = 0; i < SINGLES && i < n; i++)
        if (et_store_put(s, "tracks", ids[i], docs[i], ops[i].len, err) != ET_OK)
            goto fail;
    double t_single = et_now() - t0;
    t0 = et_now();
    for (int i = 0; i < n; i += BATCH)
        if (et_store_batch(s, ops + i, (size_t)(n - i < BATCH ? n - i : BATCH), err) != ET_OK)
            goto fail;
    double t_batch = et_now() - t0;
    t0 = et_now();
    for (int i = 0; i < n; i++) {
        char *doc;
        if (et_store_get(s, "tracks", ids[(i * 7919) % n], &doc, NULL, err) != ET_OK)
            goto fail;
        free(doc);
    }
    double t_get = et_now() - t0;
    printf("{\"backend\":\"%s\",\"doc_bytes\":%zu,\"single_puts\":%d,\"single_put_per_s\":%.0f,"
           "\"batched_puts\":%d,\"batched_s\":%.3f,\"batched_put_per_s\":%.0f,"
           "\"gets\":%d,\"get_per_s\":%.0f}\n",
           et_store_backend(s), bytes / (size_t)n, SINGLES, SINGLES / t_single, n, t_batch,
           n / t_batch, n, n / t_get);
    et_store_close(s);
    free(ids), free(docs), free(ops);
    return 0;
fail:
    fprintf(stderr, "bench_store: %s\n", err);
    et_store_close(s);
    return 1;
}

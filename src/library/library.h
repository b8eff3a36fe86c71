/*
 * library: the listener's music as tracks in the store (collection
 * "tracks"): files found by scanning folders, and links imported from
 * catalogues. Each track document holds its tags, features, a valence/arousal
 * estimate and, when the listener gave one, their own mood for it.
 */
#ifndef ET_LIBRARY_H
#define ET_LIBRARY_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "store/store.h"

#define ET_LIBRARY_TRACKS "tracks"
/* The library's own state (its stamp; the folders scanned, id "roots"),
 * apart from the tracks. */
#define ET_LIBRARY_STATE "library"

/* ---- what changed: the library's stamp (stamp.c) ---- */

/*
 * The library's stamp (store.h's stamps; collection "library", id
 * "stamp"): this module bumps it after it changes tracks: a scan (once a
 * second while it writes, and at its end), an import that wrote something,
 * a tag. A copy of the tracks loaded after reading stamp N is current while
 * the stamp still reads N, whichever process or server made the change;
 * reading it is one store read (0 before any change). Tracks changed by
 * other means (et_store_put, emotune store) are seen once their writer calls
 * et_library_stamp_bump (*stamp, may be NULL, gets the new value).
 */
et_status et_library_stamp(et_store *s, uint64_t *stamp, char *err);
et_status et_library_stamp_bump(et_store *s, uint64_t *stamp, char *err);

/* ---- catalogues of links (catalog.c) ---- */

typedef struct et_import_issue {
    size_t line; /* 1-based; 0 when the whole file is at fault */
    char message[160];
} et_import_issue;

/* A catalogue's format: recognised by content, or stated. */
typedef enum et_catalog_format {
    ET_CATALOG_AUTO = 0,
    ET_CATALOG_CSV,
    ET_CATALOG_JSON,
    ET_CATALOG_M3U,
} et_catalog_format;

typedef struct et_import_report {
    size_t added;     /* links written: new ones, and stored ones that changed */
    size_t updated;   /* of those, the ones stored before (that changed) */
    size_t unchanged; /* links already stored exactly so (not rewritten) */
    size_t skipped;   /* lines or elements skipped, each one an issue */
    et_import_issue *issues; /* the first 1000 issues in file order, owned:
                              * et_import_report_free */
    size_t n_issues;
    et_catalog_format format; /* as the catalogue was read */
} et_import_report;

/*
 * Imports a catalogue of links into the store: CSV (url,title,artist,mood;
 * a header line is recognised), JSON (an array of {"url","title","artist",
 * "mood"} objects) or M3U/M3U8 (#EXTINF titles "artist - title"; the mood
 * from `mood` or an "#EXTMOOD:" / "#MOOD:" line). The format is recognised by
 * content. Only http and https URLs are accepted; every other line
 * (javascript:, file:, no URL, unknown mood, broken quoting) is skipped and
 * reported with its line number. The same link imported again changes
 * nothing (its id, "u-" + a hash of the URL, is derived from the URL): a
 * stored link whose fields differ is rewritten and counted in `added`,
 * keeping the listener's own "mood" and any other field. Link tracks get
 * their valence/arousal from the mood label ("catalog_mood"; "mood" stays
 * null for the listener), or from the listener's mood when set. A non-NULL
 * `mood` applies to every entry, replacing the file's labels. Titles and
 * artists become valid UTF-8 of at most 512 bytes; an empty title becomes
 * the URL's last path part. Edge cases (quoting, encodings, limits) are
 * spelled out at the top of catalog.c. A link not stored yet is written in
 * batches of 1000; a stored link that changes is written by an atomic
 * read-modify-write (et_store_update) of the fields the import owns (kind,
 * url, title, artist, catalog_mood, source, missing, and valence/arousal
 * worked out again from the document as it is then), so a change made to
 * it meanwhile (a tag, by another process or server) is kept. The
 * library's stamp is bumped once the writes are done (when there were
 * any).
 * Test hook: when the environment variable EMOTUNE_TEST_IMPORT_WRITE_FIFO
 * names a path, the import opens it for reading and reads it to its end
 * before each read-modify-write of a stored link (as the scan's hooks do,
 * below): a test can change the track exactly then.
 * Errors: ET_E_IO, ET_E_INVALID (not a catalogue at all: JSON that does not
 * parse or is not an array, binary data; or an unknown `mood`, checked
 * before the file is read), ET_E_TOO_LARGE (over 64 MB, checked before
 * reading), ET_E_NOMEM: nothing written. A store error stops the import;
 * the batches written before it stay (importing again completes them). On
 * any error *report is left empty. report may be NULL.
 */
et_status et_library_import(et_store *s, const char *path, const char *mood,
                            et_import_report *report, char *err);

/* "csv", "json", "m3u" or "m3u8" into *out; ET_E_INVALID otherwise. */
et_status et_catalog_format_parse(const char *name, et_catalog_format *out, char *err);

/*
 * The same import from a catalogue held in memory (len bytes, no NUL
 * needed; never written anywhere), as a request body: the same rules,
 * checks and errors (ET_E_TOO_LARGE over 64 MB). `format` other than
 * ET_CATALOG_AUTO reads the data as that format whatever it looks like.
 * `source` names the catalogue in each track's "source" field (made valid
 * UTF-8; NULL: "import"). On an error before writing (a catalogue refused
 * whole, an unknown mood) nothing is written.
 */
et_status et_library_import_data(et_store *s, const char *data, size_t len,
                                 et_catalog_format format, const char *source, const char *mood,
                                 et_import_report *report, char *err);
void et_import_report_free(et_import_report *r);

/* ---- scanning folders (scan.c) ---- */

typedef struct et_scan_failure {
    char *path;
    char *reason;
} et_scan_failure;

typedef struct et_scan_summary {
    size_t scanned;   /* audio files seen */
    size_t added, updated, unchanged, moved, missing, pruned, failed;
    double audio_seconds; /* decoded in this scan */
    double wall_seconds;
    bool cancelled;
    et_scan_failure *failures; /* owned: et_scan_summary_free */
} et_scan_summary;

/* How far a scan is, as its on_progress callback sees it. */
typedef struct et_scan_progress {
    size_t files;   /* regular files the walk found so far (audio or not) */
    size_t done;    /* of them, dealt with: unchanged, written, failed, not audio */
    bool walked;    /* the walk is over: files is the whole count */
    bool finished;  /* the last call: the scan returns next */
    const et_scan_summary *sum; /* the counts so far; valid during the call */
} et_scan_progress;

typedef struct et_scan_opts {
    int jobs;          /* analysis threads; 0 = number of cores */
    bool prune;        /* delete tracks whose file is gone (else: marked missing) */
    bool progress;     /* a live line on stderr */
    const volatile sig_atomic_t *cancel; /* Ctrl-C: stop soon, keep what is done */
    /* NULL, or called on the thread that called et_library_scan: every 256
     * files of the walk, once it is over, after each file dealt with, and
     * last with finished set (also after an error). The scan waits for it:
     * keep it short. */
    void (*on_progress)(void *user, const et_scan_progress *p);
    void *progress_user;
} et_scan_opts;

/*
 * Walks the folders (symbolic links followed once, loops detected), finds
 * audio by content, and brings the "tracks" collection up to date:
 * unchanged files (same path, size and modification time) are not decoded;
 * a moved file (same size and hash of its first and last megabyte) keeps
 * its id, history and mood tag; a vanished file is marked missing (or
 * deleted with prune). Decoding and analysis run on `jobs` threads; the store
 * is written from one thread, each track as soon as its file is analysed,
 * by an atomic read-modify-write (et_store_update) of only the fields the
 * scan owns (path, size, mtime, hash, tags, duration, codec, features, the
 * estimate, "missing"): a change made to the track meanwhile by another
 * process or server, such as the listener's mood (et_library_tag), is kept,
 * and "valence"/"arousal" are worked out again from the document as it is
 * then. A track found missing is marked (or pruned) only while its stored
 * path is still the one that vanished. Unreadable files are reported in the
 * summary and the scan goes on.
 * Test hook: when the environment variable EMOTUNE_TEST_SCAN_FIFO names a
 * path, the scan, after its walk and before it reads any file, opens that
 * path for reading and reads it to its end (an error opening it is ET_E_IO).
 * Made a FIFO by a test, this fixes an order no timing can: the test's open
 * of the FIFO for writing returns once the walk is over, and the scan goes
 * on when the test closes it. Unset (as it is outside tests), it costs one
 * getenv per scan. A second hook, EMOTUNE_TEST_SCAN_WRITE_FIFO, does the
 * same before each write of a track to the store (for an analysed file:
 * after it is read and its fields are built, before the store is touched):
 * a test can change a track exactly while the scan is about to write it.
 * Unset, it costs one getenv per track written.
 */
et_status et_library_scan(et_store *s, const char *const *dirs, size_t ndirs,
                          const et_scan_opts *opts, et_scan_summary *sum, char *err);
void et_scan_summary_free(et_scan_summary *sum);

/* Sets (or with mood NULL clears) the listener's own mood for a track; it
 * overrides the estimate and survives rescans; then bumps the library's
 * stamp (an error doing so is returned, the tag being set).
 * ET_E_NOT_FOUND, ET_E_INVALID. */
et_status et_library_tag(et_store *s, const char *track_id, const char *mood, char *err);

/* ---- the scanned folders, a track's file and its mood (roots.c, track_doc.c) ---- */

/*
 * The folders scans were ever given in this store, as real paths (absolute,
 * symbolic links resolved), in the order first scanned: et_library_scan
 * records its folders (in ET_LIBRARY_STATE, id "roots") before it walks them,
 * so a server serving the library's files can refuse any file that is not
 * under one of them. A store no scan has recorded its folders in (an older
 * emotune) gives none: scanning again records them. *roots is freed with
 * et_store_free_names (also when *n is 0). Errors: the store's, and
 * ET_E_CORRUPT for a document that is not a list of folders.
 */
et_status et_library_roots(et_store *s, char ***roots, size_t *n, char *err);

/* Whether path (a real path: absolute, without symbolic links, "." or "..")
 * is one of the folders roots[0..n) (real paths too) or lies below one. */
bool et_library_path_under(const char *path, char *const *roots, size_t n);

/* The path of a file track's document (its exact bytes, also when they are
 * not UTF-8) into buf; false for a link, or a path longer than len - 1. */
bool et_library_track_file(const json_t *doc, char *buf, size_t len);

/* A track's mood, as every interface shows and filters it. */
typedef struct et_library_mood {
    const char *name;        /* the listener's own mood for it (et_library_tag), else
                              * a link's catalogue label, each as the named-mood
                              * table's word ("neutral" gives "calm"); else the
                              * nearest named mood to its estimate. Static. */
    const char *source;      /* "tag", "catalogue" or "estimate". Static. */
    double valence, arousal; /* the point of that mood, or the estimate */
    bool tagged;             /* the listener's own */
    const char *group;       /* the nearest of the seven moods a face shows to the
                              * point (et_mood_nearest_named): what a mood filter
                              * compares, so "energetic" falls with "surprised" and
                              * a tagged "neutral" with "calm". Static. */
} et_library_mood;

/* The mood of a stored track document; false (and *out zeroed) when it has
 * none: no mood of its own and no valence/arousal. Thread-safe. */
bool et_library_track_mood(const json_t *doc, et_library_mood *out);

#endif

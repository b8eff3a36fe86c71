/* et_audio_cover: the picture a music file carries, as stored. libavformat
 * reads it while opening the file (ID3 APIC frames, FLAC and Vorbis comment
 * pictures, MP4 covr atoms) into the attached_pic packet of a picture stream. */
#include "audio/audio_internal.h"

#include <stdlib.h>
#include <string.h>

/* What libavformat's ID3v2 and FLAC readers call picture type 3. */
#define FRONT_COVER "Cover (front)"

/* The front cover's packet, else the first picture's; NULL when none. */
static const AVPacket *find_picture(const AVFormatContext *fmt)
{
    const AVPacket *first = NULL;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *s = fmt->streams[i];
        if (!(s->disposition & AV_DISPOSITION_ATTACHED_PIC) || s->attached_pic.size <= 0)
            continue;
        const AVDictionaryEntry *kind = av_dict_get(s->metadata, "comment", NULL, 0);
        if (kind && strcmp(kind->value, FRONT_COVER) == 0)
            return &s->attached_pic;
        if (!first)
            first = &s->attached_pic;
    }
    return first;
}

et_status et_audio_cover(int fd, const char *name, uint8_t **data, size_t *size, char *err)
{
    if (!data || !size)
        return et_fail(err, ET_E_INVALID, "et_audio_cover: no data or no size");
    *data = NULL;
    *size = 0;
    et__audio_source src = {.use_fd = true, .fd = fd, .name = name ? name : "the file"};
    et__audio_input in;
    et_status st = et__audio_open(&src, &in, err);
    if (st != ET_OK)
        return st;
    const AVPacket *pic = find_picture(in.fmt);
    if (!pic)
        st = et_fail(err, ET_E_NOT_FOUND, "%s: no embedded picture", src.name);
    else if ((size_t)pic->size > ET_AUDIO_MAX_COVER)
        st = et_fail(err, ET_E_TOO_LARGE, "%s: a picture of %d bytes (at most %zu)", src.name,
                     pic->size, ET_AUDIO_MAX_COVER);
    else if (!(*data = malloc((size_t)pic->size)))
        st = et_fail(err, ET_E_NOMEM, "%s: out of memory", src.name);
    if (st == ET_OK) {
        memcpy(*data, pic->data, (size_t)pic->size);
        *size = (size_t)pic->size;
    }
    et__audio_close(&in);
    return st;
}

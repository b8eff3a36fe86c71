/*
 * Opening an audio source: our own AVIOContext over a file descriptor or a
 * memory buffer, so that
 *   - the format is recognised by content alone: libavformat gets no file
 *     name, hence no extension bonus in its probe (a text file called x.mp3
 *     is a text file);
 *   - a path with a colon is never taken for a protocol ("a:b.mp3");
 *   - demuxers cannot open anything else: io_open is refused, so an HLS or
 *     concat playlist cannot make us read other files or the network;
 *   - the fuzz target reaches the same code through memory.
 */
#include "audio/audio_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>

enum { AVIO_BUFFER_SIZE = 32768 };

/* Below this probe score libavformat itself warns "misdetection possible"
 * (AVPROBE_SCORE_RETRY = 25); random bytes and text land there. Every real
 * file of tests/test_audio.c scores 50 (raw MP3/AAC frames with no
 * extension) or 100. */
enum { MIN_PROBE_SCORE = AVPROBE_SCORE_RETRY + 1 };

/* Demuxers that accept files which are not music even when they succeed:
 * playlists and references (they would open other files), metadata and
 * text formats. (Image sequences need a file name; with our AVIOContext the
 * probe never offers them.) */
static const char *const refused_demuxers[] = {
    "hls", "concat", "dash", "ffmetadata", "sdp", "tty", "mpjpeg",
};

/* --- AVIO callbacks ------------------------------------------------------- */

static int fd_read(void *opaque, uint8_t *buf, int size)
{
    et__audio_input *in = opaque;
    for (;;) {
        ssize_t n = read(in->fd, buf, (size_t)size);
        if (n > 0)
            return (int)n;
        if (n == 0)
            return AVERROR_EOF;
        if (errno != EINTR) {
            if (!in->io_errno)
                in->io_errno = errno;
            return AVERROR(errno);
        }
    }
}

static int64_t fd_seek(void *opaque, int64_t offset, int whence)
{
    et__audio_input *in = opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE)
        return in->size;
    off_t r = lseek(in->fd, (off_t)offset, whence);
    return r < 0 ? AVERROR(errno) : (int64_t)r;
}

static int mem_read(void *opaque, uint8_t *buf, int size)
{
    et__audio_input *in = opaque;
    if (in->pos >= in->size)
        return AVERROR_EOF;
    int64_t left = in->size - in->pos;
    int n = left < size ? (int)left : size;
    memcpy(buf, in->data + in->pos, (size_t)n);
    in->pos += n;
    return n;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    et__audio_input *in = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return in->size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = in->pos; break;
    case SEEK_END: base = in->size; break;
    default: return AVERROR(EINVAL);
    }
    if (offset > INT64_MAX - base || base + offset < 0)
        return AVERROR(EINVAL);
    in->pos = base + offset; /* past the end is allowed; reads then give EOF */
    return in->pos;
}

/* Installed as AVFormatContext.io_open: this module reads one file only. */
static int refuse_io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url,
                          int flags, AVDictionary **options)
{
    (void)s, (void)url, (void)flags, (void)options;
    *pb = NULL;
    return AVERROR(EPERM);
}

/* --- opening ----------------------------------------------------------------- */

static et_status open_fd(const et__audio_source *src, et__audio_input *in, char *err)
{
    in->fd = src->use_fd ? fcntl(src->fd, F_DUPFD_CLOEXEC, 0)
                         : open(src->path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0)
        return et_fail(err, ET_E_IO, "%s: %s", src->name, strerror(errno));
    struct stat st;
    if (fstat(in->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (src->use_fd && lseek(in->fd, 0, SEEK_SET) != 0)) {
        close(in->fd);
        in->fd = -1;
        return et_fail(err, ET_E_IO, "%s: not a regular file", src->name);
    }
    in->size = (int64_t)st.st_size;
    return ET_OK;
}

static et_status make_avio(et__audio_input *in, char *err)
{
    uint8_t *buf = av_malloc(AVIO_BUFFER_SIZE);
    if (!buf)
        return et_fail(err, ET_E_NOMEM, "%s: out of memory", in->name);
    bool mem = in->fd < 0;
    in->avio = avio_alloc_context(buf, AVIO_BUFFER_SIZE, 0, in, mem ? mem_read : fd_read,
                                  NULL, mem ? mem_seek : fd_seek);
    if (!in->avio) {
        av_free(buf);
        return et_fail(err, ET_E_NOMEM, "%s: out of memory", in->name);
    }
    return ET_OK;
}

static bool refused_demuxer(const char *name)
{
    for (size_t i = 0; i < sizeof refused_demuxers / sizeof *refused_demuxers; i++)
        if (strcmp(name, refused_demuxers[i]) == 0)
            return true;
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, "_pipe") == 0; /* png_pipe, jpeg_pipe, ... */
}

/* Which demuxer, by content; refuses low-confidence and non-music formats. */
static et_status probe_format(et__audio_input *in, const AVInputFormat **fmt, char *err)
{
    if (in->size == 0)
        return et_fail(err, ET_E_UNSUPPORTED, "%s: empty file, not audio", in->name);
    int score = av_probe_input_buffer2(in->avio, fmt, "", NULL, 0, 0);
    if (in->io_errno)
        return et_fail(err, ET_E_IO, "%s: %s", in->name, strerror(in->io_errno));
    if (score == AVERROR(ENOMEM))
        return et_fail(err, ET_E_NOMEM, "%s: out of memory", in->name);
    if (score < 0 || !*fmt)
        return et_fail(err, ET_E_UNSUPPORTED, "%s: not audio (format not recognised)",
                       in->name);
    if (score < MIN_PROBE_SCORE)
        return et_fail(err, ET_E_UNSUPPORTED,
                       "%s: not audio (looks like %s only with confidence %d/100)", in->name,
                       (*fmt)->name, score);
    if (refused_demuxer((*fmt)->name))
        return et_fail(err, ET_E_UNSUPPORTED, "%s: not audio (%s)", in->name, (*fmt)->name);
    in->probe_score = score;
    return ET_OK;
}

static et_status open_format(et__audio_input *in, const AVInputFormat *ifmt, char *err)
{
    AVFormatContext *fmt = avformat_alloc_context();
    if (!fmt)
        return et_fail(err, ET_E_NOMEM, "%s: out of memory", in->name);
    fmt->pb = in->avio;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    fmt->io_open = refuse_io_open;
    int ret = avformat_open_input(&fmt, "", ifmt, NULL); /* frees fmt on error */
    if (ret < 0) {
        if (in->io_errno)
            return et_fail(err, ET_E_IO, "%s: %s", in->name, strerror(in->io_errno));
        if (ret == AVERROR(ENOMEM))
            return et_fail(err, ET_E_NOMEM, "%s: out of memory", in->name);
        return et_fail(err, ET_E_CORRUPT, "%s: unreadable %s header (%s)", in->name,
                       ifmt->name,
                       ret == AVERROR(EIO) || ret == AVERROR_EOF ? "cut short" : av_err2str(ret));
    }
    in->fmt = fmt;
    /* An error here still leaves the streams the header described. */
    (void)avformat_find_stream_info(fmt, NULL);
    if (in->io_errno)
        return et_fail(err, ET_E_IO, "%s: %s", in->name, strerror(in->io_errno));
    return ET_OK;
}

/* The audio stream we decode: libavformat's best, with a decoder and sane
 * parameters. Other streams (cover pictures, video) are discarded. */
static et_status pick_stream(et__audio_input *in, char *err)
{
    const AVCodec *dec = NULL;
    int idx = av_find_best_stream(in->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &dec, 0);
    if (idx == AVERROR_DECODER_NOT_FOUND) {
        idx = av_find_best_stream(in->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
        enum AVCodecID id = idx >= 0 ? in->fmt->streams[idx]->codecpar->codec_id
                                     : AV_CODEC_ID_NONE;
        return et_fail(err, ET_E_UNSUPPORTED, "%s: no decoder for the %s audio", in->name,
                       avcodec_get_name(id));
    }
    if (idx < 0)
        return et_fail(err, ET_E_UNSUPPORTED, "%s: not audio (%s with no audio stream)",
                       in->name, in->fmt->iformat->name);
    const AVCodecParameters *par = in->fmt->streams[idx]->codecpar;
    int channels = par->ch_layout.nb_channels;
    if (par->sample_rate < ET__AUDIO_MIN_RATE || par->sample_rate > ET__AUDIO_MAX_RATE ||
        channels <= 0 || channels > ET__AUDIO_MAX_CHANNELS)
        return et_fail(err, ET_E_CORRUPT, "%s: implausible %s stream: %d Hz, %d channels",
                       in->name, avcodec_get_name(par->codec_id), par->sample_rate, channels);
    for (unsigned i = 0; i < in->fmt->nb_streams; i++)
        if ((int)i != idx)
            in->fmt->streams[i]->discard = AVDISCARD_ALL;
    in->stream = idx;
    return ET_OK;
}

et_status et__audio_open(const et__audio_source *src, et__audio_input *in, char *err)
{
    *in = (et__audio_input){.fd = -1, .stream = -1, .name = src->name};
    et_status st;
    if (src->path || src->use_fd) {
        if ((st = open_fd(src, in, err)) != ET_OK)
            return st;
    } else {
        in->data = src->data;
        in->size = (int64_t)src->size;
    }
    const AVInputFormat *ifmt = NULL;
    if ((st = make_avio(in, err)) != ET_OK || (st = probe_format(in, &ifmt, err)) != ET_OK ||
        (st = open_format(in, ifmt, err)) != ET_OK || (st = pick_stream(in, err)) != ET_OK) {
        et__audio_close(in);
        return st;
    }
    return ET_OK;
}

void et__audio_close(et__audio_input *in)
{
    avformat_close_input(&in->fmt); /* leaves our AVIOContext alone (custom IO) */
    if (in->avio) {
        av_freep(&in->avio->buffer); /* may have been replaced by libavformat */
        avio_context_free(&in->avio);
    }
    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
}

/* FFmpeg's log level is process-wide state, so only main sets it, once. */
#include <libavutil/log.h>

#include "audio/audio.h"

void et_audio_quiet_ffmpeg_logs(void) { av_log_set_level(AV_LOG_QUIET); }

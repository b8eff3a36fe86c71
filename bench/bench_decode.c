/* The decode floor: decoding and resampling every file to the analysis
 * format (mono float, 22050 Hz) in this one thread, no analysis -- what a
 * scan cannot go below on one core. Prints one JSON line.
 * usage: bench_decode FILE... */
#include <stdio.h>

#include "audio/audio.h"

int main(int argc, char **argv)
{
    et_audio_quiet_ffmpeg_logs();
    double audio = 0, t0 = et_now();
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        double secs;
        char err[ET_ERR_MAX];
        if (et_audio_decode_only(argv[i], &secs, err) == ET_OK)
            audio += secs;
        else
            failed++;
    }
    double wall = et_now() - t0;
    printf("{\"files\":%d,\"failed\":%d,\"audio_hours\":%.3f,\"seconds\":%.3f,\"x_realtime\":%.1f}\n",
           argc - 1, failed, audio / 3600, wall, wall > 0 ? audio / wall : 0);
    return 0;
}

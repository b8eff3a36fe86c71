/* dump_rgb IN_IMAGE OUT.ppm: decodes an image with emotune's decoder (default
 * limits, EXIF orientation applied) and writes its RGB pixels as a binary PPM,
 * so the JavaScript reference runs on exactly the pixels we analyse.
 * Exit status: 0 on success, 1 on any error (message on stderr), 2 on usage. */
#include <stdio.h>

#include "image/image.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: dump_rgb IN_IMAGE OUT.ppm\n");
        return 2;
    }
    et_image img = {0};
    char err[ET_ERR_MAX];
    et_status s = et_image_load(argv[1], NULL, &img, err);
    if (s == ET_OK)
        s = et_image_write_ppm(&img, argv[2], err);
    et_image_free(&img);
    if (s != ET_OK) {
        fprintf(stderr, "dump_rgb: %s\n", err);
        return 1;
    }
    return 0;
}

// libpng glue. The transformations requested here turn every PNG into 8-bit gray, gray+alpha, RGB
// or RGBA, which is what Pillow's modes for PNG reduce to before `convert_to_rgb`.
#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    int ran_out;
    vitrine_image_info *info;
} png_source;

static void read_from_memory(png_structp png, png_bytep out, size_t count) {
    png_source *source = (png_source *)png_get_io_ptr(png);
    if (count > source->size - source->position) {
        source->ran_out = 1;
        png_error(png, "unexpected end of PNG data");
    }
    memcpy(out, source->data + source->position, count);
    source->position += count;
}

// libpng's default error handler prints and longjmps; we only record the text, then longjmp to
// the point set in png_run (png_jmpbuf).
static void on_error(png_structp png, png_const_charp message) {
    png_source *source = (png_source *)png_get_error_ptr(png);
    snprintf(source->info->message, sizeof source->info->message, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static int png_run(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                   vitrine_image_info *info) {
    png_source source = {data, size, 0, 0, info};
    memset(info, 0, sizeof *info);

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, on_error, on_warning);
    if (!png) return VITRINE_CODEC_NO_MEMORY;
    png_infop png_info = png_create_info_struct(png);
    if (!png_info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return VITRINE_CODEC_NO_MEMORY;
    }
    // Only the two libpng structs need releasing after a longjmp; nothing else is allocated here.
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &png_info, NULL);
        return source.ran_out ? VITRINE_CODEC_TRUNCATED : VITRINE_CODEC_CORRUPT;
    }
    png_set_read_fn(png, &source, read_from_memory);
    png_read_info(png, png_info);

    int bit_depth = png_get_bit_depth(png, png_info);
    int color_type = png_get_color_type(png, png_info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    // A tRNS chunk (per-index alpha for palettes, one transparent colour otherwise) becomes an
    // alpha channel, as Pillow's convert("RGBA") does with info["transparency"].
    if (png_get_valid(png, png_info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16) png_set_strip_16(png);  // keeps the high byte (Pillow: high byte for RGB(A))
    // Interlaced images are read in passes, every pass touching every row of `out`.
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, png_info);

    info->width = png_get_image_width(png, png_info);
    info->height = png_get_image_height(png, png_info);
    info->channels = png_get_channels(png, png_info);
    switch (png_get_color_type(png, png_info)) {
        case PNG_COLOR_TYPE_GRAY: info->layout = VITRINE_LAYOUT_GRAY; break;
        case PNG_COLOR_TYPE_GRAY_ALPHA: info->layout = VITRINE_LAYOUT_GRAY_ALPHA; break;
        case PNG_COLOR_TYPE_RGB: info->layout = VITRINE_LAYOUT_RGB; break;
        case PNG_COLOR_TYPE_RGB_ALPHA: info->layout = VITRINE_LAYOUT_RGBA; break;
        default:
            png_destroy_read_struct(&png, &png_info, NULL);
            return VITRINE_CODEC_UNSUPPORTED;
    }
    if (png_get_bit_depth(png, png_info) != 8 || info->channels != info->layout) {
        png_destroy_read_struct(&png, &png_info, NULL);
        return VITRINE_CODEC_UNSUPPORTED;
    }
    if (out == NULL) {
        png_destroy_read_struct(&png, &png_info, NULL);
        return VITRINE_CODEC_OK;
    }

    size_t row_bytes = (size_t)info->width * (size_t)info->channels;
    if (png_get_rowbytes(png, png_info) != row_bytes ||
        (info->height != 0 && row_bytes > out_size / info->height)) {
        png_destroy_read_struct(&png, &png_info, NULL);
        return VITRINE_CODEC_BAD_BUFFER;
    }
    for (int pass = 0; pass < passes; pass++) {
        for (uint32_t y = 0; y < info->height; y++) {
            png_read_row(png, out + (size_t)y * row_bytes, NULL);
        }
    }
    png_destroy_read_struct(&png, &png_info, NULL);
    return VITRINE_CODEC_OK;
}

int vitrine_png_read_info(const uint8_t *data, size_t size, vitrine_image_info *info) {
    return png_run(data, size, NULL, 0, info);
}

int vitrine_png_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                       vitrine_image_info *info) {
    if (out == NULL) return VITRINE_CODEC_BAD_BUFFER;
    return png_run(data, size, out, out_size, info);
}

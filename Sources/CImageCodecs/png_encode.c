// libpng encoder glue: writes into a growing malloc'd buffer; errors longjmp back here and come
// out as status codes, never into Swift.
#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int out_of_memory;
    char *message;
    size_t message_size;
} png_sink;

static void write_to_memory(png_structp png, png_bytep bytes, size_t count) {
    png_sink *sink = (png_sink *)png_get_io_ptr(png);
    if (count > sink->capacity - sink->size) {
        size_t capacity = sink->capacity ? sink->capacity : 1024;
        while (count > capacity - sink->size) {
            if (capacity > SIZE_MAX / 2) {
                sink->out_of_memory = 1;
                png_error(png, "PNG output too large");
            }
            capacity *= 2;
        }
        uint8_t *grown = realloc(sink->data, capacity);
        if (!grown) {
            sink->out_of_memory = 1;
            png_error(png, "out of memory");
        }
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->size, bytes, count);
    sink->size += count;
}

static void flush_memory(png_structp png) { (void)png; }

static void on_encode_error(png_structp png, png_const_charp message) {
    png_sink *sink = (png_sink *)png_get_error_ptr(png);
    if (sink->message && sink->message_size) snprintf(sink->message, sink->message_size, "%s", message);
    png_longjmp(png, 1);
}

static void on_encode_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

int vitrine_png_encode(const uint8_t *pixels, size_t pixels_size, uint32_t width, uint32_t height,
                       int32_t layout, uint8_t **out, size_t *out_size, char *message,
                       size_t message_size) {
    if (message && message_size) message[0] = 0;
    if (!out || !out_size || !pixels) return VITRINE_CODEC_BAD_BUFFER;
    *out = NULL;
    *out_size = 0;
    int color_type;
    size_t channels;
    switch (layout) {
        case VITRINE_LAYOUT_GRAY: color_type = PNG_COLOR_TYPE_GRAY; channels = 1; break;
        case VITRINE_LAYOUT_GRAY_ALPHA: color_type = PNG_COLOR_TYPE_GRAY_ALPHA; channels = 2; break;
        case VITRINE_LAYOUT_RGB: color_type = PNG_COLOR_TYPE_RGB; channels = 3; break;
        case VITRINE_LAYOUT_RGBA: color_type = PNG_COLOR_TYPE_RGB_ALPHA; channels = 4; break;
        default: return VITRINE_CODEC_BAD_BUFFER;
    }
    if (width == 0 || height == 0) return VITRINE_CODEC_BAD_BUFFER;
    size_t row_bytes = (size_t)width * channels;
    if (row_bytes / channels != width || pixels_size / row_bytes < height) return VITRINE_CODEC_BAD_BUFFER;

    // On the heap, not a local: locals changed between setjmp and longjmp are indeterminate after it.
    png_sink *sink = calloc(1, sizeof *sink);
    if (!sink) return VITRINE_CODEC_NO_MEMORY;
    sink->message = message;
    sink->message_size = message_size;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, sink, on_encode_error, on_encode_warning);
    if (!png) {
        free(sink);
        return VITRINE_CODEC_NO_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        free(sink);
        return VITRINE_CODEC_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        int status = sink->out_of_memory ? VITRINE_CODEC_NO_MEMORY : VITRINE_CODEC_CORRUPT;
        free(sink->data);
        free(sink);
        return status;
    }
    png_set_write_fn(png, sink, write_to_memory, flush_memory);
    png_set_IHDR(png, info, width, height, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * row_bytes));
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = sink->data;
    *out_size = sink->size;
    free(sink);
    return VITRINE_CODEC_OK;
}

void vitrine_png_free(uint8_t *data) { free(data); }

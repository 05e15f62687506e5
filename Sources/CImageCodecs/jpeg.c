// libjpeg-turbo glue. Decoding uses the library defaults (islow IDCT, fancy upsampling), the
// settings Pillow decodes with, so the samples match Pillow's byte for byte.
#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>  // jpeglib.h uses FILE without including it
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;  // first member: libjpeg hands us a pointer to it
    jmp_buf escape;
    int reached_eof;
    vitrine_image_info *info;
} jpeg_guard;

static void record_message(j_common_ptr cinfo) {
    jpeg_guard *guard = (jpeg_guard *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(guard->info->message, sizeof guard->info->message, "%s", text);
}

// libjpeg's default error_exit calls exit(); we return to the setjmp point instead.
static void on_fatal_error(j_common_ptr cinfo) {
    record_message(cinfo);
    longjmp(((jpeg_guard *)cinfo->err)->escape, 1);
}

// Warnings are level -1. Running out of data is only a warning to libjpeg (it pads with gray);
// Pillow refuses such files, so we remember it and fail after decoding.
static void on_message(j_common_ptr cinfo, int level) {
    jpeg_guard *guard = (jpeg_guard *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            guard->reached_eof = 1;
            record_message(cinfo);
        }
        cinfo->err->num_warnings++;
    }
}

static int status_for_error(const jpeg_guard *guard) {
    if (guard->reached_eof) return VITRINE_CODEC_TRUNCATED;
    switch (guard->base.msg_code) {
        case JERR_OUT_OF_MEMORY: return VITRINE_CODEC_NO_MEMORY;
        case JERR_BAD_PRECISION:
        case JERR_CONVERSION_NOTIMPL:
        case JERR_NOT_COMPILED:
        case JERR_ARITH_NOTIMPL: return VITRINE_CODEC_UNSUPPORTED;
        default: return VITRINE_CODEC_CORRUPT;
    }
}

// Reads the header and chooses the output colour space the way Pillow maps component counts to
// modes: 1 → L, 3 → RGB, 4 → CMYK (kept as libjpeg delivers it; the caller applies Adobe's
// inversion and the CMYK→RGB formula).
static int read_header(struct jpeg_decompress_struct *cinfo, vitrine_image_info *info) {
    if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) return VITRINE_CODEC_CORRUPT;
    if (cinfo->data_precision != 8) return VITRINE_CODEC_UNSUPPORTED;
    switch (cinfo->num_components) {
        case 1:
            cinfo->out_color_space = JCS_GRAYSCALE;
            info->layout = VITRINE_LAYOUT_GRAY;
            info->channels = 1;
            break;
        case 3:
            cinfo->out_color_space = JCS_RGB;
            info->layout = VITRINE_LAYOUT_RGB;
            info->channels = 3;
            break;
        case 4:
            cinfo->out_color_space = JCS_CMYK;
            info->layout = VITRINE_LAYOUT_CMYK;
            info->channels = 4;
            break;
        default:
            return VITRINE_CODEC_UNSUPPORTED;
    }
    info->width = cinfo->image_width;
    info->height = cinfo->image_height;
    return VITRINE_CODEC_OK;
}

// One function for both steps: with `out == NULL` it stops after the header.
static int jpeg_run(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                    vitrine_image_info *info) {
    struct jpeg_decompress_struct cinfo;
    jpeg_guard guard;
    memset(info, 0, sizeof *info);
    memset(&guard, 0, sizeof guard);
    guard.info = info;

    cinfo.err = jpeg_std_error(&guard.base);
    guard.base.error_exit = on_fatal_error;
    guard.base.emit_message = on_message;
    if (setjmp(guard.escape)) {
        int status = status_for_error(&guard);
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);

    int status = read_header(&cinfo, info);
    if (status != VITRINE_CODEC_OK || out == NULL) {
        if (status == VITRINE_CODEC_OK && guard.reached_eof) status = VITRINE_CODEC_TRUNCATED;
        jpeg_destroy_decompress(&cinfo);
        return status;
    }

    size_t row_bytes = (size_t)info->width * (size_t)info->channels;
    if (info->height != 0 && row_bytes > out_size / info->height) {
        jpeg_destroy_decompress(&cinfo);
        return VITRINE_CODEC_BAD_BUFFER;
    }
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_width != info->width || cinfo.output_height != info->height ||
        cinfo.output_components != info->channels) {
        jpeg_destroy_decompress(&cinfo);
        return VITRINE_CODEC_BAD_BUFFER;
    }
    while (cinfo.output_scanline < cinfo.output_height && !guard.reached_eof) {
        JSAMPROW row = out + (size_t)cinfo.output_scanline * row_bytes;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (!guard.reached_eof) jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return guard.reached_eof ? VITRINE_CODEC_TRUNCATED : VITRINE_CODEC_OK;
}

int vitrine_jpeg_read_info(const uint8_t *data, size_t size, vitrine_image_info *info) {
    return jpeg_run(data, size, NULL, 0, info);
}

int vitrine_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                        vitrine_image_info *info) {
    if (out == NULL) return VITRINE_CODEC_BAD_BUFFER;
    return jpeg_run(data, size, out, out_size, info);
}

// libwebp glue: still images only, decoded straight into the caller's buffer.
#include "CImageCodecs.h"

#include <stdio.h>
#include <string.h>

#include <webp/decode.h>

static int status_for(VP8StatusCode code, vitrine_image_info *info) {
    switch (code) {
        case VP8_STATUS_OK: return VITRINE_CODEC_OK;
        case VP8_STATUS_NOT_ENOUGH_DATA:
            snprintf(info->message, sizeof info->message, "not enough data");
            return VITRINE_CODEC_TRUNCATED;
        case VP8_STATUS_OUT_OF_MEMORY:
            snprintf(info->message, sizeof info->message, "out of memory");
            return VITRINE_CODEC_NO_MEMORY;
        case VP8_STATUS_UNSUPPORTED_FEATURE:
            snprintf(info->message, sizeof info->message, "unsupported feature");
            return VITRINE_CODEC_UNSUPPORTED;
        default:
            snprintf(info->message, sizeof info->message, "bitstream error (VP8 status %d)", (int)code);
            return VITRINE_CODEC_CORRUPT;
    }
}

static int read_features(const uint8_t *data, size_t size, WebPBitstreamFeatures *features,
                         vitrine_image_info *info) {
    memset(info, 0, sizeof *info);
    int status = status_for(WebPGetFeatures(data, size, features), info);
    if (status != VITRINE_CODEC_OK) return status;
    if (features->has_animation) {
        snprintf(info->message, sizeof info->message, "animated WebP");
        return VITRINE_CODEC_UNSUPPORTED;
    }
    if (features->width <= 0 || features->height <= 0) return VITRINE_CODEC_CORRUPT;
    info->width = (uint32_t)features->width;
    info->height = (uint32_t)features->height;
    info->layout = features->has_alpha ? VITRINE_LAYOUT_RGBA : VITRINE_LAYOUT_RGB;
    info->channels = features->has_alpha ? 4 : 3;
    return VITRINE_CODEC_OK;
}

int vitrine_webp_read_info(const uint8_t *data, size_t size, vitrine_image_info *info) {
    WebPBitstreamFeatures features;
    return read_features(data, size, &features, info);
}

int vitrine_webp_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                        vitrine_image_info *info) {
    if (out == NULL) return VITRINE_CODEC_BAD_BUFFER;
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return VITRINE_CODEC_UNSUPPORTED;
    int status = read_features(data, size, &config.input, info);
    if (status != VITRINE_CODEC_OK) return status;

    size_t stride = (size_t)info->width * (size_t)info->channels;
    if (stride > out_size / info->height || stride > (size_t)INT32_MAX) return VITRINE_CODEC_BAD_BUFFER;
    config.output.colorspace = info->channels == 4 ? MODE_RGBA : MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = out;
    config.output.u.RGBA.stride = (int)stride;
    config.output.u.RGBA.size = stride * info->height;
    status = status_for(WebPDecode(data, size, &config), info);
    WebPFreeDecBuffer(&config.output);  // frees nothing external; releases internal state
    return status;
}

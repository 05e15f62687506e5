#ifndef VITRINE_CIMAGECODECS_H
#define VITRINE_CIMAGECODECS_H
// C shims over libjpeg-turbo, libpng and libwebp. libjpeg and libpng report errors by longjmp,
// which Swift cannot catch, so each decoder is wrapped here and returns a status code instead.
//
// Every codec is used in two steps: `*_read_info` parses only the header (dimensions and the
// layout of the samples the decoder will produce), so the caller can refuse oversized images and
// allocate the output itself; `*_decode` then parses the file again and writes exactly
// `width * height * channels` bytes, row-major, no padding. No call keeps state between the two.

#include <stddef.h>
#include <stdint.h>

typedef enum {
    VITRINE_CODEC_OK = 0,
    /// The data is not a valid file of this format (bad marker, bad CRC, impossible values).
    VITRINE_CODEC_CORRUPT = 1,
    /// The data ends before the image does.
    VITRINE_CODEC_TRUNCATED = 2,
    /// A valid file using a feature this shim does not decode (e.g. animated WebP, 12-bit JPEG).
    VITRINE_CODEC_UNSUPPORTED = 3,
    /// The library could not allocate memory.
    VITRINE_CODEC_NO_MEMORY = 4,
    /// The caller's buffer does not match the header (the file changed between the two calls).
    VITRINE_CODEC_BAD_BUFFER = 5,
} vitrine_codec_status;

/// The sample layout a decoder writes.
typedef enum {
    VITRINE_LAYOUT_GRAY = 1,        ///< 1 byte per pixel
    VITRINE_LAYOUT_GRAY_ALPHA = 2,  ///< gray, alpha (straight, not premultiplied)
    VITRINE_LAYOUT_RGB = 3,
    VITRINE_LAYOUT_RGBA = 4,        ///< straight alpha
    VITRINE_LAYOUT_CMYK = 5,        ///< 4 bytes as libjpeg outputs them (Adobe files: inverted)
} vitrine_layout;

typedef struct {
    uint32_t width;
    uint32_t height;
    /// A `vitrine_layout` value.
    int32_t layout;
    /// Bytes per pixel of `layout` (1, 2, 3 or 4).
    int32_t channels;
    /// The library's own description of the last error, NUL-terminated (may be empty).
    char message[160];
} vitrine_image_info;

int vitrine_jpeg_read_info(const uint8_t *data, size_t size, vitrine_image_info *info);
int vitrine_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                        vitrine_image_info *info);

/// 16-bit samples are reduced to their high byte; palettes and tRNS are expanded to RGB(A) or
/// gray+alpha; gray below 8 bits is scaled to 0...255.
int vitrine_png_read_info(const uint8_t *data, size_t size, vitrine_image_info *info);
int vitrine_png_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                       vitrine_image_info *info);

/// Encodes 8-bit samples (`layout` GRAY, GRAY_ALPHA, RGB or RGBA; rows of `width * channels`
/// bytes, no padding) as a non-interlaced PNG. On VITRINE_CODEC_OK, `*out` holds `*out_size`
/// bytes allocated with malloc that the caller releases with `vitrine_png_free`. Returns
/// VITRINE_CODEC_BAD_BUFFER for a bad layout, zero size or a short `pixels` buffer.
int vitrine_png_encode(const uint8_t *pixels, size_t pixels_size, uint32_t width, uint32_t height,
                       int32_t layout, uint8_t **out, size_t *out_size, char *message,
                       size_t message_size);
void vitrine_png_free(uint8_t *data);

/// Still images only (lossy, lossless, with or without alpha); animations are unsupported.
int vitrine_webp_read_info(const uint8_t *data, size_t size, vitrine_image_info *info);
int vitrine_webp_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                        vitrine_image_info *info);

#endif

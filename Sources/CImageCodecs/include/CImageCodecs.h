#ifndef VITRINE_CIMAGECODECS_H
#define VITRINE_CIMAGECODECS_H
// C shims over libjpeg-turbo, libpng and libwebp. libjpeg and libpng report errors by longjmp,
// which Swift cannot catch, so each decoder is wrapped here and returns a status code instead.
int vitrine_codecs_placeholder(void);
#endif

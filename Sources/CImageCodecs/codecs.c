#include "CImageCodecs.h"
int vitrine_codecs_placeholder(void) { return 0; }

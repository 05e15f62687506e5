// VitrineImage: decoding, RGB conversion, Pillow-exact resize, crop and normalize.

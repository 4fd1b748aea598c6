/* fuzz/fuzz_decode_vorbis.c - libFuzzer target: arbitrary bytes as a VORBIS stream, split into arbitrary tasks. */
#define FUZZ_CODEC VD_ACCEL_CODEC_VORBIS
#include "fuzz_decode.h"

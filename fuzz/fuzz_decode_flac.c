/* fuzz/fuzz_decode_flac.c - libFuzzer target: arbitrary bytes as a FLAC stream, split into arbitrary tasks. */
#define FUZZ_CODEC VD_ACCEL_CODEC_FLAC
#include "fuzz_decode.h"

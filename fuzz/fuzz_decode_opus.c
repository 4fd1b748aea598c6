/* fuzz/fuzz_decode_opus.c - libFuzzer target: arbitrary bytes as a OPUS stream, split into arbitrary tasks. */
#define FUZZ_CODEC VD_ACCEL_CODEC_OPUS
#include "fuzz_decode.h"

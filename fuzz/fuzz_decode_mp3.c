/* fuzz/fuzz_decode_mp3.c - libFuzzer target: arbitrary bytes as a MP3 stream, split into arbitrary tasks. */
#define FUZZ_CODEC VD_ACCEL_CODEC_MP3
#include "fuzz_decode.h"

/* endpoint/common.c - helpers shared by the endpoint nodes: path resolution, digital silence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint/endpoint.h"

char *vd_endpoint_resolve_path(const char *base_dir, const char *path)
{
	char *full;

	if (path[0] == '/' || !base_dir || !base_dir[0])
		return strdup(path);
	if (asprintf(&full, "%s%s%s", base_dir,
		     base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", path) < 0)
		return NULL;
	return full;
}

void vd_endpoint_fill_silence(enum vd_sample_format fmt, void *dst, size_t n)
{
	switch (fmt) {
	case VD_FORMAT_U8:
		memset(dst, 0x80, n);
		break;
	case VD_FORMAT_MULAW:
		/* 0xff is mu-law's +0. */
		memset(dst, 0xff, n);
		break;
	case VD_FORMAT_ALAW:
		/* A-law has no zero; 0xd5 is the smallest positive step, the usual idle code. */
		memset(dst, 0xd5, n);
		break;
	default:
		/* All-zero bytes are 0 in every other format, 0.0 included. */
		memset(dst, 0, n * vd_format_sample_size(fmt));
		break;
	}
}

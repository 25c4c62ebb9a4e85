/*
 * err.c - names for the library error codes of err.h.
 */
#include "util/err.h"

const char *
ptt_strerror(int err)
{
	static const char *const names[] = {
		"success", "malformed input", "size limit reached",
		"number out of range", "not found", "system call failed",
		"TLS failure", "more input needed", "protocol violation",
		"timed out", "nesting too deep", "not permitted",
		"already exists", "cryptographic failure", "temporary failure",
	};

	if (err > 0 || err <= PTT_ELAST)
		return "unknown error";
	return names[-err];
}

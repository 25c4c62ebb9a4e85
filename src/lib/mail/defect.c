/*
 * defect.c - names of the MAIL_D_* defect bits, for logs and
 * Authentication-Results comments.
 */
#include "mail/defect.h"

const char *
mail_defect_name(unsigned bit)
{
	static const char *const names[] = {
		"lf-only", "bare-cr", "no-separator", "bad-line",
		"obs-wsp-colon", "long-line", "8bit-header", "nul",
		"b64-garbage", "b64-truncated", "qp-bad-escape", "charset",
		"encoded-word", "bad-content-type", "bad-cte", "bad-param",
		"no-boundary", "no-close-delimiter", "depth", "limit",
		"bad-address",
	};
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (bit == 1u << i)
			return names[i];
	return "unknown";
}

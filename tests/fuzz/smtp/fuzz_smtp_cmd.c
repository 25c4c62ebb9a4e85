/*
 * fuzz_smtp_cmd.c - libFuzzer harness for the SMTP command-line parser
 * (smtp/proto.h): smtp_cmd_parse with an extension mask taken from the
 * first byte, then the path, xtext and SASL decoders on the same bytes.
 * Checks the parser's promises: bounded, NUL-terminated fields, lengths
 * within RFC 5321 4.5.3.1, and a reply for every status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/proto.h"
#include "smtp/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd cmd;
	struct smtp_path path;
	struct sasl sasl;
	enum smtp_status st;
	unsigned ext;
	char out[600];
	unsigned char bin[600];

	if (size == 0)
		return 0;
	ext = data[0] & 1 ? SMTP_EXT_ALL : (unsigned)data[0] << 2;
	data++;
	size--;

	st = smtp_cmd_parse((const char *)data, size, ext, &cmd);
	if (smtp_status_reply(st)->code < 200)
		abort();
	if (st == SMTP_ST_OK) {
		if (strlen(cmd.path.addr) > SMTP_MAX_PATH ||
		    strlen(cmd.path.local) > SMTP_MAX_LOCAL ||
		    strlen(cmd.path.domain) > SMTP_MAX_DOMAIN ||
		    strlen(cmd.helo) > SMTP_MAX_DOMAIN ||
		    strlen(cmd.mail.envid) > SMTP_MAX_ENVID)
			abort();
		if (cmd.verb == SMTP_V_MAIL && cmd.path.utf8 && !cmd.mail.smtputf8)
			abort();
		if (cmd.auth_ir != NULL &&
		    (cmd.auth_ir < (const char *)data ||
		    cmd.auth_ir + cmd.auth_irlen > (const char *)data + size))
			abort();
		if (cmd.verb == SMTP_V_AUTH) {
			enum sasl_mech m = sasl_mech_by_name(cmd.auth_mech);
			if (sasl_start(&sasl, m, cmd.auth_ir, cmd.auth_irlen) == SASL_CONTINUE)
				sasl_step(&sasl, (const char *)data, size);
			sasl_clear(&sasl);
		}
	}
	if (smtp_path_parse((const char *)data, size, true, true, &path) == SMTP_ST_OK) {
		if (!path.null && !path.postmaster && strchr(path.addr, '@') == NULL)
			abort();
		size_t i, n = strlen(path.addr);
		if (!smtp_utf8_valid((const uint8_t *)path.addr, n))
			abort();
		for (i = 0; i < n && !path.utf8; i++)
			if ((unsigned char)path.addr[i] >= 0x80)
				abort();
	}
	if (smtp_xtext_decode((const char *)data, size, out, sizeof(out)) >= (long)sizeof(out))
		abort();
	if (sasl_b64_decode((const char *)data, size, bin, sizeof(bin)) > (long)sizeof(bin))
		abort();
	return 0;
}

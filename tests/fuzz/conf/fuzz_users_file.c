/*
 * fuzz_users_file.c - libFuzzer harness for the users-file parser
 * (conf/users.h): any bytes must parse or fail cleanly; what parses must
 * format and parse back to the same user, and passwd's rewrite of its
 * password line must keep it valid. Also drives addr_valid() and
 * users_login_name().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/users.h"

#define NEW_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" \
	"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
strv_eq(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct user u, back;
	char err[256], *text;

	char login[USER_NAME_MAX + 1];

	(void)addr_valid((const char *)data, size);
	if (users_login_name((const char *)data, size, "example.org", login) == 0 &&
	    !user_name_valid(login))
		abort();
	if (user_parse(&u, "fuzz", (const char *)data, size, err, sizeof(err)) != 0)
		return 0;
	if (u.n_forward == 0 || u.password == NULL)
		abort();
	text = user_format(&u);
	if (user_parse(&back, "fuzz", text, strlen(text), err, sizeof(err)) != 0)
		abort();
	if (strcmp(u.password, back.password) != 0 ||
	    !strv_eq(u.forward, u.n_forward, back.forward, back.n_forward) ||
	    !strv_eq(u.send_as, u.n_send_as, back.send_as, back.n_send_as) ||
	    u.require_tls != back.require_tls)
		abort();
	user_free(&back);
	free(text);
	/* passwd's rewrite keeps the file valid and sets the new hash */
	text = user_text_set_password((const char *)data, size, NEW_HASH);
	if (text == NULL)
		abort();
	if (user_parse(&back, "fuzz", text, strlen(text), err, sizeof(err)) != 0 ||
	    strcmp(back.password, NEW_HASH) != 0 ||
	    !strv_eq(u.forward, u.n_forward, back.forward, back.n_forward))
		abort();
	user_free(&back);
	user_free(&u);
	free(text);
	return 0;
}

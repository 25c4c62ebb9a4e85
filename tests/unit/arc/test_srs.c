/*
 * test_srs.c - SRS rewriting: PostSRSd's own test vector (secret
 * "tops3cr3t", 2020-01-01 00:01 UTC), round trips through SRS0 and SRS1,
 * expiry at the 21-day default and across the 1024-day wrap, forgery,
 * case folding by mailers, key rotation, SHA-256, malformed input.
 */
#include <stdio.h>
#include <string.h>

#include "auth/srs.h"
#include "util/mem.h"
#include "../tap.h"

#define T0 1577836860	/* 2020-01-01 00:01:00 UTC: PostSRSd's test time */
#define DAY 86400

static const struct srs_secret sec[] = { { "tops3cr3t", 9 } };
static const struct srs_secret other[] = { { "another", 7 } };
static const struct srs_secret rotated[] = { { "new-key", 7 }, { "tops3cr3t", 9 } };

static void
upcase(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 32);
}

static void
lowcase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

int
main(void)
{
	struct srs s = { sec, 1, SRS_HMAC_SHA1, 0, 0, 0 };
	struct srs s2 = { other, 1, SRS_HMAC_SHA1, 0, 0, 0 };
	struct srs rot = { rotated, 2, SRS_HMAC_SHA1, 0, 0, 0 };
	struct srs s256 = { sec, 1, SRS_HMAC_SHA256, 8, 30, '+' };
	char out[512], back[512], srs1[512], again[512];
	int r;

	/* PostSRSd's tests/unit/test_srs2.c vector. */
	r = srs_forward(&s, "test@otherdomain.com", "example.com", T0, out, sizeof(out));
	is_int(r, 0, "forward");
	is_str(out, "SRS0=vmyz=2W=otherdomain.com=test@example.com", "PostSRSd's vector");
	r = srs_reverse(&s, "SRS0=vmyz=2W=otherdomain.com=test@example.com", T0, back, sizeof(back));
	is_int(r, 0, "reverse PostSRSd's vector");
	is_str(back, "test@otherdomain.com", "gives the original address");
	r = srs_forward(&s, "test@example.com", "example.com", T0, out, sizeof(out));
	is_str(out, "test@example.com", "an address of the forwarding domain is left alone");
	r = srs_forward(&s, "test@EXAMPLE.com", "example.com", T0, out, sizeof(out));
	is_str(out, "test@EXAMPLE.com", "domain compared without case");
	is_int(srs_forward(&s, "foo", "example.com", T0, out, sizeof(out)), SRS_ENOAT, "no @");
	is_int(srs_forward(&s, "@x.example", "example.com", T0, out, sizeof(out)), SRS_ENOAT, "empty local part");
	is_int(srs_forward(&s, "a@", "example.com", T0, out, sizeof(out)), SRS_ENOAT, "empty domain");
	is_int(srs_reverse(&s, "test@example.com", T0, out, sizeof(out)), SRS_ENOTSRS, "not SRS");
	is_int(srs_reverse(&s, "SRS2=x=y@example.com", T0, out, sizeof(out)), SRS_ENOTSRS, "SRS2 is not SRS");
	is_int(srs_reverse(&s, "SRS0xvmyz=2W=d=l@example.com", T0, out, sizeof(out)), SRS_ENOTSRS, "bad separator");

	/* Round trip and case folding. */
	r = srs_forward(&s, "Alice.Smith@Sender.example", "fwd.example", T0 + 5 * DAY, out, sizeof(out));
	is_int(r, 0, "forward %s", out);
	ok(srs_is_srs(out), "srs_is_srs");
	ok(!srs_is_srs("alice@example.org") && !srs_is_srs("SRS0@x"), "srs_is_srs on others");
	r = srs_reverse(&s, out, T0 + 6 * DAY, back, sizeof(back));
	is_int(r, 0, "reverse a day later");
	is_str(back, "Alice.Smith@Sender.example", "case of the original kept");
	ptt_strlcpy(again, out, sizeof(again));
	upcase(again);
	r = srs_reverse(&s, again, T0 + 6 * DAY, back, sizeof(back));
	is_int(r, 0, "reverse after a mailer uppercased it: %s", again);
	lowcase(again);
	r = srs_reverse(&s, again, T0 + 6 * DAY, back, sizeof(back));
	is_int(r, 0, "reverse after a mailer lowercased it: %s", again);
	is_str(back, "alice.smith@sender.example", "gives the lowercased original");

	/* Expiry: 21 days by default, across the wrap of 1024 days too. */
	is_int(srs_reverse(&s, out, T0 + 26 * DAY, back, sizeof(back)), 0, "21 days old: accepted");
	is_int(srs_reverse(&s, out, T0 + 27 * DAY, back, sizeof(back)), SRS_EEXPIRED, "22 days old: expired");
	is_int(srs_reverse(&s, out, T0 + 4 * DAY, back, sizeof(back)), SRS_EEXPIRED, "from the future: refused");
	{
		time_t wrap = ((time_t)1024 * 60 + 1023) * DAY;	/* day 1023 of a cycle */
		char w[512];
		srs_forward(&s, "a@b.example", "fwd.example", wrap, w, sizeof(w));
		ok(strstr(w, "=77=") != NULL, "day 1023 is 77: %s", w);
		is_int(srs_reverse(&s, w, wrap + 3 * DAY, back, sizeof(back)), 0, "valid across the 1024-day wrap");
	}

	/* Forgery. */
	is_int(srs_reverse(&s2, out, T0 + 6 * DAY, back, sizeof(back)), SRS_EFORGED, "another secret: forged");
	ptt_strlcpy(again, out, sizeof(again));
	again[15] = again[15] == 'x' ? 'y' : 'x';	/* inside the domain */
	is_int(srs_reverse(&s, again, T0 + 6 * DAY, back, sizeof(back)), SRS_EFORGED, "altered domain: forged");
	{
		char f[512];
		snprintf(f, sizeof(f), "SRS0=%s", out + 10);	/* drop the hash */
		r = srs_reverse(&s, f, T0 + 6 * DAY, back, sizeof(back));
		ok(r == SRS_EFORGED || r == SRS_ESYNTAX, "hash removed: %s (%s)", srs_strerror(r), f);
	}
	is_int(srs_reverse(&s, "SRS0=vmy=2W=otherdomain.com=test@example.com", T0, back, sizeof(back)),
	    SRS_EFORGED, "short hash");
	is_int(srs_reverse(&s, "SRS0=vmyz=2X=otherdomain.com=test@example.com", T0, back, sizeof(back)),
	    SRS_EFORGED, "timestamp changed: forged");
	is_int(srs_reverse(&rot, out, T0 + 6 * DAY, back, sizeof(back)), 0, "old secret still verifies after rotation");

	/* Malformed. */
	is_int(srs_reverse(&s, "SRS0=vmyz=2W=otherdomain.com@example.com", T0, back, sizeof(back)),
	    SRS_ESYNTAX, "no local part");
	is_int(srs_reverse(&s, "SRS0=vmyz=2W@example.com", T0, back, sizeof(back)), SRS_ESYNTAX, "truncated");
	is_int(srs_reverse(&s, "SRS0==2W=d=l@example.com", T0, back, sizeof(back)), SRS_ESYNTAX, "empty hash");
	is_int(srs_reverse(&s, "SRS0=vmyz=2WW=d=l@example.com", T0, back, sizeof(back)), SRS_ESYNTAX, "3-char timestamp");
	is_int(srs_reverse(&s, "SRS0=vmyz=1!=d=l@example.com", T0, back, sizeof(back)), SRS_ESYNTAX, "timestamp not base32");
	is_int(srs_reverse(&s, "SRS0=vmyz==d=l@example.com", T0, back, sizeof(back)), SRS_ESYNTAX, "empty timestamp");
	is_int(srs_reverse(&s, "SRS0=vmyz=2W==l@example.com", T0, back, sizeof(back)), SRS_ESYNTAX, "empty domain");
	is_int(srs_reverse(&s, "SRS1=abcd=host@example.com", T0, back, sizeof(back)), SRS_ESYNTAX, "SRS1 truncated");
	is_int(srs_reverse(&s, "SRS0=vmyz=2W=d=l@", T0, back, sizeof(back)), SRS_ENOAT, "no domain");
	is_int(srs_forward(&s, "test@otherdomain.com", "example.com", T0, out, 20), SRS_ESPACE, "output too small");
	ok(strcmp(srs_strerror(SRS_EEXPIRED), "SRS address expired") == 0, "srs_strerror");

	/* SRS1: a second forwarder, then back through both. */
	r = srs_forward(&s, "test@otherdomain.com", "example.com", T0, out, sizeof(out));
	r = srs_forward(&s2, out, "second.example", T0, srs1, sizeof(srs1));
	is_int(r, 0, "forward an SRS0 address again: %s", srs1);
	ok(strncmp(srs1, "SRS1=", 5) == 0 && strstr(srs1, "=example.com==vmyz=2W=otherdomain.com=test@second.example"),
	    "SRS1 keeps the first forwarder and its SRS0 part");
	r = srs_reverse(&s2, srs1, T0 + 100 * DAY, back, sizeof(back));
	is_int(r, 0, "the second forwarder reverses SRS1 (no timestamp in it)");
	is_str(back, "SRS0=vmyz=2W=otherdomain.com=test@example.com", "to the first forwarder's SRS0 address");
	is_int(srs_reverse(&s, srs1, T0, back, sizeof(back)), SRS_EFORGED, "SRS1 needs the second forwarder's secret");
	r = srs_forward(&s, srs1, "third.example", T0, again, sizeof(again));
	is_int(r, 0, "forward an SRS1 address again: %s", again);
	ok(strstr(again, "=example.com==vmyz=2W=otherdomain.com=test@third.example") != NULL,
	    "still names the first forwarder");
	r = srs_reverse(&s, again, T0, back, sizeof(back));
	is_str(back, "SRS0=vmyz=2W=otherdomain.com=test@example.com", "the third reverses it to the first one's SRS0");
	ptt_strlcpy(again, srs1, sizeof(again));
	again[6] ^= 1;
	is_int(srs_reverse(&s2, again, T0, back, sizeof(back)), SRS_EFORGED, "SRS1 with a bad hash: forged");

	/* SHA-256, longer hash, '+' separator, 30 days. */
	r = srs_forward(&s256, "bob@origin.example", "fwd.example", T0, out, sizeof(out));
	ok(r == 0 && strncmp(out, "SRS0+", 5) == 0 && out[13] == '=', "SHA-256 with 8 characters: %s", out);
	is_int(srs_reverse(&s256, out, T0 + 30 * DAY, back, sizeof(back)), 0, "30 days with max_age 30");
	is_int(srs_reverse(&s256, out, T0 + 31 * DAY, back, sizeof(back)), SRS_EEXPIRED, "31 days: expired");
	is_int(srs_reverse(&s, out, T0, back, sizeof(back)), SRS_EFORGED, "SHA-1 settings refuse it");
	return tap_done();
}

/*
 * test_arc.c - ARC (RFC 8617): dkimpy's published test vector (its
 * tests/test_arc.py, key tests/data/test.txt) validates; ptt's seals
 * validate for chains of 1..3, RSA and Ed25519; every structural rule of
 * 4.2.1 and 5.2 (instances, duplicates, cv=, h= in a seal, 50 sets), key
 * lookup outcomes (missing, temporary failure, not looked up), the
 * oldest-pass, the AR result, and the cv recorded in our own
 * Authentication-Results.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc.h"
#include "util/buf.h"
#include "util/mem.h"
#include "../tap.h"

#define NOW 1795320000

static const char vec_key[] = "v=DKIM1; g=*; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/* dkimpy tests/test_arc.py test_signs_and_verifies, with test.message. */
static const char vec[] =
    "ARC-Seal: i=1; cv=none; a=rsa-sha256; d=example.com; s=test; t=12345;\r\n"
    " b=MBw2+L1/4PuYWJlt1tZlDtbOvyfbyH2t2N6DinFV/BIaB2LqbDKTYjXXk9HuuK1/qEkTd\r\n"
    " TxCYScIrtVO7pFbGiSawMuLatVzHNCqTURa1zBTXr2mKW1hgdmrtMMUcMVCYxr1AJpu6IYX\r\n"
    " VMIoOAn7tIDdO0VLokK6FnIXTWEAplQ=\r\n"
    "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=example.com; s=test; t=12345; h=message-id : date : from : to :\r\n"
    " subject : from; bh=wE7NXSkgnx9PGiavN4OZhJztvkqPDlemV3OGuEnLwNo=;\r\n"
    " b=a0f6qc3k9eECTSR155A0TQS+LjqPFWfI/brQBA83EUz00SNxj1wmWykvs1hhBVeM0r1kE\r\n"
    " Qc6CKbzRYaBNSiFj4q8JBpRIujLz1qLyGmPuAI6ddu/Z/1hQxgpVcp/odmI1UMV2R+d+yQ7\r\n"
    " tUp3EQxF/GYNt22rV4rNmDmANZVqJ90=\r\n"
    "ARC-Authentication-Results: i=1; lists.example.org; arc=none;\r\n"
    "  spf=pass smtp.mfrom=jqd@d1.example;\r\n"
    "  dkim=pass (1024-bit key) header.i=@d1.example;\r\n"
    "  dmarc=pass\r\n"
    "Authentication-Results: lists.example.org; arc=none; spf=pass smtp.mfrom=jqd@d1.example; dkim=pass (1024-bit key) header.i=@d1.example; dmarc=pass\r\n"
    "Received: from localhost\r\n"
    "Message-ID: <example@example.com>\r\n"
    "Date: Mon, 01 Jan 2011 01:02:03 +0400\r\n"
    "From: Test User <test@example.com>\r\n"
    "To: somebody@example.com\r\n"
    "Subject: Testing\r\n"
    "\r\n"
    "This is a test message.\r\n";

static const char base_msg[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.test\r\n"
    "Subject: hello\r\n"
    "Date: Sun, 22 Nov 2026 06:00:00 +0000\r\n"
    "Message-ID: <u1@example.org>\r\n"
    "\r\n"
    "Hello Bob.\r\n";

struct key {
	const char *name;
	char rec[1024];
};
static struct key keys[8];
static size_t nkeys;

/* Validate msg with the keys in keys[] (tf: answer every lookup with a
 * temporary failure; skip: leave check skip un-looked-up). */
static enum arc_cv
check(const char *msg, size_t len, bool tf, size_t skip, struct arc_verify *out,
    struct buf *ar)
{
	struct arc_verify v;
	enum arc_cv cv;

	arc_verify_begin(&v, msg, len, NOW, true);
	for (size_t i = 0; i < v.nchk; i++) {
		char name[512];
		const char *txt[1];
		size_t n = 0;
		if (i == skip)
			continue;
		arc_key_name(&v, i, name, sizeof(name));
		for (size_t k = 0; k < nkeys; k++)
			if (strcmp(keys[k].name, name) == 0)
				txt[n++] = keys[k].rec;
		arc_verify_key(&v, i, tf ? DKIM_DNS_TEMPFAIL : n ? DKIM_DNS_OK :
		    DKIM_DNS_NOTFOUND, txt, n);
	}
	cv = arc_verify_finish(&v);
	if (ar != NULL)
		arc_ar_result(&v, "192.0.2.1", ar);
	if (out != NULL) {
		out->result = v.result;
		out->oldest_pass = v.oldest_pass;
		out->n = v.n;
		memcpy(out->reason, v.reason, sizeof(out->reason));
	}
	arc_verify_end(&v);
	return cv;
}

static enum arc_cv
check_s(const char *msg, struct arc_verify *out)
{
	return check(msg, strlen(msg), false, SIZE_MAX, out, NULL);
}

static EVP_PKEY *
new_key(const char *type, const char *name)
{
	EVP_PKEY *k = strcmp(type, "RSA") == 0 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct buf b;

	buf_init(&b, 0);
	dkim_key_record(k, &b);
	keys[nkeys].name = name;
	snprintf(keys[nkeys].rec, sizeof(keys[nkeys].rec), "%s", b.data);
	nkeys++;
	buf_free(&b);
	return k;
}

/* Seal msg; returns a malloc'd new message (set + msg), or NULL. */
static char *
seal(const char *msg, EVP_PKEY *k, const char *dom, const char *sel,
    const char *id, enum arc_cv cv, char *err, size_t errlen)
{
	struct arc_seal s;
	struct buf out;

	memset(&s, 0, sizeof(s));
	s.key = k;
	s.domain = dom;
	s.selector = sel;
	s.authserv_id = id;
	s.cv = cv;
	s.now = NOW;
	buf_init(&out, 0);
	if (arc_seal(&s, msg, strlen(msg), &out, err, errlen) != 0) {
		buf_free(&out);
		return NULL;
	}
	buf_adds(&out, msg);
	return buf_steal(&out, NULL);
}

static char *
with_ar(const char *msg, const char *ar)
{
	struct buf b;

	buf_init(&b, 0);
	buf_addf(&b, "Authentication-Results: %s\r\n%s", ar, msg);
	return buf_steal(&b, NULL);
}

/* Replace the first occurrence of a by b in a copy of s. */
static char *
replace(const char *s, const char *a, const char *b)
{
	const char *p = strstr(s, a);
	struct buf o;

	buf_init(&o, 0);
	if (p == NULL) {
		buf_adds(&o, s);
	} else {
		buf_add(&o, s, (size_t)(p - s));
		buf_adds(&o, b);
		buf_adds(&o, p + strlen(a));
	}
	return buf_steal(&o, NULL);
}

int
main(void)
{
	struct arc_verify r;
	struct buf ar;
	char err[256], *m1, *s1, *m2, *s2, *m3, *s3, *t;
	EVP_PKEY *k1, *k2, *ke;
	struct mail_hdr h;

	keys[nkeys].name = "test._domainkey.example.com";
	snprintf(keys[nkeys++].rec, sizeof(keys[0].rec), "%s", vec_key);

	/* dkimpy's vector. */
	buf_init(&ar, 0);
	is_int(check(vec, strlen(vec), false, SIZE_MAX, &r, &ar), ARC_PASS,
	    "dkimpy's vector passes (%s)", r.reason);
	is_str(ar.data, "arc=pass (i=1 d=example.com; aar: lists.example.org; "
	    "arc=none; spf=pass smtp.mfrom=jqd@d1.example; dkim=pass 1024-bit key "
	    "header.i=@d1.example; dmarc=pass) header.oldest-pass=0 "
	    "smtp.remote-ip=192.0.2.1", "its AR result");
	t = replace(vec, "This is a test", "This is a best");
	is_int(check_s(t, &r), ARC_FAIL, "altered body fails: %s", r.reason);
	free(t);
	t = replace(vec, "Subject: Testing", "Subject: Tasting");
	is_int(check_s(t, &r), ARC_FAIL, "altered signed header fails: %s", r.reason);
	free(t);
	t = replace(vec, "dmarc=pass\r\nAuth", "dmarc=fail\r\nAuth");
	is_int(check_s(t, &r), ARC_FAIL, "altered AAR fails the seal: %s", r.reason);
	ok(strstr(r.reason, "ARC-Seal i=1") != NULL, "and says so");
	free(t);
	t = replace(vec, "Received: from localhost", "Received: from elsewhere");
	is_int(check_s(t, &r), ARC_PASS, "an unsigned header may change");
	free(t);
	is_int(check(vec, strlen(vec), true, SIZE_MAX, &r, NULL), ARC_TEMPERROR,
	    "key lookups failing temporarily: temperror");
	is_int(check(vec, strlen(vec), false, 1, &r, NULL), ARC_TEMPERROR,
	    "a key never looked up: temperror");
	nkeys = 0;
	is_int(check_s(vec, &r), ARC_FAIL, "no key record: fail (%s)", r.reason);
	keys[nkeys].name = "test._domainkey.example.com";
	snprintf(keys[nkeys++].rec, sizeof(keys[0].rec), "v=DKIM1; k=rsa; p=");
	is_int(check_s(vec, &r), ARC_FAIL, "revoked key: fail (%s)", r.reason);
	snprintf(keys[0].rec, sizeof(keys[0].rec), "h=sha1; %s", vec_key + 9);
	is_int(check_s(vec, &r), ARC_FAIL, "key for sha1 only: fail (%s)", r.reason);
	snprintf(keys[0].rec, sizeof(keys[0].rec), "s=xmpp; %s", vec_key + 9);
	is_int(check_s(vec, &r), ARC_FAIL, "key not for email: fail (%s)", r.reason);
	snprintf(keys[0].rec, sizeof(keys[0].rec), "h=sha1:sha256; s=*; %s", vec_key + 9);
	is_int(check_s(vec, &r), ARC_PASS, "key for sha1 and sha256, any service: pass (%s)", r.reason);
	snprintf(keys[0].rec, sizeof(keys[0].rec), "%s", vec_key);

	/* Structure (RFC 8617 4.2.1, 5.2). */
	is_int(check_s(base_msg, &r), ARC_NONE, "no chain: none");
	t = replace(vec, "ARC-Seal: i=1;", "ARC-Seal: i=2;");
	is_int(check_s(t, &r), ARC_FAIL, "AS in another instance: %s", r.reason);
	free(t);
	t = replace(vec, "ARC-Seal: i=1;", "ARC-Seal: i=0;");
	is_int(check_s(t, &r), ARC_FAIL, "i=0: %s", r.reason);
	free(t);
	t = replace(vec, "ARC-Seal: i=1;", "ARC-Seal: i=51;");
	is_int(check_s(t, &r), ARC_FAIL, "i=51: %s", r.reason);
	free(t);
	t = replace(vec, "ARC-Authentication-Results: i=1;", "ARC-Authentication-Results: i=x;");
	is_int(check_s(t, &r), ARC_FAIL, "AAR without a number: %s", r.reason);
	free(t);
	t = replace(vec, "ARC-Authentication-Results: i=1;", "ARC-Authentication-Results: i=1 lists;");
	is_int(check_s(t, &r), ARC_FAIL, "AAR without ';' after i=: %s", r.reason);
	free(t);
	t = replace(vec, "Received:", "ARC-Authentication-Results: i=1; other.example; none\r\nReceived:");
	is_int(check_s(t, &r), ARC_FAIL, "two AARs in instance 1: %s", r.reason);
	free(t);
	t = replace(vec, "cv=none", "cv=pass");
	is_int(check_s(t, &r), ARC_FAIL, "cv=pass in instance 1: %s", r.reason);
	free(t);
	t = replace(vec, "cv=none", "cv=fail");
	is_int(check_s(t, &r), ARC_FAIL, "cv=fail: %s", r.reason);
	free(t);
	t = replace(vec, "cv=none", "cv=maybe");
	is_int(check_s(t, &r), ARC_FAIL, "cv=maybe: %s", r.reason);
	free(t);
	t = replace(vec, "t=12345;\r\n b=MBw", "t=12345; h=from;\r\n b=MBw");
	is_int(check_s(t, &r), ARC_FAIL, "h= in the seal: %s", r.reason);
	free(t);
	t = replace(vec, "subject : from;", "subject : from : arc-seal;");
	is_int(check_s(t, &r), ARC_FAIL, "AMS signing ARC-Seal: %s", r.reason);
	free(t);
	t = replace(vec, "a=rsa-sha256; c=", "a=rsa-sha1; c=");
	is_int(check_s(t, &r), ARC_FAIL, "rsa-sha1 AMS: %s", r.reason);
	free(t);
	t = replace(vec, "t=12345; h=", "l=10; h=");
	is_int(check_s(t, &r), ARC_FAIL, "l= in the AMS: %s", r.reason);
	free(t);
	t = replace(vec, "d=example.com; s=test; t=12345;\r\n b=", "s=test; t=12345;\r\n b=");
	is_int(check_s(t, &r), ARC_FAIL, "seal without d=: %s", r.reason);
	free(t);

	/* Sealing: chains of 1, 2, 3. */
	k1 = new_key("RSA", "a1._domainkey.mx.example");
	k2 = new_key("RSA", "a2._domainkey.list.example");
	ke = new_key("ED25519", "ae._domainkey.mx.example");
	m1 = with_ar(base_msg, "mx.example; spf=pass smtp.mailfrom=example.org;\r\n\tdkim=none (no signature); arc=none");
	s1 = seal(m1, k1, "mx.example", "a1", "mx.example", ARC_NONE, err, sizeof(err));
	ok(s1 != NULL, "seal instance 1 %s", s1 ? "" : err);
	ok(s1 && strncmp(s1, "ARC-Seal: i=1; cv=none; a=rsa-sha256; d=mx.example; s=a1;", 57) == 0,
	    "ARC-Seal first");
	ok(s1 && strstr(s1, "ARC-Authentication-Results: i=1; mx.example;\r\n\tspf=pass "
	    "smtp.mailfrom=example.org; dkim=none (no signature); arc=none\r\n"), "AAR copies our AR");
	ok(s1 && strstr(s1, "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;") != NULL,
	    "AMS relaxed/relaxed, no v=");
	is_int(check_s(s1, &r), ARC_PASS, "chain of 1 passes (%s)", r.reason);
	t = seal(m1, ke, "mx.example", "ae", "mx.example", ARC_NONE, err, sizeof(err));
	ok(t && strstr(t, "a=ed25519-sha256"), "Ed25519 seal");
	is_int(check_s(t, &r), ARC_PASS, "Ed25519 chain passes (%s)", r.reason);
	free(t);
	ok(seal(m1, k1, "mx.example", "a1", "mx.example", ARC_PASS, err, sizeof(err)) == NULL,
	    "cv=pass without a chain refused: %s", err);
	ok(seal(s1, k1, "mx.example", "a1", "mx.example", ARC_NONE, err, sizeof(err)) == NULL,
	    "cv=none with a chain refused: %s", err);
	ok(seal("Subject: x\r\n\r\nbody\r\n", k1, "mx.example", "a1", "mx.example", ARC_NONE, err,
	    sizeof(err)) == NULL, "no From refused: %s", err);
	t = seal(base_msg, k1, "mx.example", "a1", "mx.example", ARC_NONE, err, sizeof(err));
	ok(t && strstr(t, "ARC-Authentication-Results: i=1; mx.example; none\r\n"),
	    "without our AR the AAR says none");
	free(t);

	m2 = with_ar(s1, "list.example; arc=pass (i=1) smtp.remote-ip=192.0.2.1");
	s2 = seal(m2, k2, "list.example", "a2", "list.example", ARC_PASS, err, sizeof(err));
	ok(s2 && strncmp(s2, "ARC-Seal: i=2; cv=pass;", 23) == 0, "seal instance 2 %s", s2 ? "" : err);
	is_int(check_s(s2, &r), ARC_PASS, "chain of 2 passes (%s)", r.reason);
	is_int(r.oldest_pass, 0, "oldest-pass 0");
	m3 = with_ar(s2, "mx.example; arc=pass");
	s3 = seal(m3, k1, "mx.example", "a1", "mx.example", ARC_PASS, err, sizeof(err));
	free(m3);
	is_int(check_s(s3, &r), ARC_PASS, "chain of 3 passes (%s)", r.reason);
	is_int(r.n, 3, "3 instances");
	t = replace(s3, "Hello Bob.", "Hello Rob.");
	is_int(check_s(t, &r), ARC_FAIL, "chain of 3, body altered: %s", r.reason);
	free(t);
	t = replace(s3, "ARC-Seal: i=2; cv=pass;", "ARC-Seal: i=2; cv=pass; ");
	is_int(check_s(t, &r), ARC_PASS, "relaxed: whitespace inside a seal is fine");
	free(t);
	t = replace(s3, "; arc=none\r\n", "; arc=pass\r\n");
	is_int(check_s(t, &r), ARC_FAIL, "AAR of instance 1 altered: %s", r.reason);
	free(t);

	/* oldest-pass: modified after instance 1, resealed with cv=pass. */
	t = replace(s1, "Hello Bob.", "[list] Hello Bob.");
	m3 = with_ar(t, "list.example; arc=pass");
	free(t);
	t = seal(m3, k2, "list.example", "a2", "list.example", ARC_PASS, err, sizeof(err));
	buf_reset(&ar);
	is_int(check(t, strlen(t), false, SIZE_MAX, &r, &ar), ARC_PASS, "modified and resealed: pass");
	is_int(r.oldest_pass, 2, "oldest-pass 2");
	ok(strstr(ar.data, "header.oldest-pass=2 smtp.remote-ip=192.0.2.1") != NULL, "in the AR: %s", ar.data);
	free(t);
	free(m3);

	/* cv=fail seal covers only its own set; validators stop at it. */
	t = replace(s1, "Hello Bob.", "Hello Rob.");
	is_int(check_s(t, &r), ARC_FAIL, "broken arriving chain");
	m3 = with_ar(t, "list.example; arc=fail");
	free(t);
	t = seal(m3, k2, "list.example", "a2", "list.example", ARC_FAIL, err, sizeof(err));
	ok(t && strncmp(t, "ARC-Seal: i=2; cv=fail;", 23) == 0, "sealed with cv=fail");
	buf_reset(&ar);
	is_int(check(t, strlen(t), false, SIZE_MAX, &r, &ar), ARC_FAIL, "and fails: %s", r.reason);
	ok(strncmp(ar.data, "arc=fail (", 10) == 0, "AR: %s", ar.data);
	free(t);
	free(m3);

	/* ARC fields without a valid instance: not a chain to vouch for
	 * (cv=none refused), sealed as failed at i=1. */
	t = replace(base_msg, "From:", "ARC-Seal: i=0; cv=none; a=rsa-sha256; d=x; s=y; b=AAAA\r\nFrom:");
	ok(seal(t, k1, "mx.example", "a1", "mx.example", ARC_NONE, err, sizeof(err)) == NULL,
	    "garbage ARC field, cv=none: refused (%s)", err);
	m3 = seal(t, k1, "mx.example", "a1", "mx.example", ARC_FAIL, err, sizeof(err));
	ok(m3 && strncmp(m3, "ARC-Seal: i=1; cv=fail;", 23) == 0, "garbage ARC field, cv=fail: i=1");
	is_int(check_s(m3 ? m3 : "", &r), ARC_FAIL, "which validates as fail: %s", r.reason);
	free(m3);
	free(t);

	/* 50 instances: the 51st cannot be added; a chain of 50 validates. */
	{
		char *cur = xstrdup(base_msg), *nx;
		enum arc_cv cv = ARC_NONE;
		for (int i = 1; i <= 50 && cur; i++) {
			nx = seal(cur, k1, "mx.example", "a1", "mx.example", cv, err, sizeof(err));
			free(cur);
			cur = nx;
			cv = ARC_PASS;
		}
		ok(cur != NULL, "50 seals");
		is_int(check_s(cur, &r), ARC_PASS, "a chain of 50 passes (%s)", r.reason);
		ok(seal(cur, k1, "mx.example", "a1", "mx.example", ARC_PASS, err, sizeof(err)) == NULL &&
		    strstr(err, "50") != NULL, "no 51st: %s", err);
		mail_hdr_parse(&h, cur, strlen(cur), NULL);
		is_int(arc_instances(&h), 50, "arc_instances");
		mail_hdr_free(&h);
		free(cur);
	}

	/* The cv an earlier hop of ours recorded. */
	{
		static const struct { const char *ar; enum arc_cv cv; } c[] = {
			{ "mx.example; arc=pass", ARC_PASS },
			{ "mx.example; spf=pass smtp.mailfrom=a.example; arc=fail (bad)", ARC_FAIL },
			{ "mx.example (comment; arc=pass); arc=none", ARC_NONE },
			{ "MX.example; dkim=pass header.b=\"x;arc=pass\"; arc = pass", ARC_PASS },
			{ "mx.example; dkim=pass header.b=\"x;arc=pass\"", ARC_NONE },
			{ "other.example; arc=pass", ARC_NONE },
			{ "mx.example.evil; arc=pass", ARC_NONE },
			{ "mx.example; arc=temperror", ARC_FAIL },
			{ "mx.example; arcx=pass", ARC_NONE },
			{ "mx.example; none", ARC_NONE },
			{ "mx.example", ARC_FAIL },	/* ours, yet unreadable */
		};
		for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			char *m = with_ar(base_msg, c[i].ar);
			mail_hdr_parse(&h, m, strlen(m), NULL);
			is_int(arc_cv_from_ar(&h, "mx.example"), c[i].cv, "cv from AR \"%s\"", c[i].ar);
			mail_hdr_free(&h);
			free(m);
		}
	}
	ok(strcmp(arc_cv_name(ARC_TEMPERROR), "temperror") == 0 &&
	    strcmp(arc_cv_name(ARC_PASS), "pass") == 0, "arc_cv_name");

	free(m1);
	free(s1);
	free(m2);
	free(s2);
	free(s3);
	buf_free(&ar);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(ke);
	return tap_done();
}

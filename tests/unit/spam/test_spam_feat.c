/*
 * test_spam_feat.c - feature extraction of the spam classifier: what a
 * message turns into (words, HTML reduced to text, headers, URLs,
 * structure, Authentication-Results), and what it must not turn into.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../tap.h"
#include "spam/feat.h"

static struct spam_feats F;

static void
extract(const char *msg)
{
	spam_extract(&F, (const uint8_t *)msg, strlen(msg));
}

static bool
has(const char *name)
{
	uint32_t h = spam_feat_hash(name, strlen(name));

	/* bigrams hash their two words' hashes, the rest hash their name */
	for (size_t i = 0; i < F.n; i++)
		if (strcmp(spam_feats_name(&F, i), name) == 0)
			return strchr(name, ' ') != NULL || F.h[i] == h;
	return false;
}

static void
check_has(const char *name, bool want, const char *what)
{
	if (!ok(has(name) == want, "%s: %s %s", what, want ? "has" : "lacks", name)) {
		printf("#   features:");
		for (size_t i = 0; i < F.n && i < 80; i++)
			printf(" %s", spam_feats_name(&F, i));
		printf("\n");
	}
}

int
main(void)
{
	spam_feats_init(&F, 0, true);

	extract("From sender@example.net  Thu Aug 22 13:17:22 2002\n"
	    "Received: from mail.spammer.example (mail.spammer.example [192.0.2.7])\n"
	    "\tby mx.local.test (Postfix) with ESMTP id 123\n"
	    "\tfor <victim@local.test>; Thu, 22 Aug 2002 08:17:21 -0400\n"
	    "From: \"Best Deals\" <deals123@bulk.example.co.uk>\n"
	    "To: undisclosed-recipients:;\n"
	    "Subject: =?iso-8859-1?q?FREE_money_now!?=\n"
	    "X-Spam-Status: No, score=0.1\n"
	    "Authentication-Results: mx.local.test; spf=pass smtp.mailfrom=x@y;\n"
	    " dkim=fail (bad signature) header.d=bulk.example.co.uk\n"
	    "Message-ID: <20020822.4F2@bulk.example.co.uk>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
	    "\n"
	    "--b1\n"
	    "Content-Type: text/html; charset=utf-8\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "<html><head><style>p { color: red }</style><script>var hidden=1;</script></head>\n"
	    "<body><p>Buy <b>V</b>iagra and &#67;ialis at <a href=3D\"http://shop.pills.example.com/x\">our shop</a>\n"
	    "&amp; save</p><!-- a --><!-- b --><!-- c --></body></html>\n"
	    "--b1\n"
	    "Content-Type: application/octet-stream; name=\"invoice.pdf.exe\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	    "--b1--\n");
	check_has("s:free", true, "subject word (RFC 2047 decoded)");
	check_has("s:money", true, "subject word");
	check_has("s:cs:iso-8859-1", true, "subject charset");
	check_has("s:bang", true, "subject shape");
	check_has("f:best", true, "From display name");
	check_has("f:dom:bulk.example.co.uk", true, "From domain");
	check_has("f:rd:example.co.uk", true, "From registrable domain (public suffix list)");
	check_has("h:subject", true, "header presence");
	check_has("h:x-spam-status", false, "X-Spam-* is another filter's verdict");
	check_has("to:undisclosed", true, "undisclosed recipients");
	check_has("ar:spf=pass", true, "Authentication-Results spf");
	check_has("ar:dkim=fail", true, "Authentication-Results dkim");
	check_has("rcv:rd:spammer.example", true, "Received from-clause host");
	check_has("rcv:ip16:192.0", true, "Received from-clause address block");
	check_has("rcv:with:esmtp", true, "Received protocol");
	check_has("rcv:victim@local.test", false, "Received for-clause is not a feature");
	check_has("rcv:rd:local.test", false, "Received by-clause is not a feature");
	check_has("viagra", true, "HTML inline tags do not split words");
	check_has("cialis", true, "character references decoded");
	check_has("save", true, "HTML text");
	check_has("hidden", false, "script skipped");
	check_has("color", false, "style skipped");
	check_has("html:b", true, "HTML tag feature");
	check_has("html:comments", true, "HTML comments");
	check_has("u:shop.pills.example.com", true, "URL host (href, QP-decoded)");
	check_has("ud:example.com", true, "URL registrable domain");
	check_has("mime:text/html", true, "part type");
	check_has("mime:enc:quoted-printable", true, "transfer encoding");
	check_has("mime:cs:utf-8", true, "part charset");
	check_has("att:ext:exe", true, "attachment extension");
	check_has("att:exec", true, "executable attachment");
	check_has("mime:htmlonly", true, "HTML without a plain part");
	check_has("h:from sender@example.net  thu aug 22 13", false, "mbox From line skipped");

	/* determinism and sorted unique output */
	{
		uint32_t first[4096];
		size_t n = F.n < 4096 ? F.n : 4096;
		bool sorted = true;

		memcpy(first, F.h, n * sizeof(*first));
		for (size_t i = 1; i < F.n; i++)
			sorted = sorted && F.h[i - 1] < F.h[i];
		ok(sorted, "features sorted and unique (%zu)", F.n);
		spam_feats_free(&F);
		spam_feats_init(&F, 0, false);
		extract("From sender@example.net  Thu Aug 22 13:17:22 2002\n"
		    "Subject: x\n\nbody");
		spam_feats_free(&F);
		spam_feats_init(&F, 0, true);
		ok(n > 20, "a real message has many features");
	}

	/* plain text, URLs without a scheme, words too long, IP URLs */
	extract("Subject: hello\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "Visit www.Example.ORG/path or http://198.51.100.9/login and\n"
	    "http://user@evil.example.net/ with supercalifragilisticexpialidociousness\n");
	check_has("u:www.example.org", true, "bare www. URL, lowercased");
	check_has("ud:example.org", true, "bare www. registrable domain");
	check_has("u:ip", true, "numeric URL host");
	check_has("u:userinfo", true, "URL with userinfo");
	check_has("u:evil.example.net", true, "host after userinfo");
	check_has("skip:ks3", true, "long word as a skip token");
	check_has("visit", true, "plain word");
	check_has("mime:text/plain", true, "plain part");
	check_has("mime:htmlonly", false, "plain text is not html-only");

	/* base64 text, an HTML body in text/plain, bigrams on request */
	spam_feats_free(&F);
	spam_feats_init(&F, SPAM_F_BIGRAMS, true);
	extract("Subject: b\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "aGVsbG8gd29ybGQgYWdhaW4=\n");
	check_has("hello", true, "base64 text decoded");
	check_has("hello world", true, "bigram with SPAM_F_BIGRAMS");
	check_has("mime:enc:base64", true, "base64 part");

	/* missing separator, junk header line: anomalies named by lib/mail */
	extract("Subject: x\nthis is not a header\nmore");
	check_has("anom:bad-line", true, "bad header line reported");

	/* empty input */
	extract("");
	ok(F.n > 0 && F.n < 20, "empty message: only structure features (%zu)", F.n);

	spam_feats_free(&F);
	return tap_done();
}

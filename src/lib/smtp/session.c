/*
 * session.c - SMTP server engine: the per-session command state machine.
 *
 * Implements RFC 5321 3 and 4.1 (command sequencing: HELO/EHLO, MAIL,
 * RCPT, DATA, RSET, NOOP, QUIT, VRFY, EXPN, HELP; 4.1.4 ordering rules and
 * 503 for bad sequences; 4.5.3.1 limits; 4.3.2 reply codes), RFC 2920
 * (pipelined commands executed strictly in order, one at a time; nothing
 * further is read while a hook's answer is pending), RFC 3030 (BDAT chunks
 * are always consumed, even when refused), RFC 4954 4 (AUTH exchange,
 * initial response, cancel), RFC 3207 4.2 (STARTTLS resets the session),
 * RFC 1870 (SIZE at MAIL and during data), RFC 6531 (UTF-8 addresses only
 * in an SMTPUTF8 transaction).
 *
 * Trusts nothing from the peer: lines come from the bufferevent through a
 * bounded copy, then smtp_cmd_parse() (proto.c); content goes through the
 * decoders of data.c.
 */
#include "smtp/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

#define OUTPUT_HIGH	(256 * 1024)

/* ---- replies, accounting, logging ---- */

static void
log_reject(struct smtp_session *s, int code, const char *ecode, const char *text)
{
	enum smtp_verb v = s->cmd.verb;
	const char *from = s->in_mail ? s->from.addr :
	    (v == SMTP_V_MAIL ? s->cmd.path.addr : NULL);

	log_info(s->id, "reject: %s from %s: %d %s %s;%s%s%s%s%s%s helo=<%s>",
	    v == SMTP_V_UNKNOWN ? "command" : smtp_verb_name(v), s->peer, code,
	    ecode ? ecode : "", text,
	    from ? " from=<" : "", from ? from : "", from ? ">" : "",
	    v == SMTP_V_RCPT ? " to=<" : "", v == SMTP_V_RCPT ? s->cmd.path.addr : "",
	    v == SMTP_V_RCPT ? ">" : "", s->helo);
}

/* The final reply to the current command. */
static void
finish(struct smtp_session *s, int code, const char *ecode, const char *text)
{
	session_write_reply(s, code, ecode, text);
	if (code < 400)
		s->verb_ok[s->cmd.verb]++;
	else
		log_reject(s, code, ecode, text);
}

/* A reply from the status table; protocol errors count towards the limit. */
void
session_reply_status(struct smtp_session *s, enum smtp_status st)
{
	const struct smtp_status_reply *r = smtp_status_reply(st);

	if (r->code == 421) {	/* the session ends: no accounting */
		session_write_reply(s, r->code, r->ecode, r->text);
		return;
	}
	finish(s, r->code, r->ecode, r->text);
	if (r->code >= 400 && ++s->errors >= s->srv->cfg.max_errors) {
		r = smtp_status_reply(SMTP_ST_TOO_MANY_ERRORS);
		log_info(s->id, "too many errors (%u) from %s", s->errors, s->peer);
		session_write_reply(s, r->code, r->ecode, r->text);
		session_close(s);
	}
}

/* ---- transaction state ---- */

void
session_reset_txn(struct smtp_session *s)
{
	bool had = s->in_mail || s->nrcpt > 0 || s->bdat;

	s->in_mail = false;
	s->nrcpt = 0;
	s->bdat = false;
	s->data_started = false;
	s->bdat_left = 0;
	s->bdat_last = false;
	s->bdat_status = SMTP_ST_OK;
	s->stash_code = 0;
	free(s->stash_text);
	s->stash_text = NULL;
	memset(&s->from, 0, sizeof(s->from));
	memset(&s->mail, 0, sizeof(s->mail));
	buf_free(&s->msg);
	buf_init(&s->msg, 0);
	if (had && s->srv->hooks.reset != NULL)
		s->srv->hooks.reset(s);
}

void
session_reset_all(struct smtp_session *s)
{
	session_reset_txn(s);
	s->helo_done = s->esmtp = s->helo_valid = false;
	s->helo[0] = '\0';
	s->authed = false;
	ptt_memzero(s->auth_user, sizeof(s->auth_user));
	sasl_clear(&s->sasl);
}

static void
start_content(struct smtp_session *s)
{
	buf_free(&s->msg);
	buf_init(&s->msg, (size_t)s->srv->cfg.max_size);
	smtp_data_init(&s->dec, &s->msg, s->srv->cfg.long_lines ? 0 : SMTP_MAX_TEXTLINE);
}

/* ---- greeting and EHLO ---- */

static void
send_greeting(struct smtp_session *s)
{
	char text[512];

	snprintf(text, sizeof(text), "%s %s", s->srv->hostname, s->srv->greeting);
	session_write_reply(s, 220, "", text);
	s->phase = PH_CMD;
}

void
session_greet(struct smtp_session *s)
{
	if (s->srv->hooks.connect == NULL) {
		send_greeting(s);
		return;
	}
	s->phase = PH_GREETING;
	session_hook_begin(s, PEND_CONNECT);
	s->srv->hooks.connect(s);
}

static void
send_ehlo(struct smtp_session *s)
{
	struct buf b;
	unsigned ext = session_ext(s);

	buf_init(&b, 0);
	buf_addf(&b, "%s greets %s", s->srv->hostname, s->helo);
	if (ext & SMTP_EXT_PIPELINING)
		buf_adds(&b, "\nPIPELINING");
	if (ext & SMTP_EXT_SIZE)
		buf_addf(&b, "\nSIZE %llu", (unsigned long long)s->srv->cfg.max_size);
	if (ext & SMTP_EXT_8BITMIME)
		buf_adds(&b, "\n8BITMIME");
	if (ext & SMTP_EXT_SMTPUTF8)
		buf_adds(&b, "\nSMTPUTF8");
	if (ext & SMTP_EXT_ENHANCED)
		buf_adds(&b, "\nENHANCEDSTATUSCODES");
	if (ext & SMTP_EXT_CHUNKING)
		buf_adds(&b, "\nCHUNKING");
	if (ext & SMTP_EXT_BINARYMIME)
		buf_adds(&b, "\nBINARYMIME");
	if (ext & SMTP_EXT_DSN)
		buf_adds(&b, "\nDSN");
	if (ext & SMTP_EXT_STARTTLS)
		buf_adds(&b, "\nSTARTTLS");
	if (ext & SMTP_EXT_AUTH)
		buf_adds(&b, "\nAUTH PLAIN LOGIN");
	session_write_reply(s, 250, "", b.data);
	s->verb_ok[SMTP_V_EHLO]++;
	buf_free(&b);
}

/* ---- hooks ---- */

static void
call_hook(struct smtp_session *s, enum pending p)
{
	const struct smtp_hooks *h = &s->srv->hooks;
	bool none;

	switch (p) {
	case PEND_HELO: none = h->helo == NULL; break;
	case PEND_AUTH: none = h->auth == NULL; break;
	case PEND_MAIL: none = h->mail == NULL; break;
	case PEND_RCPT: none = h->rcpt == NULL; break;
	case PEND_DATA: case PEND_BDAT: none = h->data == NULL; break;
	case PEND_MESSAGE: none = h->message == NULL; break;
	default: none = true;
	}
	if (none) {	/* the defaults: accept, but never authenticate */
		if (p == PEND_AUTH) {
			const struct smtp_status_reply *r =
			    smtp_status_reply(SMTP_ST_AUTH_FAILED);
			session_hook_answer(s, p, r->code, r->ecode, r->text);
		} else
			session_hook_answer(s, p, 250, NULL, "OK");
		return;
	}
	session_hook_begin(s, p);
	switch (p) {
	case PEND_HELO:
		h->helo(s, s->cmd.helo, s->cmd.verb == SMTP_V_EHLO);
		break;
	case PEND_AUTH:
		h->auth(s, s->sasl.authzid, s->sasl.user, s->sasl.pass);
		break;
	case PEND_MAIL:
		h->mail(s, &s->cmd.path, &s->cmd.mail);
		break;
	case PEND_RCPT:
		h->rcpt(s, &s->cmd.path, &s->cmd.rcpt);
		break;
	case PEND_DATA:
	case PEND_BDAT:
		h->data(s);
		break;
	case PEND_MESSAGE:
		h->message(s, &s->env, (const uint8_t *)s->msg.data, s->msg.len);
		break;
	default:
		break;
	}
}

static void
message_answered(struct smtp_session *s, int code, const char *ecode,
    const char *text)
{
	session_write_reply(s, code, ecode, text);
	if (code < 400) {
		s->verb_ok[s->cmd.verb]++;
		log_info(s->id, "message from=<%s> nrcpt=%zu size=%zu%s: %d %s %s",
		    s->from.addr, s->nrcpt, s->msg.len, s->bdat ? " bdat" : "",
		    code, ecode ? ecode : "", text);
	} else
		log_reject(s, code, ecode, text);
	session_reset_txn(s);
}

void
session_hook_answer(struct smtp_session *s, enum pending p, int code,
    const char *ecode, const char *text)
{
	/* the data hook may say 354 (or 250) for DATA and for BDAT alike */
	bool okay = code >= 200 &&
	    code < (p == PEND_DATA || p == PEND_BDAT ? 400 : 300);

	if (s->phase == PH_CLOSED || s->phase == PH_CLOSING) {
		if (p == PEND_AUTH)
			sasl_clear(&s->sasl);
		return;
	}
	switch (p) {
	case PEND_CONNECT:
		if (okay) {
			send_greeting(s);
		} else {
			log_info(s->id, "reject: CONNECT from %s: %d %s %s", s->peer,
			    code, ecode ? ecode : "", text);
			session_write_reply(s, code, ecode, text);
			session_close(s);
		}
		break;
	case PEND_HELO:
		if (!okay) {
			finish(s, code, ecode, text);
			break;
		}
		s->helo_done = true;
		s->esmtp = s->cmd.verb == SMTP_V_EHLO;
		s->helo_valid = s->cmd.helo_valid;
		ptt_strlcpy(s->helo, s->cmd.helo, sizeof(s->helo));
		if (s->esmtp)
			send_ehlo(s);
		else {
			session_write_reply(s, 250, "", s->srv->hostname);
			s->verb_ok[SMTP_V_HELO]++;
		}
		break;
	case PEND_AUTH:
		if (okay) {
			s->authed = true;
			ptt_strlcpy(s->auth_user, s->sasl.user, sizeof(s->auth_user));
			log_info(s->id, "auth: user=<%s> from %s", s->auth_user, s->peer);
			finish(s, 235, "2.7.0", "Authentication successful");
		} else {
			log_info(s->id, "auth failed: user=<%s> from %s: %d %s",
			    s->sasl.user, s->peer, code, text);
			session_write_reply(s, code, ecode, text);
			if (++s->errors >= s->srv->cfg.max_errors) {
				session_reply_status(s, SMTP_ST_TOO_MANY_ERRORS);
				session_close(s);
			}
		}
		sasl_clear(&s->sasl);
		break;
	case PEND_MAIL:
		if (okay) {
			s->in_mail = true;
			s->drain_mail = s->shutdown;
			s->from = s->cmd.path;
			s->mail = s->cmd.mail;
			s->nrcpt = 0;
			finish(s, code, ecode ? ecode : "2.1.0", text);
		} else
			finish(s, code, ecode, text);
		break;
	case PEND_RCPT:
		if (okay) {
			if (s->nrcpt == s->rcptcap) {
				s->rcptcap = s->rcptcap ? 2 * s->rcptcap : 8;
				s->rcpt = xreallocarray(s->rcpt, s->rcptcap, sizeof(*s->rcpt));
			}
			s->rcpt[s->nrcpt].path = s->cmd.path;
			s->rcpt[s->nrcpt].params = s->cmd.rcpt;
			s->nrcpt++;
			finish(s, code, ecode ? ecode : "2.1.5", text);
		} else
			finish(s, code, ecode, text);
		break;
	case PEND_DATA:
		if (okay) {
			s->data_started = true;
			start_content(s);
			s->phase = PH_DATA;
			session_set_timeout(s, s->srv->cfg.timeout_data);
			session_write_reply(s, 354, "", "End data with <CR><LF>.<CR><LF>");
		} else
			finish(s, code, ecode, text);
		break;
	case PEND_BDAT:
		if (okay) {
			s->data_started = true;
		} else {	/* answer after the chunk has been read */
			s->stash_code = code;
			ptt_strlcpy(s->stash_ecode, ecode ? ecode : "", sizeof(s->stash_ecode));
			s->stash_text = xstrdup(text);
		}
		s->phase = PH_BDAT;
		session_set_timeout(s, s->srv->cfg.timeout_data);
		break;
	case PEND_MESSAGE:
		message_answered(s, code, ecode, text);
		break;
	default:
		break;
	}
}

/* ---- end of content ---- */

static void
content_done(struct smtp_session *s)
{
	unsigned f = s->dec.flags;

	s->phase = PH_CMD;
	session_set_timeout(s, s->srv->cfg.timeout_cmd);
	if (f & (SMTP_DATA_BARE | SMTP_DATA_TOOBIG | SMTP_DATA_LONGLINE)) {
		session_reply_status(s, f & SMTP_DATA_BARE ? SMTP_ST_MSG_BARE :
		    f & SMTP_DATA_TOOBIG ? SMTP_ST_SIZE_EXCEEDED : SMTP_ST_MSG_LINE);
		session_reset_txn(s);
		return;
	}
	s->env.from = s->from;
	s->env.mail = s->mail;
	s->env.rcpt = s->rcpt;
	s->env.nrcpt = s->nrcpt;
	s->env.bdat = s->bdat;
	s->env.data_flags = f & (SMTP_DATA_8BIT | SMTP_DATA_NUL);
	call_hook(s, PEND_MESSAGE);
}

/* DATA content; returns true when there may be more to do now. */
static bool
data_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v[16];
	size_t used = 0;
	int n, i;

	n = evbuffer_peek(in, -1, NULL, v, 16);
	if (n > 16)
		n = 16;
	for (i = 0; i < n && !s->dec.done; i++)
		used += smtp_data_feed(&s->dec, v[i].iov_base, v[i].iov_len);
	evbuffer_drain(in, used);
	if (!s->dec.done)	/* more buffered than 16 chunks: go on */
		return used > 0 && evbuffer_get_length(in) > 0;
	content_done(s);
	return true;
}

static void
bdat_chunk_done(struct smtp_session *s)
{
	char text[64];

	s->phase = PH_CMD;
	session_set_timeout(s, s->srv->cfg.timeout_cmd);
	if (s->stash_code) {
		finish(s, s->stash_code, s->stash_ecode[0] ? s->stash_ecode : NULL,
		    s->stash_text);
		session_reset_txn(s);
		return;
	}
	if (s->bdat_status != SMTP_ST_OK) {
		enum smtp_status st = s->bdat_status;
		s->bdat_status = SMTP_ST_OK;
		session_reply_status(s, st);
		return;
	}
	if (s->dec.flags & SMTP_DATA_TOOBIG) {
		session_reply_status(s, SMTP_ST_SIZE_EXCEEDED);
		session_reset_txn(s);
		return;
	}
	if (!s->bdat_last) {
		snprintf(text, sizeof(text), "%llu octets received",
		    (unsigned long long)s->cmd.bdat_size);
		finish(s, 250, "2.0.0", text);
		return;
	}
	smtp_bdat_end(&s->dec);
	content_done(s);
}

/* A BDAT chunk; returns true when the chunk is complete. */
static bool
bdat_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	bool keep = s->stash_code == 0 && s->bdat_status == SMTP_ST_OK;
	bool binary = s->mail.body == SMTP_BODY_BINARYMIME;

	while (s->bdat_left > 0 && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = v.iov_len;
		if (n > s->bdat_left)
			n = (size_t)s->bdat_left;
		if (keep)
			smtp_bdat_feed(&s->dec, v.iov_base, n, binary);
		evbuffer_drain(in, n);
		s->bdat_left -= n;
	}
	if (s->bdat_left > 0)
		return false;
	bdat_chunk_done(s);
	return true;
}

/* ---- AUTH ---- */

static void
auth_result(struct smtp_session *s, enum sasl_result r)
{
	char text[64];

	switch (r) {
	case SASL_CONTINUE:
		snprintf(text, sizeof(text), "%s", s->sasl.challenge);
		session_write_reply(s, 334, "", text);
		s->phase = PH_AUTH;
		break;
	case SASL_DONE:
		s->phase = PH_CMD;
		call_hook(s, PEND_AUTH);
		break;
	case SASL_FAIL:
		s->phase = PH_CMD;
		session_reply_status(s, s->sasl.status);
		break;
	}
}

/* ---- commands ---- */

static void
cmd_auth(struct smtp_session *s)
{
	enum sasl_mech mech;

	if (!s->srv->cfg.auth)
		session_reply_status(s, SMTP_ST_NOT_IMPL);
	else if (!session_auth_offered(s))
		session_reply_status(s, SMTP_ST_ENCRYPT_REQUIRED);
	else if (!s->helo_done || !s->esmtp)
		session_reply_status(s, SMTP_ST_NEED_HELO);
	else if (s->authed)
		session_reply_status(s, SMTP_ST_ALREADY_AUTH);
	else if (s->in_mail)
		session_reply_status(s, SMTP_ST_AUTH_IN_TXN);
	else if ((mech = sasl_mech_by_name(s->cmd.auth_mech)) == SASL_MECH_NONE)
		session_reply_status(s, SMTP_ST_UNKNOWN_MECH);
	else
		auth_result(s, sasl_start(&s->sasl, mech, s->cmd.auth_ir,
		    s->cmd.auth_irlen));
}

static void
cmd_bdat(struct smtp_session *s)
{
	enum smtp_status st = SMTP_ST_OK;

	if (!s->in_mail)
		st = s->helo_done ? SMTP_ST_NEED_MAIL : SMTP_ST_NEED_HELO;
	else if (s->nrcpt == 0)
		st = SMTP_ST_NEED_RCPT;
	s->bdat_left = s->cmd.bdat_size;
	s->bdat_last = s->cmd.bdat_last;
	if (st != SMTP_ST_OK) {	/* read and drop the chunk, then refuse */
		s->bdat_status = st;
		s->phase = PH_BDAT;
		return;
	}
	if (!s->bdat) {
		s->bdat = true;
		start_content(s);
	}
	if (s->data_started) {
		s->phase = PH_BDAT;
		session_set_timeout(s, s->srv->cfg.timeout_data);
		return;
	}
	call_hook(s, PEND_BDAT);
}

static bool
allowed_before_tls(enum smtp_verb v)
{
	return v == SMTP_V_EHLO || v == SMTP_V_HELO || v == SMTP_V_NOOP ||
	    v == SMTP_V_QUIT || v == SMTP_V_STARTTLS || v == SMTP_V_RSET;
}

static void
command(struct smtp_session *s, size_t len)
{
	unsigned ext = s->esmtp ? session_ext(s) : 0;
	enum smtp_status st;

	s->ncmds++;
	st = smtp_cmd_parse(s->line, len, ext, &s->cmd);
	s->verb_total[s->cmd.verb]++;
	if (st != SMTP_ST_OK) {
		session_reply_status(s, st);
		return;
	}
	if (s->srv->cfg.require_tls && s->ssl == NULL &&
	    !allowed_before_tls(s->cmd.verb)) {
		session_reply_status(s, SMTP_ST_TLS_REQUIRED);
		return;
	}
	switch (s->cmd.verb) {
	case SMTP_V_HELO:
	case SMTP_V_EHLO:
		session_reset_txn(s);	/* RFC 5321 4.1.4 */
		call_hook(s, PEND_HELO);
		break;
	case SMTP_V_MAIL:
		if (s->shutdown && s->drain_mail) {
			/* draining: one transaction was finished here; the
			 * client's next one goes to the new instance */
			session_reply_status(s, SMTP_ST_SHUTDOWN);
			session_close(s);
		} else if (!s->helo_done)
			session_reply_status(s, SMTP_ST_NEED_HELO);
		else if (s->no_mail)
			session_write_reply(s, 550, "5.7.1",
			    "this peer may not hand in mail");
		else if (s->in_mail)
			session_reply_status(s, SMTP_ST_NESTED_MAIL);
		else if (s->srv->cfg.require_auth && !s->authed)
			session_reply_status(s, SMTP_ST_AUTH_REQUIRED);
		else if (s->cmd.mail.has_size && s->cmd.mail.size > s->srv->cfg.max_size)
			session_reply_status(s, SMTP_ST_SIZE_DECLARED);
		else
			call_hook(s, PEND_MAIL);
		break;
	case SMTP_V_RCPT:
		if (!s->in_mail)
			session_reply_status(s, SMTP_ST_NEED_MAIL);
		else if (s->bdat)
			session_reply_status(s, SMTP_ST_BAD_SEQ);
		else if (s->nrcpt >= s->srv->cfg.max_rcpts)
			session_reply_status(s, SMTP_ST_TOO_MANY_RCPTS);
		else if (s->cmd.path.utf8 && !s->mail.smtputf8)
			session_reply_status(s, SMTP_ST_UTF8_ADDR);
		else
			call_hook(s, PEND_RCPT);
		break;
	case SMTP_V_DATA:
		if (!s->in_mail)
			session_reply_status(s, s->helo_done ? SMTP_ST_NEED_MAIL : SMTP_ST_NEED_HELO);
		else if (s->bdat)
			session_reply_status(s, SMTP_ST_MIXED_BDAT);
		else if (s->nrcpt == 0)
			session_reply_status(s, SMTP_ST_NEED_RCPT);
		else if (s->mail.body == SMTP_BODY_BINARYMIME)
			session_reply_status(s, SMTP_ST_DATA_BINARY);
		else
			call_hook(s, PEND_DATA);
		break;
	case SMTP_V_BDAT:
		if (!(session_ext(s) & SMTP_EXT_CHUNKING) || !s->esmtp) {
			/* not offered, but the size parsed: skip the chunk to
			 * stay in sync, then refuse */
			s->bdat_status = SMTP_ST_NOT_IMPL;
			s->bdat_left = s->cmd.bdat_size;
			s->phase = PH_BDAT;
			break;
		}
		cmd_bdat(s);
		break;
	case SMTP_V_RSET:
		session_reset_txn(s);
		finish(s, 250, "2.0.0", "OK");
		break;
	case SMTP_V_NOOP:
		finish(s, 250, "2.0.0", "OK");
		break;
	case SMTP_V_QUIT:
		finish(s, 221, "2.0.0", "Bye");
		session_close(s);
		break;
	case SMTP_V_VRFY:
		finish(s, 252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case SMTP_V_EXPN:
		session_reply_status(s, SMTP_ST_NOT_IMPL);
		break;
	case SMTP_V_HELP:
		finish(s, 214, "2.0.0", "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
		break;
	case SMTP_V_STARTTLS:
		if (s->ssl != NULL)
			session_reply_status(s, SMTP_ST_ALREADY_TLS);
		else if (!session_tls_offered(s))
			session_reply_status(s, SMTP_ST_NOT_IMPL);
		else {
			finish(s, 220, "2.0.0", "Ready to start TLS");
			session_start_tls(s);
		}
		break;
	case SMTP_V_AUTH:
		cmd_auth(s);
		break;
	default:
		session_reply_status(s, SMTP_ST_UNKNOWN_CMD);
	}
}

/* ---- reading lines ---- */

/* 1: a line is in s->line (len without CRLF); 0: need more; -1: handled. */
static int
read_line(struct smtp_session *s, size_t *len)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr p;
	size_t n;

	p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (s->discarding) {
		if (p.pos < 0) {
			evbuffer_drain(in, evbuffer_get_length(in));
			return 0;
		}
		evbuffer_drain(in, (size_t)p.pos + 1);
		s->discarding = false;
		goto toolong;
	}
	if (p.pos < 0) {
		if (evbuffer_get_length(in) > SMTP_MAX_AUTHLINE + 1) {
			s->discarding = true;
			evbuffer_drain(in, evbuffer_get_length(in));
		}
		return 0;
	}
	n = (size_t)p.pos;
	if (n > SMTP_MAX_AUTHLINE + 1) {
		evbuffer_drain(in, n + 1);
		goto toolong;
	}
	evbuffer_remove(in, s->line, n + 1);
	if (n == 0 || s->line[n - 1] != '\r') {
		s->ncmds++;
		memset(&s->cmd, 0, sizeof(s->cmd));
		if (s->phase == PH_AUTH) {
			s->phase = PH_CMD;
			sasl_clear(&s->sasl);
		}
		session_reply_status(s, SMTP_ST_BARE_LF);
		return -1;
	}
	s->line[n - 1] = '\0';
	*len = n - 1;
	return 1;
toolong:
	s->ncmds++;
	memset(&s->cmd, 0, sizeof(s->cmd));
	if (s->phase == PH_AUTH) {
		s->phase = PH_CMD;
		sasl_clear(&s->sasl);
	}
	session_reply_status(s, SMTP_ST_LINE_TOO_LONG);
	return -1;
}

void
session_process(struct smtp_session *s)
{
	size_t len;
	int r;

	if (s->processing)
		return;
	s->processing = true;
	while (s->pending == PEND_NONE && s->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) < OUTPUT_HIGH) {
		if (s->phase == PH_CMD || s->phase == PH_AUTH) {
			if ((r = read_line(s, &len)) == 0)
				break;
			if (r < 0)
				continue;
			if (s->phase == PH_AUTH) {
				if (memchr(s->line, '\r', len) != NULL) {
					s->phase = PH_CMD;
					sasl_clear(&s->sasl);
					session_reply_status(s, SMTP_ST_BARE_CR);
				} else
					auth_result(s, sasl_step(&s->sasl, s->line, len));
			} else
				command(s, len);
			ptt_memzero(s->line, len < sizeof(s->line) ? len : sizeof(s->line));
		} else if (s->phase == PH_DATA) {
			if (!data_input(s))
				break;
		} else if (s->phase == PH_BDAT) {
			if (!bdat_input(s))
				break;
		} else
			break;
	}
	s->processing = false;
}

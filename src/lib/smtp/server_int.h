/*
 * server_int.h - internals shared by server.c (connections, I/O, TLS,
 * replies) and session.c (the command state machine). Not a public API.
 */
#ifndef PTT_SMTP_SERVER_INT_H
#define PTT_SMTP_SERVER_INT_H

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "smtp/data.h"
#include "smtp/sasl.h"
#include "smtp/server.h"
#include "util/buf.h"

#define SMTP_ID_LEN 10

enum phase {
	PH_HANDSHAKE,	/* implicit TLS or STARTTLS handshake running */
	PH_GREETING,	/* connect hook pending */
	PH_CMD,		/* reading command lines */
	PH_AUTH,	/* reading SASL response lines */
	PH_DATA,	/* reading DATA content */
	PH_BDAT,	/* reading a BDAT chunk */
	PH_STARTTLS,	/* flushing the 220 before TLS starts */
	PH_CLOSING,	/* flushing the last reply */
	PH_CLOSED,	/* socket gone */
};

enum pending {
	PEND_NONE = 0, PEND_CONNECT, PEND_HELO, PEND_AUTH, PEND_MAIL,
	PEND_RCPT, PEND_DATA, PEND_BDAT, PEND_MESSAGE,
};

struct listener {
	struct listener *next;
	struct smtp_server *srv;
	struct evconnlistener *lev;
	struct event *resume;	/* re-enables lev after an accept error */
	bool implicit_tls;
};

struct smtp_server {
	struct event_base *base;
	struct smtp_server_config cfg;
	char *hostname, *greeting;
	struct smtp_hooks hooks;
	void *arg;
	struct listener *listeners;
	struct smtp_session *sessions;
	unsigned nsessions;
	bool shutting_down;
	void (*done)(void *);
	void *done_arg;
};

struct smtp_session {
	struct smtp_server *srv;
	struct smtp_session *prev, *next;
	char id[SMTP_ID_LEN + 1];
	struct bufferevent *bev;
	SSL *ssl;
	char tlsdesc[160];
	char peer[64];
	int peer_port;
	struct smtp_session_info info;

	enum phase phase;
	enum pending pending;
	struct event *hook_timer;
	int depth;		/* nesting of our own callbacks */
	bool processing;	/* inside process() */
	bool discarding;	/* skipping the rest of an overlong line */
	bool shutdown;		/* draining: see smtp_server_shutdown */
	bool drain_mail;	/* a transaction began while draining: 421 at
				 * the next MAIL */
	void *data;

	/* session state */
	bool helo_done, esmtp, helo_valid;
	char helo[SMTP_MAX_DOMAIN + 1];
	bool authed;
	bool no_mail;		/* smtp_session_forbid_mail */
	char auth_user[SASL_MAX_FIELD + 1];
	struct sasl sasl;

	/* transaction */
	bool in_mail;
	struct smtp_path from;
	struct smtp_mail_params mail;
	struct smtp_rcpt *rcpt;
	size_t nrcpt, rcptcap;
	bool bdat;		/* this transaction used BDAT */
	bool data_started;	/* data hook accepted */
	struct buf msg;
	struct smtp_data dec;
	struct smtp_envelope env;
	uint64_t bdat_left;
	bool bdat_last;
	enum smtp_status bdat_status;	/* answer after discarding a chunk */
	int stash_code;			/* a hook's refusal for a BDAT */
	char stash_ecode[16];
	char *stash_text;

	/* the command being executed (hooks point into it) */
	struct smtp_cmd cmd;
	char line[SMTP_MAX_AUTHLINE + 2];

	/* counters for the disconnect log line */
	unsigned errors, ncmds;
	unsigned verb_total[SMTP_V_COUNT], verb_ok[SMTP_V_COUNT];
};

/* server.c */
void session_write_reply(struct smtp_session *s, int code, const char *ecode,
    const char *text);
void session_reply_status(struct smtp_session *s, enum smtp_status st);
void session_close(struct smtp_session *s);
void session_start_tls(struct smtp_session *s);
void session_hook_begin(struct smtp_session *s, enum pending p);
void session_set_timeout(struct smtp_session *s, unsigned secs);
unsigned session_ext(const struct smtp_session *s);
bool session_tls_offered(const struct smtp_session *s);
bool session_auth_offered(const struct smtp_session *s);

/* session.c */
void session_greet(struct smtp_session *s);
void session_process(struct smtp_session *s);
void session_hook_answer(struct smtp_session *s, enum pending p, int code,
    const char *ecode, const char *text);
void session_reset_txn(struct smtp_session *s);
void session_reset_all(struct smtp_session *s);

#endif

/*
 * proto.h - SMTP server side: command-line parsing and the one table that
 * maps internal statuses to SMTP replies.
 *
 * Implements the command grammar of RFC 5321 4.1.1 and 4.1.2 (paths with
 * source routes accepted and ignored, quoted local parts, address literals,
 * the null reverse-path), the length limits of 4.5.3.1, and the parameters
 * of SIZE (RFC 1870), BODY (RFC 6152, RFC 3030 BINARYMIME), SMTPUTF8
 * (RFC 6531), DSN (RFC 3461: RET, ENVID, NOTIFY, ORCPT with xtext), AUTH=
 * on MAIL (RFC 4954 5), BDAT (RFC 3030) and AUTH (RFC 4954 4).
 *
 * Trusts nothing: the line comes from the network. The parser reads it
 * through a bounds-checked cursor and copies what it keeps into fixed-size
 * fields of struct smtp_cmd (no allocation), so a parsed command owns
 * nothing and the caller may discard the line afterwards, except
 * cmd->arg / cmd->auth_ir which point into the line.
 */
#ifndef PTT_SMTP_PROTO_H
#define PTT_SMTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1 limits, in octets. */
#define SMTP_MAX_LOCAL		64
#define SMTP_MAX_DOMAIN		255
#define SMTP_MAX_PATH		256	/* including the angle brackets */
#define SMTP_MAX_CMDLINE	512	/* including CRLF, before extensions */
#define SMTP_MAX_TEXTLINE	1000	/* including CRLF */
/* Command lines grow with extensions (SIZE, DSN ENVID 100 and ORCPT 500,
 * AUTH=, SMTPUTF8): we allow this much for MAIL/RCPT, and RFC 4954's 12288
 * for AUTH and its continuation lines. */
#define SMTP_MAX_CMDLINE_EXT	2048
#define SMTP_MAX_AUTHLINE	12288
#define SMTP_MAX_ENVID		100	/* RFC 3461 4.4, decoded */
#define SMTP_MAX_ORCPT		500	/* RFC 3461 4.2, encoded */

enum smtp_verb {
	SMTP_V_UNKNOWN = 0,
	SMTP_V_HELO, SMTP_V_EHLO, SMTP_V_MAIL, SMTP_V_RCPT, SMTP_V_DATA,
	SMTP_V_BDAT, SMTP_V_RSET, SMTP_V_NOOP, SMTP_V_QUIT, SMTP_V_VRFY,
	SMTP_V_EXPN, SMTP_V_HELP, SMTP_V_STARTTLS, SMTP_V_AUTH,
	SMTP_V_COUNT
};

/* Extensions the parser accepts parameters of (bit set = offered). */
enum {
	SMTP_EXT_PIPELINING	= 1u << 0,
	SMTP_EXT_8BITMIME	= 1u << 1,
	SMTP_EXT_SMTPUTF8	= 1u << 2,
	SMTP_EXT_SIZE		= 1u << 3,
	SMTP_EXT_ENHANCED	= 1u << 4,	/* ENHANCEDSTATUSCODES */
	SMTP_EXT_CHUNKING	= 1u << 5,
	SMTP_EXT_BINARYMIME	= 1u << 6,
	SMTP_EXT_DSN		= 1u << 7,
	SMTP_EXT_STARTTLS	= 1u << 8,
	SMTP_EXT_AUTH		= 1u << 9,
	SMTP_EXT_ALL		= (1u << 10) - 1
};

enum smtp_body { SMTP_BODY_NONE = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_NONE = 0, SMTP_RET_FULL, SMTP_RET_HDRS };
enum {	/* RFC 3461 NOTIFY flags; 0: not given */
	SMTP_NOTIFY_NEVER	= 1u << 0,
	SMTP_NOTIFY_SUCCESS	= 1u << 1,
	SMTP_NOTIFY_FAILURE	= 1u << 2,
	SMTP_NOTIFY_DELAY	= 1u << 3
};

/*
 * A reverse- or forward-path. addr is the mailbox as written (local part
 * kept quoted when it was quoted, domain as given), "" for the null path
 * <>, "postmaster" for RCPT TO:<Postmaster> (RFC 5321 4.1.1.3).
 */
struct smtp_path {
	char addr[SMTP_MAX_PATH + 1];
	char local[SMTP_MAX_LOCAL + 1];
	char domain[SMTP_MAX_DOMAIN + 1];	/* "[1.2.3.4]" for literals */
	bool null;		/* <> */
	bool postmaster;	/* bare <postmaster> */
	bool utf8;		/* contains non-ASCII (needs SMTPUTF8) */
	bool literal;		/* domain is an address literal */
	bool quoted;		/* local part was a quoted string */
};

struct smtp_mail_params {
	uint64_t size;		/* SIZE= (has_size) */
	bool has_size;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	char envid[SMTP_MAX_ENVID + 1];		/* decoded xtext, "" if none */
	char envid_raw[3 * SMTP_MAX_ENVID + 1];	/* as sent (xtext) */
	char auth[SMTP_MAX_PATH + 1];		/* AUTH= xtext as sent, "" none */
};

struct smtp_rcpt_params {
	unsigned notify;			/* SMTP_NOTIFY_* or 0 */
	char orcpt_type[32];			/* "rfc822", "utf-8", "" none */
	char orcpt[SMTP_MAX_ORCPT + 1];		/* xtext as sent */
	char orcpt_addr[SMTP_MAX_ORCPT + 1];	/* decoded */
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;	/* text after "VERB " (points into the line) */
	size_t arglen;
	struct smtp_path path;			/* MAIL, RCPT */
	struct smtp_mail_params mail;		/* MAIL */
	struct smtp_rcpt_params rcpt;		/* RCPT */
	char helo[SMTP_MAX_DOMAIN + 1];		/* HELO, EHLO */
	bool helo_valid;	/* a Domain or address literal per RFC 5321 */
	uint64_t bdat_size;			/* BDAT */
	bool bdat_last;
	char auth_mech[21];			/* AUTH, upper-cased */
	const char *auth_ir;	/* AUTH initial response (into the line) */
	size_t auth_irlen;
};

/*
 * Internal statuses the server answers with. smtp_status_reply() is the
 * only place that turns one into a code, an enhanced code (RFC 3463) and
 * a text; keep it so.
 */
enum smtp_status {
	SMTP_ST_OK = 0,
	SMTP_ST_UNKNOWN_CMD,	/* 500 5.5.1 */
	SMTP_ST_LINE_TOO_LONG,	/* 500 5.5.2 */
	SMTP_ST_BARE_LF,	/* 500 5.5.2 */
	SMTP_ST_BARE_CR,	/* 500 5.5.2 */
	SMTP_ST_NUL,		/* 500 5.5.2 */
	SMTP_ST_SYNTAX,		/* 501 5.5.4 */
	SMTP_ST_NO_ARG,		/* 501 5.5.4 */
	SMTP_ST_EXTRA_ARG,	/* 501 5.5.4 */
	SMTP_ST_BAD_HELO,	/* 501 5.5.4 */
	SMTP_ST_BAD_SENDER,	/* 501 5.1.7 */
	SMTP_ST_BAD_RCPT,	/* 501 5.1.3 */
	SMTP_ST_PATH_TOO_LONG,	/* 501 5.1.3 (RFC 5321 4.5.3.1.10) */
	SMTP_ST_BAD_PARAM,	/* 501 5.5.4 */
	SMTP_ST_DUP_PARAM,	/* 501 5.5.4 */
	SMTP_ST_UNKNOWN_PARAM,	/* 555 5.5.4 */
	SMTP_ST_UTF8_ADDR,	/* 553 5.6.7 (RFC 6531 3.5) */
	SMTP_ST_NOT_IMPL,	/* 502 5.5.1 */
	SMTP_ST_BAD_SEQ,	/* 503 5.5.1 */
	SMTP_ST_NEED_HELO,	/* 503 5.5.1 */
	SMTP_ST_NEED_MAIL,	/* 503 5.5.1 */
	SMTP_ST_NESTED_MAIL,	/* 503 5.5.1 */
	SMTP_ST_NEED_RCPT,	/* 554 5.5.1 (RFC 5321 3.3) */
	SMTP_ST_DATA_BINARY,	/* 503 5.5.1 (RFC 3030 3: BINARYMIME needs BDAT) */
	SMTP_ST_MIXED_BDAT,	/* 503 5.5.1 (RFC 3030 2: no DATA after BDAT) */
	SMTP_ST_ALREADY_AUTH,	/* 503 5.5.1 (RFC 4954 4) */
	SMTP_ST_AUTH_IN_TXN,	/* 503 5.5.1 (RFC 4954 4) */
	SMTP_ST_ALREADY_TLS,	/* 503 5.5.1 (RFC 3207 4.2) */
	SMTP_ST_UNKNOWN_MECH,	/* 504 5.5.4 (RFC 4954 4) */
	SMTP_ST_TLS_REQUIRED,	/* 530 5.7.0 (RFC 3207 4) */
	SMTP_ST_AUTH_REQUIRED,	/* 530 5.7.0 (RFC 4954 6) */
	SMTP_ST_ENCRYPT_REQUIRED, /* 538 5.7.11 (RFC 4954 6) */
	SMTP_ST_AUTH_CANCELLED,	/* 501 5.0.0 (RFC 4954 4) */
	SMTP_ST_AUTH_BAD_B64,	/* 501 5.5.2 (RFC 4954 4) */
	SMTP_ST_AUTH_BAD,	/* 501 5.5.2: malformed SASL message */
	SMTP_ST_AUTH_FAILED,	/* 535 5.7.8 (RFC 4954 6) */
	SMTP_ST_AUTH_TEMP,	/* 454 4.7.0 (RFC 4954 6) */
	SMTP_ST_SIZE_DECLARED,	/* 552 5.3.4 (RFC 1870 6.1) */
	SMTP_ST_SIZE_EXCEEDED,	/* 552 5.3.4 (RFC 1870 6.3) */
	SMTP_ST_TOO_MANY_RCPTS,	/* 452 4.5.3 (RFC 5321 4.5.3.1.10) */
	SMTP_ST_MSG_BARE,	/* 554 5.6.0: bare CR or LF (smuggling) */
	SMTP_ST_MSG_LINE,	/* 554 5.6.0: text line over 1000 octets */
	SMTP_ST_TLS_UNAVAIL,	/* 454 4.7.0 (RFC 3207 4) */
	SMTP_ST_LOCAL_ERROR,	/* 451 4.3.0 */
	SMTP_ST_TIMEOUT,	/* 421 4.4.2 */
	SMTP_ST_TOO_MANY_ERRORS, /* 421 4.7.0 */
	SMTP_ST_SHUTDOWN,	/* 421 4.3.2 */
	SMTP_ST_CONN_REJECTED,	/* 554 5.7.1 */
	SMTP_ST_TOO_BUSY,	/* 421 4.3.2 */
	SMTP_ST_TLS_REFUSED,	/* 421 4.7.0: the tls hook refused the peer */
	SMTP_ST_COUNT
};

struct smtp_status_reply {
	int code;
	const char *ecode;	/* RFC 3463 enhanced code */
	const char *text;
};

/* The reply for a status (never NULL; unknown statuses map to 451). */
const struct smtp_status_reply *smtp_status_reply(enum smtp_status st);
/* The status for an internal PTT_E* error (util/err.h). */
enum smtp_status smtp_status_from_err(int err);

/* The verb's name ("MAIL"), or "?" */
const char *smtp_verb_name(enum smtp_verb v);

/*
 * Parse one command line (without its CRLF; len bytes, may hold any
 * bytes). ext: the SMTP_EXT_* bits offered, whose parameters are accepted.
 * Returns SMTP_ST_OK with cmd filled, or the status to answer. cmd->verb is
 * set even on a parameter error when the verb was recognised.
 */
enum smtp_status smtp_cmd_parse(const char *line, size_t len, unsigned ext,
    struct smtp_cmd *cmd);

/*
 * Parse a path "<...>" (RFC 5321 4.1.2) from p/len exactly. Returns
 * SMTP_ST_OK, SMTP_ST_PATH_TOO_LONG or SMTP_ST_SYNTAX. allow_null: accept
 * "<>"; allow_postmaster: accept "<postmaster>" (any case).
 */
enum smtp_status smtp_path_parse(const char *p, size_t len, bool allow_null,
    bool allow_postmaster, struct smtp_path *out);

/*
 * xtext (RFC 3461 4): check and decode. Returns the decoded length or -1
 * when malformed or when it does not fit in outlen-1 bytes; out is
 * NUL-terminated.
 */
long smtp_xtext_decode(const char *p, size_t len, char *out, size_t outlen);

/* true when p/len is well-formed UTF-8 (RFC 3629; no overlongs,
 * surrogates or code points past U+10FFFF). */
bool smtp_utf8_valid(const uint8_t *p, size_t len);

#endif

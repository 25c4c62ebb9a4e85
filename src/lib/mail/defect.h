/*
 * defect.h - what the mail parsers found wrong with a message.
 *
 * The parsers in src/lib/mail never stop at the first oddity of a hostile
 * or broken message: they degrade (RFC 2045 5.2: treat what they cannot
 * read as text/plain) and record each kind of problem as one bit in an
 * `unsigned defects` mask. Callers decide what matters to them: a DKIM
 * verifier may fail on MAIL_D_B64_GARBAGE, a spam filter may score
 * MAIL_D_MIME_NO_CLOSE, an MX may reject MAIL_D_LIMIT.
 */
#ifndef PTT_MAIL_DEFECT_H
#define PTT_MAIL_DEFECT_H

enum mail_defect {
	MAIL_D_LF_ONLY		= 1u << 0,	/* a line ended in LF without CR */
	MAIL_D_BARE_CR		= 1u << 1,	/* a CR not followed by LF */
	MAIL_D_NO_SEPARATOR	= 1u << 2,	/* no empty line between header and body */
	MAIL_D_BAD_LINE		= 1u << 3,	/* header line without a colon or a valid name */
	MAIL_D_OBS_WSP_COLON	= 1u << 4,	/* whitespace before a header colon (RFC 5322 4.5) */
	MAIL_D_LONG_LINE	= 1u << 5,	/* a line longer than 998 octets */
	MAIL_D_8BIT_HEADER	= 1u << 6,	/* octets >= 0x80 in a header (RFC 6532) */
	MAIL_D_NUL		= 1u << 7,	/* a NUL octet */
	MAIL_D_B64_GARBAGE	= 1u << 8,	/* non-alphabet octets in base64 */
	MAIL_D_B64_TRUNCATED	= 1u << 9,	/* base64 ended in the middle of a quantum */
	MAIL_D_QP_BAD_ESCAPE	= 1u << 10,	/* '=' not followed by two hex digits or a line break */
	MAIL_D_CHARSET		= 1u << 11,	/* unknown charset or invalid octets replaced by U+FFFD */
	MAIL_D_ENCODED_WORD	= 1u << 12,	/* malformed RFC 2047 encoded-word */
	MAIL_D_BAD_CTYPE	= 1u << 13,	/* unparsable Content-Type (treated as text/plain) */
	MAIL_D_BAD_CTE		= 1u << 14,	/* unknown Content-Transfer-Encoding */
	MAIL_D_BAD_PARAM	= 1u << 15,	/* malformed MIME parameter or RFC 2231 continuation */
	MAIL_D_NO_BOUNDARY	= 1u << 16,	/* multipart without a boundary or with none in the body */
	MAIL_D_NO_CLOSE		= 1u << 17,	/* multipart without its close delimiter */
	MAIL_D_DEPTH		= 1u << 18,	/* MIME nesting deeper than the limit (not descended) */
	MAIL_D_LIMIT		= 1u << 19,	/* a count or size limit was reached; content was dropped */
	MAIL_D_BAD_ADDRESS	= 1u << 20,	/* an address that does not parse */
};

/* Short stable name of one defect bit ("lf-only"), or "unknown". */
const char *mail_defect_name(unsigned bit);

#endif

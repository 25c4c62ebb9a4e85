/*
 * dnssec.h - DNSSEC signing keys of ptt-dns (RFC 4034, ECDSA P-256 SHA-256
 * = algorithm 13, RFC 6605).
 *
 * One combined signing key (flags 257) per zone, kept in the state
 * directory as K<zone>.private, zone without its final dot (ldns' private key format, mode 0600,
 * directory 0700), created on first use. The DS (RFC 4034 5, SHA-256 digest)
 * is what a parent or a validator's trust anchor needs.
 * Trusts: the state directory is ours.
 */
#ifndef PTT_DNSD_DNSSEC_H
#define PTT_DNSD_DNSSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <ldns/ldns.h>

/* Load (or, with create, make and save) the keys of zone. *out is a new
 * key list (caller frees with ldns_key_list_free). 0 or a PTT_E* code. */
int dnssec_keys_load(const char *state_dir, const char *zone, bool create,
    ldns_key_list **out, char *err, size_t errlen);
/* Print the DS record(s) of the keys, one line each. */
void dnssec_print_ds(FILE *f, const ldns_key_list *keys);

#endif

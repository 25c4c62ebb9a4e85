/* proto.c: SMTP server side; written by its owner. */

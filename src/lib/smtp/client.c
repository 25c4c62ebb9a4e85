/* client.c: SMTP client side; written by its owner. */

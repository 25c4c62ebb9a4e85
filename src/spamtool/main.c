/*
 * ptt-spam - the spam classifier's command line (train, classify, eval,
 * cv); the same commands run as `ptt spam ...`. See spam/cli.h.
 */
#include "spam/cli.h"
#include "util/log.h"

int
main(int argc, char **argv)
{
	log_init("ptt-spam");
	return spam_cli(argc - 1, argv + 1);
}

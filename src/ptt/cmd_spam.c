/*
 * cmd_spam.c - `ptt spam train|classify|eval|cv`: the statistical spam
 * classifier's command line (src/lib/spam/cli.c, shared with ptt-spam).
 *
 *   ptt spam train --ham DIR --spam DIR [-o MODEL]  (maildirs: cur/ and new/;
 *                                                 default MODEL: the one
 *                                                 the services read)
 *   ptt spam classify [-m MODEL] FILE|DIR...       PATH<TAB>spam|ham<TAB>SCORE
 *
 * Trusts its arguments (the operator's); messages go through lib/spam.
 */
#include "ptt/cmd.h"
#include "spam/cli.h"

int
cmd_spam(const struct ptt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	if (argc < 2) {
		say("spam: train, classify, eval or cv");
		return PTT_EXIT_USAGE;
	}
	return spam_cli(argc - 1, argv + 1) == 0 ? PTT_EXIT_OK : PTT_EXIT_FAIL;
}

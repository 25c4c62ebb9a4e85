/*
 * cli.h - the spam classifier's command line, shared by the standalone
 * `ptt-spam` and `ptt spam`:
 *
 *   train --ham DIR --spam DIR -o MODEL [options]
 *   classify [-m MODEL] [-r] FILE|DIR... PATH<TAB>spam|ham<TAB>SCORE
 *                                        (a DIR or maildir: each message)
 *   eval -m MODEL --ham DIR --spam DIR   ham flagged, spam caught, msgs/s
 *   cv --ham DIR --spam DIR [options]    cross-validated rates (tuning)
 *
 * Directories are read in file-name order (a maildir's cur/ and new/ too);
 * --suffix .txt keeps only names ending in .txt (the npm corpus ships a
 * .json twin of every message). Training options are listed by usage().
 * argv[0] is the subcommand. Returns the process exit status: 0, 1 on
 * errors (usage, unreadable files, a bad model); classify also exits 0
 * when it classified every file.
 */
#ifndef PTT_SPAM_CLI_H
#define PTT_SPAM_CLI_H

/* The model used when -m is not given and PTT_SPAM_MODEL is not set. */
#ifndef SPAM_MODEL_PATH
#define SPAM_MODEL_PATH "/usr/local/share/ptt/spam.model"
#endif

int spam_cli(int argc, char **argv);

#endif

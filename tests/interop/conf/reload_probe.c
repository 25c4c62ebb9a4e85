/*
 * reload_probe.c - a stand-in for a service that holds the users db of a
 * configuration repository and hot-reloads it (conf/users.h), driven line
 * by line from stdin so a test can change the repository in between:
 *	reload			-> "changed=0|1 users=N" or "error: ..."
 *	verify NAME PASSWORD	-> "yes" or "no"
 * usage: reload_probe URL [CACHE_DIR SSH_KEY HOST_KEY_PIN]
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conf/repo.h"
#include "conf/users.h"

int
main(int argc, char **argv)
{
	struct conf_repo_opts o = { 0 };
	struct conf_repo *r;
	struct users_db *db = NULL;
	char line[1024], err[512];

	if (argc != 2 && argc != 5)
		return 2;
	o.url = argv[1];
	if (argc == 5) {
		o.cache_dir = argv[2];
		o.ssh_key = argv[3];
		o.host_key = argv[4];
	}
	if (conf_repo_open(&r, &o, err, sizeof(err)) != 0) {
		printf("error: %s\n", err);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *name, *pw;
		bool changed;

		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "reload") == 0) {
			if (users_reload_if_changed(&db, r, &changed, err, sizeof(err)) != 0)
				printf("error: %s\n", err);
			else
				printf("changed=%d users=%zu\n", changed, users_count(db));
		} else if (strncmp(line, "verify ", 7) == 0 &&
		    (name = strtok(line + 7, " ")) != NULL &&
		    (pw = strtok(NULL, "")) != NULL) {
			printf("%s\n", users_verify_password(db, name, pw,
			    strlen(pw)) ? "yes" : "no");
		} else {
			printf("error: bad command\n");
		}
		fflush(stdout);
	}
	users_free(db);
	conf_repo_close(r);
	return 0;
}

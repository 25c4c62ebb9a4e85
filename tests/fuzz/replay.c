/*
 * replay.c - a main() for libFuzzer harnesses built without libFuzzer.
 *
 * Runs LLVMFuzzerTestOneInput once on every file named on the command line
 * (directories are walked one level deep) and prints one TAP line per
 * corpus, so `make check` replays every corpus under ASan/UBSan too.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long n;

	if (f == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		fclose(f);
		return -1;
	}
	rewind(f);
	data = malloc((size_t)n + 1);
	if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)n);
	free(data);
	return 0;
}

int
main(int argc, char **argv)
{
	int i, t = 0, failed = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		int files = 0, bad = 0;

		if (stat(argv[i], &st) != 0) {
			bad = 1;
		} else if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			char path[4096];

			while (d != NULL && (e = readdir(d)) != NULL) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
				if (run_file(path) != 0)
					bad = 1;
				files++;
			}
			if (d != NULL)
				closedir(d);
			else
				bad = 1;
		} else {
			bad = run_file(argv[i]) != 0;
			files = 1;
		}
		/* Reaching here means no input crashed the harness. */
		printf("%sok %d - replayed %d inputs from %s\n",
		    bad ? "not " : "", ++t, files, argv[i]);
		failed += bad;
	}
	printf("1..%d\n", t);
	return failed ? 1 : 0;
}

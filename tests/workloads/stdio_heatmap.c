/* STDIO bytes for the STDIO heatmap (tests/test_timelines.py): an excluded
 * file read through stdio, whose bytes belong in no heatmap; OUT written
 * through stdio 1000 bytes, then after a 250 ms pause (by when user space
 * has accepted its name) 2000 bytes; the count read, printed to stdout.
 * usage: stdio_heatmap OUT */
#include <stdio.h>
#include <time.h>

#define EXCLUDED "/etc/passwd"

static char buf[2000];

int main(int argc, char **argv)
{
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 250 * 1000 * 1000 };
	FILE *etc = fopen(EXCLUDED, "r");
	FILE *out = argc > 1 ? fopen(argv[1], "w") : NULL;
	size_t n;

	if (!etc || !out)
		return 1;
	n = fread(buf, 1, sizeof(buf), etc);
	fclose(etc);
	if (fwrite(buf, 1, 1000, out) != 1000 || fflush(out))
		return 1;
	nanosleep(&pause, NULL);
	if (fwrite(buf, 1, 2000, out) != 2000 || fclose(out))
		return 1;
	printf("%zu\n", n);
	return 0;
}

/* Opens argv[1] as a stream and fwrites 5 items of 100 bytes to it (flushed),
 * says "ready", waits for a line on stdin, then fwrites 7 more and closes:
 * a stream already in use when a recorder attaches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEM 100
#define BEFORE 5
#define AFTER 7

static void items(FILE *f, int n)
{
	char buf[ITEM];

	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < n; i++)
		if (fwrite(buf, sizeof(buf), 1, f) != 1)
			exit(2);
}

int main(int argc, char **argv)
{
	char line[16];
	FILE *f;

	if (argc != 2 || !(f = fopen(argv[1], "w")))
		return 1;
	items(f, BEFORE);
	fflush(f);
	printf("ready\n");
	fflush(stdout);
	/* blocked in fgets when the recorder attaches: a call in flight */
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	items(f, AFTER);
	return fclose(f) != 0;
}

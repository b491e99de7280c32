/* Writes 4 blocks to argv[1], says "ready", waits for a line on stdin, then
 * writes 3 more blocks and closes: a process to attach to mid-job. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096

static void blocks(int fd, int n)
{
	static char buf[BLOCK];

	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < n; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			_exit(2);
}

int main(int argc, char **argv)
{
	char line[16];
	int fd;

	if (argc != 2)
		return 1;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;
	blocks(fd, 4);
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	blocks(fd, 3);
	close(fd);
	return 0;
}

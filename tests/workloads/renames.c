/* Write 100 bytes to argv[1], rename it to argv[2], read it back there. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static char buf[100] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	int fd = argc > 2 ? open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0600) : -1;

	if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf) || close(fd))
		return 1;
	if (rename(argv[1], argv[2]))
		return 1;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != sizeof(buf))
		return 1;
	return close(fd) ? 1 : 0;
}

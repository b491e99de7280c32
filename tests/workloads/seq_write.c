/* 16 sequential 4 KiB writes from an aligned buffer, then close. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096
#define COUNT 16

static char buf[BLOCK] __attribute__((aligned(BLOCK)));

int main(int argc, char **argv)
{
	int fd;

	if (argc < 2)
		return 2;
	memset(buf, 'a', sizeof(buf));
	fd = open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0640);
	if (fd < 0)
		return 1;
	for (int i = 0; i < COUNT; i++)
		if (write(fd, buf, BLOCK) != BLOCK)
			return 1;
	return close(fd) ? 1 : 0;
}

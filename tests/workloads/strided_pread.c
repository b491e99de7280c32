/* 8 preads of 1000 bytes, one every 4096 bytes, on an existing file. */
#include <fcntl.h>
#include <unistd.h>

#define SIZE 1000
#define STEP 4096
#define COUNT 8

static char buf[SIZE] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	int fd = argc > 1 ? open(argv[1], O_RDONLY) : -1;

	if (fd < 0)
		return 1;
	for (int i = 0; i < COUNT; i++)
		if (pread(fd, buf, SIZE, (off_t)i * STEP) != SIZE)
			return 1;
	return close(fd) ? 1 : 0;
}

/* Three 10-byte O_APPEND writes to a file that already holds 100 bytes. */
#include <fcntl.h>
#include <unistd.h>

static char buf[10] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	int fd = argc > 1 ? open(argv[1], O_WRONLY | O_APPEND) : -1;

	if (fd < 0)
		return 1;
	for (int i = 0; i < 3; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			return 1;
	return close(fd) ? 1 : 0;
}

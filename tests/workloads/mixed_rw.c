/* write 3 x 100, lseek to 0, read 3 x 100, write 100: two RW switches. */
#include <fcntl.h>
#include <unistd.h>

static char buf[100] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	int fd = argc > 1 ? open(argv[1], O_CREAT | O_TRUNC | O_RDWR, 0600) : -1;

	if (fd < 0)
		return 1;
	for (int i = 0; i < 3; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			return 1;
	if (lseek(fd, 0, SEEK_SET) != 0)
		return 1;
	for (int i = 0; i < 3; i++)
		if (read(fd, buf, sizeof(buf)) != sizeof(buf))
			return 1;
	if (write(fd, buf, sizeof(buf)) != sizeof(buf))
		return 1;
	return close(fd) ? 1 : 0;
}

/* writev (100+200), pwritev2 at 1000 (50+50), readv from 0 (100+200),
 * preadv at 1000 (100), preadv2 with offset -1 (current position). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

static char a[200] __attribute__((aligned(64)));
static char b[200] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	struct iovec two[2] = { { a, 100 }, { b, 200 } };
	struct iovec halves[2] = { { a, 50 }, { b, 50 } };
	struct iovec one[1] = { { a, 100 } };
	int fd = argc > 1 ? open(argv[1], O_CREAT | O_TRUNC | O_RDWR, 0600) : -1;

	if (fd < 0)
		return 1;
	if (writev(fd, two, 2) != 300)
		return 1;
	if (pwritev2(fd, halves, 2, 1000, 0) != 100)
		return 1;
	if (lseek(fd, 0, SEEK_SET) != 0)
		return 1;
	if (readv(fd, two, 2) != 300)
		return 1;
	if (preadv(fd, one, 1, 1000) != 100)
		return 1;
	if (preadv2(fd, one, 1, -1, 0) != 100)
		return 1;
	return close(fd) ? 1 : 0;
}

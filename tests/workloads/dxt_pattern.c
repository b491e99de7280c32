/* Reads and writes whose DXT segments are known: pwrites out of order, a
 * write at the file position pwrite left alone, reads at the position, a
 * short pread at the end of the file and an empty one past it. */
#include <fcntl.h>
#include <unistd.h>

static char buf[1000] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	int fd = argc > 1 ? open(argv[1], O_CREAT | O_TRUNC | O_RDWR, 0600) : -1;

	if (fd < 0)
		return 1;
	if (pwrite(fd, buf, 100, 8192) != 100 || pwrite(fd, buf, 200, 0) != 200 ||
	    write(fd, buf, 300) != 300 || write(fd, buf, 50) != 50)
		return 1;
	if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, 250) != 250 ||
	    read(fd, buf, 250) != 250)
		return 1;
	if (pread(fd, buf, 1000, 8000) != 292 || pread(fd, buf, 10, 9000) != 0)
		return 1;
	return close(fd) ? 1 : 0;
}

/* Built with _FORTIFY_SOURCE=2: `fortify_pread FILE SIZE` does 8 preads of
 * SIZE bytes, one every 4096 bytes.  SIZE comes from the command line, so
 * glibc cannot check it at compile time and calls __pread_chk, which an
 * interposer wrapping pread never sees. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define BUF 4096
#define STEP 4096
#define COUNT 8

static char buf[BUF];

int main(int argc, char **argv)
{
	int fd = argc > 2 ? open(argv[1], O_RDONLY) : -1;
	size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;

	/* No check of size against BUF here: it would let the compiler
	 * prove the call safe and drop the fortified one. */
	if (fd < 0)
		return 1;
	for (int i = 0; i < COUNT; i++)
		if (pread(fd, buf, size, (off_t)i * STEP) != (ssize_t)size)
			return 1;
	return close(fd) ? 1 : 0;
}

/* I/O through syscall(2) only, bypassing every libc wrapper. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[256] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	long fd = argc > 1 ? syscall(SYS_openat, AT_FDCWD, argv[1],
				     O_CREAT | O_TRUNC | O_RDWR, 0600) : -1;

	if (fd < 0)
		return 1;
	for (int i = 0; i < 4; i++)
		if (syscall(SYS_write, fd, buf, sizeof(buf)) != sizeof(buf))
			return 1;
	if (syscall(SYS_pread64, fd, buf, sizeof(buf), 0) != sizeof(buf))
		return 1;
	return syscall(SYS_close, fd) ? 1 : 0;
}

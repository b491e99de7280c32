/* Open two files, write to each, and close both with one close_range(). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int a = argc > 2 ? open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0600) : -1;
	int b = argc > 2 ? open(argv[2], O_CREAT | O_TRUNC | O_WRONLY, 0600) : -1;

	if (a < 0 || b < 0 || write(a, "a", 1) != 1 || write(b, "b", 1) != 1)
		return 1;
	if (syscall(SYS_close_range, 3, ~0U, 0))
		return 1;
	return write(a, "a", 1) == -1 ? 0 : 1;  /* really closed */
}

/* stat, lstat, fstat, fstatat and statx on one regular file, then a stat of
 * a directory (not a regular file: not counted). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct stat st;
	struct statx sx;
	int fd = argc > 2 ? open(argv[1], O_RDONLY) : -1;

	if (fd < 0)
		return 1;
	if (stat(argv[1], &st) || lstat(argv[1], &st) || fstat(fd, &st) ||
	    fstatat(AT_FDCWD, argv[1], &st, 0) ||
	    statx(AT_FDCWD, argv[1], 0, STATX_BASIC_STATS, &sx))
		return 1;
	if (stat(argv[2], &st))
		return 1;
	return close(fd) ? 1 : 0;
}

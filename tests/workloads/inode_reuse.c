/* Three files made one after another in one directory, each deleted before
 * the next is made, so that the file system (ext4 does) gives the next one
 * the same inode number.  File i gets i writes of 10 * i bytes; every
 * inode number is printed. */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

static char buf[30];

int main(int argc, char **argv)
{
	char path[4096];

	if (argc < 2)
		return 1;
	for (int i = 1; i <= 3; i++) {
		struct stat sb;
		int fd;

		snprintf(path, sizeof(path), "%s/file%d", argv[1], i);
		fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		if (fd < 0 || fstat(fd, &sb))
			return 1;
		for (int w = 0; w < i; w++)
			if (write(fd, buf, 10 * i) != 10 * i)
				return 1;
		printf("%llu\n", (unsigned long long)sb.st_ino);
		if (close(fd) || (i < 3 && unlink(path)))
			return 1;
	}
	return 0;
}

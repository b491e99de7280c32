/* Create N files (argv[2]) in directory argv[1], one byte each. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096];
	int n = argc > 2 ? atoi(argv[2]) : 0;

	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%05d", argv[1], i);
		fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		if (fd < 0 || write(fd, "x", 1) != 1 || close(fd))
			return 1;
	}
	return 0;
}

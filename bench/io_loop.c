/* The benchmark loop: `io_loop write1|pread4k|getppid|fwrite1|fread1 FILE N`
 * does N calls and prints the mean nanoseconds per call, timed inside the
 * process.  fwrite1/fread1 move one byte through a stdio stream. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PREAD_SIZE 4096

static char buf[PREAD_SIZE] __attribute__((aligned(PREAD_SIZE)));

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int stdio_loop(const char *mode, const char *path, long n)
{
	FILE *f = fopen(path, "r+");
	long long t0, t1;

	if (!f)
		return 1;
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (!strcmp(mode, "fwrite1"))
			fwrite(buf, 1, 1, f);
		else if (fread(buf, 1, 1, f) != 1)
			rewind(f);
	}
	t1 = now_ns();
	printf("%.1f\n", (double)(t1 - t0) / n);
	return fclose(f);
}

int main(int argc, char **argv)
{
	long long t0, t1;
	long n;
	int fd;

	if (argc < 4)
		return 2;
	n = atol(argv[3]);
	fd = open(argv[2], O_CREAT | O_RDWR, 0600);
	if (fd < 0 || pwrite(fd, buf, PREAD_SIZE, 0) != PREAD_SIZE)
		return 1;
	if (argv[1][0] == 'f')
		return stdio_loop(argv[1], argv[2], n);
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (!strcmp(argv[1], "write1"))
			write(fd, buf, 1);
		else if (!strcmp(argv[1], "pread4k"))
			pread(fd, buf, PREAD_SIZE, 0);
		else
			getppid();
	}
	t1 = now_ns();
	printf("%.1f\n", (double)(t1 - t0) / n);
	return close(fd);
}

/* A 1000-byte write, a 250 ms pause, a 2000-byte write: the heatmap's
 * 0.1 s bins 0 and 2 get them. */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static char buf[2000] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 250 * 1000 * 1000 };
	int fd = argc > 1 ? open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0600) : -1;

	if (fd < 0 || write(fd, buf, 1000) != 1000)
		return 1;
	nanosleep(&pause, NULL);
	if (write(fd, buf, 2000) != 2000)
		return 1;
	return close(fd) ? 1 : 0;
}

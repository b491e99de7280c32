/* open, then dup, dup2, dup3 and fcntl(F_DUPFD): one write through each. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

static char buf[8] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	int fds[5];

	fds[0] = argc > 1 ? open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0600) : -1;
	if (fds[0] < 0)
		return 1;
	fds[1] = dup(fds[0]);
	fds[2] = dup2(fds[0], 20);
	fds[3] = dup3(fds[0], 21, O_CLOEXEC);
	fds[4] = fcntl(fds[0], F_DUPFD, 30);
	for (int i = 0; i < 5; i++)
		if (fds[i] < 0 || write(fds[i], buf, sizeof(buf)) != sizeof(buf))
			return 1;
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	return 0;
}

/* The parent opens and writes 10 bytes, forks; the child writes 20 bytes
 * twice through the inherited fd; then the parent writes 10 more. */
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[20] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	int status;
	pid_t pid;
	int fd = argc > 1 ? open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0600) : -1;

	if (fd < 0 || write(fd, buf, 10) != 10)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (write(fd, buf, 20) != 20 || write(fd, buf, 20) != 20)
			_exit(1);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	if (write(fd, buf, 10) != 10)
		return 1;
	return close(fd) ? 1 : 0;
}

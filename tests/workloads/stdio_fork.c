/* A child that is forked, not exec'd, writes through stdio: its probes must
 * be in place before it runs.  `stdio_fork PARENT_FILE CHILD_FILE` */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_lines(const char *path, int lines)
{
	FILE *f = fopen(path, "w");

	for (int i = 0; i < lines; i++)
		fprintf(f, "line %d\n", i);
	fclose(f);
}

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	if (argc < 3)
		return 2;
	pid = fork();
	if (pid == 0) {
		write_lines(argv[2], 3);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	write_lines(argv[1], 2);
	return WEXITSTATUS(status);
}

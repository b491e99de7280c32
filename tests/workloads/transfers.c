/* I/O that never passes through read(2) or write(2): `transfers DIR`
 * writes DIR/src (8 KiB), then copies it with copy_file_range, sends half
 * of it with sendfile, moves 1000 bytes through a pipe with splice, grows
 * and shrinks the copy with fallocate and ftruncate, and unlinks the
 * spliced file.  Every call must move exactly what it was asked to. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define SRC_LEN 8192
#define SENT_OFF 4096
#define SPLICED 1000
#define FALLOC_LEN 65536
#define TRUNC_LEN 100

static char buf[SRC_LEN];

static int open_in(const char *dir, const char *name, int flags)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return open(path, flags | O_CREAT, 0600);
}

int main(int argc, char **argv)
{
	int src, copy, sent, spliced, pipefd[2];
	loff_t in = 0, sent_off = SENT_OFF;
	char path[PATH_MAX];

	if (argc < 2 || pipe(pipefd))
		return 2;
	src = open_in(argv[1], "src", O_RDWR | O_TRUNC);
	copy = open_in(argv[1], "copy", O_WRONLY | O_TRUNC);
	sent = open_in(argv[1], "sent", O_WRONLY | O_TRUNC);
	spliced = open_in(argv[1], "spliced", O_WRONLY | O_TRUNC);
	if (src < 0 || copy < 0 || sent < 0 || spliced < 0)
		return 1;
	if (write(src, buf, SRC_LEN) != SRC_LEN ||
	    copy_file_range(src, &in, copy, NULL, SRC_LEN, 0) != SRC_LEN ||
	    sendfile(sent, src, &sent_off, SRC_LEN - SENT_OFF) != SRC_LEN - SENT_OFF)
		return 1;
	in = 0;
	if (splice(src, &in, pipefd[1], NULL, SPLICED, 0) != SPLICED ||
	    splice(pipefd[0], NULL, spliced, NULL, SPLICED, 0) != SPLICED)
		return 1;
	if (fallocate(copy, 0, 0, FALLOC_LEN) || ftruncate(copy, TRUNC_LEN))
		return 1;
	snprintf(path, sizeof(path), "%s/spliced", argv[1]);
	if (close(src) || close(copy) || close(sent) || close(spliced) || unlink(path))
		return 1;
	return 0;
}

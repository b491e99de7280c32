/* I/O submitted only through io_uring (liburing), one request at a time:
 * `uring_io FILE` opens FILE, writes 4 x 4 KiB at 0, 4096, 8192, 12288,
 * fsyncs, reads 4 KiB at 0 and 8192, readv 4 KiB at 4096, statx, close. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define BLOCK 4096
#define WRITES 4

static char buf[BLOCK];
static struct io_uring ring;

/* Submit the prepared request, wait for it, return its result. */
static int run(void)
{
	struct io_uring_cqe *cqe;
	int res;

	if (io_uring_submit(&ring) != 1 || io_uring_wait_cqe(&ring, &cqe))
		return -1;
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

int main(int argc, char **argv)
{
	struct iovec iov = { buf, BLOCK };
	struct statx st;
	int fd;

	if (argc < 2 || io_uring_queue_init(4, &ring, 0))
		return 2;
	io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, argv[1],
			     O_CREAT | O_RDWR | O_TRUNC, 0640);
	fd = run();
	if (fd < 0)
		return 1;
	for (int i = 0; i < WRITES; i++) {
		io_uring_prep_write(io_uring_get_sqe(&ring), fd, buf, BLOCK, i * BLOCK);
		if (run() != BLOCK)
			return 1;
	}
	io_uring_prep_fsync(io_uring_get_sqe(&ring), fd, 0);
	if (run())
		return 1;
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, BLOCK, 0);
	if (run() != BLOCK)
		return 1;
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, BLOCK, 2 * BLOCK);
	if (run() != BLOCK)
		return 1;
	io_uring_prep_readv(io_uring_get_sqe(&ring), fd, &iov, 1, BLOCK);
	if (run() != BLOCK)
		return 1;
	io_uring_prep_statx(io_uring_get_sqe(&ring), AT_FDCWD, argv[1], 0, STATX_BASIC_STATS, &st);
	if (run())
		return 1;
	io_uring_prep_close(io_uring_get_sqe(&ring), fd);
	if (run())
		return 1;
	io_uring_queue_exit(&ring);
	return 0;
}

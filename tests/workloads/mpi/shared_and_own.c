/* MPI job with known I/O: every rank writes rank+1 blocks of 1000 bytes to
 * DIR/shared.dat at offset rank*4000 (pwrite), reads 1000 bytes back at the
 * same offset, and writes two 100-byte blocks to its own DIR/rank<N>.dat. */
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BLOCK 1000
#define RANK_SPAN 4000
#define OWN_BLOCK 100

static char buf[BLOCK];

int main(int argc, char **argv)
{
	char path[4096];
	int rank, fd, i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);

	snprintf(path, sizeof(path), "%s/shared.dat", argv[1]);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		perror(path);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	for (i = 0; i <= rank; i++)
		if (pwrite(fd, buf, BLOCK, (off_t)rank * RANK_SPAN + i * BLOCK) != BLOCK)
			MPI_Abort(MPI_COMM_WORLD, 1);
	if (pread(fd, buf, BLOCK, (off_t)rank * RANK_SPAN) != BLOCK)
		MPI_Abort(MPI_COMM_WORLD, 1);
	close(fd);

	snprintf(path, sizeof(path), "%s/rank%d.dat", argv[1], rank);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, OWN_BLOCK) != OWN_BLOCK || write(fd, buf, OWN_BLOCK) != OWN_BLOCK)
		MPI_Abort(MPI_COMM_WORLD, 1);
	close(fd);

	MPI_Finalize();
	return 0;
}

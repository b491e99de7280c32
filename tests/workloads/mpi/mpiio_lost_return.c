/* MPI-IO workload one of whose calls never returns (tests/test_mpiio.py):
 * the file's error handler longjmps out of an MPI_File_write_at that the
 * library refuses (a negative count), so its return probe never fires.
 * Then the calls whose counts are known: WRITES writes and READS reads of
 * BLOCK bytes at explicit offsets, and the close, on each rank's own
 * file DIR/rank<N>.dat opened on MPI_COMM_SELF.  Exits 2 if the error
 * handler was not called.
 * usage: mpiio_lost_return DIR */
#include <mpi.h>
#include <setjmp.h>
#include <stdio.h>

#define BLOCK 100
#define WRITES 3
#define READS 2
#define HANDLER_NOT_CALLED 2

static jmp_buf out;
static char buf[BLOCK];

static void jump_out(MPI_File *fh, int *err, ...)
{
	longjmp(out, 1);
}

/* The refused write, made from a frame below main's, as when a library
 * callback deep in the application leaves the call.  Whether the handler
 * left it. */
static __attribute__((noinline)) int lose_a_return(MPI_File fh)
{
	if (setjmp(out))
		return 1;
	MPI_File_write_at(fh, 0, buf, -1, MPI_BYTE, MPI_STATUS_IGNORE);
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096];
	MPI_Errhandler handler;
	MPI_File fh;
	int rank, i;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	snprintf(path, sizeof(path), "%s/rank%d.dat", argv[1], rank);
	MPI_File_open(MPI_COMM_SELF, path, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL, &fh);
	MPI_File_create_errhandler(jump_out, &handler);
	MPI_File_set_errhandler(fh, handler);
	if (!lose_a_return(fh))
		return HANDLER_NOT_CALLED;
	MPI_File_set_errhandler(fh, MPI_ERRORS_RETURN);
	for (i = 0; i < WRITES; i++)
		MPI_File_write_at(fh, (MPI_Offset)i * BLOCK, buf, BLOCK, MPI_BYTE,
				  MPI_STATUS_IGNORE);
	for (i = 0; i < READS; i++)
		MPI_File_read_at(fh, (MPI_Offset)i * BLOCK, buf, BLOCK, MPI_BYTE,
				 MPI_STATUS_IGNORE);
	MPI_File_close(&fh);
	MPI_Errhandler_free(&handler);
	MPI_Finalize();
	return 0;
}

/* The MPI-IO benchmark loop: `mpiio_loop FILE N` opens FILE on
 * MPI_COMM_SELF, does N MPI_File_write_at calls of one MPI_BYTE each and
 * prints the mean nanoseconds per call, timed inside the process. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define NS_PER_S 1e9

int main(int argc, char **argv)
{
	MPI_File fh;
	char byte = 'x';
	long n = argc > 2 ? atol(argv[2]) : 0;
	double t0, t1;

	MPI_Init(&argc, &argv);
	if (argc < 3 || MPI_File_open(MPI_COMM_SELF, argv[1], MPI_MODE_CREATE | MPI_MODE_WRONLY,
				      MPI_INFO_NULL, &fh) != MPI_SUCCESS)
		MPI_Abort(MPI_COMM_WORLD, 1);
	t0 = MPI_Wtime();
	for (long i = 0; i < n; i++)
		MPI_File_write_at(fh, i, &byte, 1, MPI_BYTE, MPI_STATUS_IGNORE);
	t1 = MPI_Wtime();
	printf("%.1f\n", (t1 - t0) * NS_PER_S / n);
	MPI_File_close(&fh);
	MPI_Finalize();
	return 0;
}

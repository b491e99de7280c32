/* MPI-IO workload with known counts per rank (tests/test_mpiio.py):
 * every read/write flavour on one shared file, then a per-rank file opened
 * twice on MPI_COMM_SELF (after an open that fails), its name under PREFIX (ROMIO takes "ufs:",
 * Open MPI's own ompio none).
 * usage: mpiio_rw DIR [PREFIX] */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#define RANK_STRIDE 65536
#define NINTS 1024
#define NDOUBLES 512
#define NB_BYTES 100
#define SPLIT_CHARS 256
#define SPLIT_INTS 10
#define SHARED_BYTES 8
#define VECTOR_INTS 8
#define VECTORS 3
#define FILE_SIZE (1 << 20)
#define SELF_WRITE 10
#define SELF_READ 5

static char buf[8 * NINTS];

int main(int argc, char **argv)
{
	char path[4096];
	int rank;
	MPI_File fh;
	MPI_Info hints;
	MPI_Datatype vector;
	MPI_Request req;
	MPI_Offset base;
	int amode = MPI_MODE_CREATE | MPI_MODE_RDWR;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Info_create(&hints);
	MPI_Info_set(hints, "access_style", "write_once");
	MPI_Type_contiguous(VECTOR_INTS, MPI_INT, &vector);
	MPI_Type_commit(&vector);
	base = (MPI_Offset)rank * RANK_STRIDE;
	memset(buf, 'x', sizeof(buf));

	snprintf(path, sizeof(path), "%s/shared.dat", argv[1]);
	MPI_File_open(MPI_COMM_WORLD, path, amode, MPI_INFO_NULL, &fh);
	MPI_File_write_at(fh, base, buf, NINTS, MPI_INT, MPI_STATUS_IGNORE);
	MPI_File_write_at(fh, base + 4096, buf, NINTS, MPI_INT, MPI_STATUS_IGNORE);
	MPI_File_write_at(fh, base + 8192, buf, VECTORS, vector, MPI_STATUS_IGNORE);
	MPI_File_write_at_all(fh, base + 16384, buf, NDOUBLES, MPI_DOUBLE, MPI_STATUS_IGNORE);
	MPI_File_iwrite_at(fh, base + 20480, buf, NB_BYTES, MPI_BYTE, &req);
	MPI_Wait(&req, MPI_STATUS_IGNORE);
	MPI_File_write_all_begin(fh, buf, SPLIT_CHARS, MPI_CHAR);
	MPI_File_write_all_end(fh, buf, MPI_STATUS_IGNORE);
	MPI_File_sync(fh);
	MPI_File_read_at(fh, base, buf, NINTS, MPI_INT, MPI_STATUS_IGNORE);
	MPI_File_read_at_all(fh, base + 16384, buf, NDOUBLES, MPI_DOUBLE, MPI_STATUS_IGNORE);
	MPI_File_iread_at(fh, base + 20480, buf, NB_BYTES, MPI_BYTE, &req);
	MPI_Wait(&req, MPI_STATUS_IGNORE);
	MPI_File_read_all_begin(fh, buf, SPLIT_INTS, MPI_INT);
	MPI_File_read_all_end(fh, buf, MPI_STATUS_IGNORE);
	MPI_File_write_shared(fh, buf, SHARED_BYTES, MPI_BYTE, MPI_STATUS_IGNORE);
	MPI_File_write_ordered(fh, buf, SHARED_BYTES, MPI_BYTE, MPI_STATUS_IGNORE);
	MPI_File_set_view(fh, 0, MPI_BYTE, MPI_BYTE, "native", hints);
	MPI_File_set_size(fh, FILE_SIZE);
	MPI_File_preallocate(fh, FILE_SIZE);
	MPI_File_close(&fh);

	/* fails (no such directory): not counted */
	snprintf(path, sizeof(path), "%s/missing/rank%d.dat", argv[1], rank);
	if (MPI_File_open(MPI_COMM_SELF, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh) == MPI_SUCCESS)
		MPI_Abort(MPI_COMM_WORLD, 1);

	snprintf(path, sizeof(path), "%s%s/rank%d.dat", argc > 2 ? argv[2] : "", argv[1], rank);
	MPI_File_open(MPI_COMM_SELF, path, MPI_MODE_CREATE | MPI_MODE_WRONLY, hints, &fh);
	MPI_File_write(fh, buf, SELF_WRITE, MPI_BYTE, MPI_STATUS_IGNORE);
	MPI_File_close(&fh);
	MPI_File_open(MPI_COMM_SELF, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
	MPI_File_read(fh, buf, SELF_READ, MPI_BYTE, MPI_STATUS_IGNORE);
	MPI_File_close(&fh);

	if (rank == 0)
		printf("%d %d\n", amode, MPI_MODE_RDONLY);
	MPI_Type_free(&vector);
	MPI_Info_free(&hints);
	MPI_Finalize();
	return 0;
}

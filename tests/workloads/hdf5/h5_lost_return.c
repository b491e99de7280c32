/* HDF5 workload one of whose calls never returns (tests/test_hdf5.py):
 * the error stack's handler longjmps out of an H5Dwrite that fails (an
 * invalid dataset), so its return probe never fires.  Then the calls
 * whose counts are known: a dataset of N ints written WRITES times and
 * read READS times, closed, and its file closed.  Exits 2 if the handler
 * was not called.
 * usage: h5_lost_return FILE */
#define H5_USE_110_API
#include <hdf5.h>
#include <setjmp.h>

#define N 16
#define WRITES 3
#define READS 2
#define HANDLER_NOT_CALLED 2

static jmp_buf out;
static int data[N];

static herr_t jump_out(hid_t stack, void *client_data)
{
	longjmp(out, 1);
}

/* The failing write, made from a frame below main's, as when a library
 * callback deep in the application leaves the call.  Whether the handler
 * left it. */
static __attribute__((noinline)) int lose_a_return(void)
{
	if (setjmp(out))
		return 1;
	H5Dwrite(H5I_INVALID_HID, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	return 0;
}

int main(int argc, char **argv)
{
	hsize_t dims[1] = {N};
	hid_t file, space, dset;
	int i;

	file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	space = H5Screate_simple(1, dims, NULL);
	dset = H5Dcreate2(file, "ints", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT,
			  H5P_DEFAULT);
	H5Eset_auto2(H5E_DEFAULT, jump_out, NULL);
	if (!lose_a_return())
		return HANDLER_NOT_CALLED;
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	for (i = 0; i < WRITES; i++)
		H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	for (i = 0; i < READS; i++)
		H5Dread(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dclose(dset);
	H5Sclose(space);
	H5Fclose(file);
	return 0;
}

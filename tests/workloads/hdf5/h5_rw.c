/* HDF5 workload with known calls (tests/test_hdf5.py): a file with a
 * dataset at the root, a chunked 2-D one and one in a group, written,
 * flushed, read back,
 * reopened with the deprecated H5Dopen1 and through H5Oopen; two opens
 * fail.
 * usage: h5_rw FILE */
#define H5_USE_110_API
#include <hdf5.h>

#define N 64
#define ROWS 10
#define COLS 20
#define CHUNK_ROWS 5
#define CHUNK_COLS 4

int main(int argc, char **argv)
{
	int data[N] = {0};
	static int grid[ROWS * COLS];
	hsize_t dims[1] = {N}, grid_dims[2] = {ROWS, COLS}, chunk[2] = {CHUNK_ROWS, CHUNK_COLS};
	hid_t file, space, dset, group, gdset, obj, grid_space, dcpl;

	file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	space = H5Screate_simple(1, dims, NULL);
	dset = H5Dcreate2(file, "ints", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT,
			  H5P_DEFAULT);
	H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dflush(dset);
	H5Dread(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dclose(dset);
	grid_space = H5Screate_simple(2, grid_dims, NULL);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_chunk(dcpl, 2, chunk);
	dset = H5Dcreate2(file, "chunked", H5T_NATIVE_INT, grid_space, H5P_DEFAULT, dcpl,
			  H5P_DEFAULT);
	H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, grid);
	H5Dclose(dset);
	H5Pclose(dcpl);
	H5Sclose(grid_space);
	group = H5Gcreate2(file, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	gdset = H5Dcreate2(group, "inner", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT,
			   H5P_DEFAULT);
	H5Dwrite(gdset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dclose(gdset);
	H5Gclose(group);
	H5Fflush(file, H5F_SCOPE_GLOBAL);
	H5Sclose(space);
	H5Fclose(file);

	/* fails (no such dataset, no such file): not counted */
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
	if (H5Dopen2(file, "missing", H5P_DEFAULT) >= 0 ||
	    H5Fopen("/nonexistent/dir/file.h5", H5F_ACC_RDONLY, H5P_DEFAULT) >= 0)
		return 1;
	dset = H5Dopen1(file, "ints");
	H5Dread(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dclose(dset);
	obj = H5Oopen(file, "/grp/inner", H5P_DEFAULT);
	H5Dread(obj, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Oclose(obj);
	H5Fclose(file);
	return 0;
}

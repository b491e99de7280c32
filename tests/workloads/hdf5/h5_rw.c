/* HDF5 workload with known calls (tests/test_hdf5.py): a file with a
 * dataset at the root and one in a group, written, flushed, read back,
 * reopened with the deprecated H5Dopen1 and through H5Oopen; two opens
 * fail.
 * usage: h5_rw FILE */
#define H5_USE_110_API
#include <hdf5.h>

#define N 64

int main(int argc, char **argv)
{
	int data[N] = {0};
	hsize_t dims[1] = {N};
	hid_t file, space, dset, group, gdset, obj;

	file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	space = H5Screate_simple(1, dims, NULL);
	dset = H5Dcreate2(file, "ints", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT,
			  H5P_DEFAULT);
	H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dflush(dset);
	H5Dread(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dclose(dset);
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

/* The kernel matrix's STDIO smoke workload: `stdio_smoke FILE` writes FILE
 * with 1000 one-byte fwrite calls, so a recording must show STDIO_WRITES=1000
 * and STDIO_BYTES_WRITTEN=1000 (POSIX sees one buffered write).  Built by
 * kernels/matrix.py with -fno-builtin: gcc would otherwise turn a one-byte
 * fwrite into fputc. */
#include <stdio.h>

int main(int argc, char **argv)
{
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 0; i < 1000; i++)
		fwrite("x", 1, 1, f);
	return fclose(f) == 0 ? 0 : 1;
}

/* stdio workload one of whose calls never returns (tests/test_stdio.py):
 * the write function of an unbuffered custom stream (fopencookie, a
 * stream Darshan does not count) longjmps out of an fwrite, so its return
 * probe never fires.  Then the calls whose counts are known: FILE_WRITES
 * fwrites of BLOCK bytes to FILE, opened and closed.  Exits 2 if the
 * stream's write function was not called.
 * usage: stdio_lost_return FILE */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdio.h>

#define BLOCK 100
#define FILE_WRITES 3
#define HANDLER_NOT_CALLED 2

static jmp_buf out;
static char buf[BLOCK];

static ssize_t jump_out(void *cookie, const char *data, size_t n)
{
	longjmp(out, 1);
}

/* The write, made from a frame below main's, as when a callback deep in
 * the application leaves the call.  Whether the write function left it. */
static __attribute__((noinline)) int lose_a_return(void)
{
	cookie_io_functions_t io = { .write = jump_out };
	FILE *f = fopencookie(0, "w", io);

	if (!f || setvbuf(f, 0, _IONBF, 0))
		return 0;
	if (setjmp(out))
		return 1;
	fwrite(buf, 1, BLOCK, f);
	return 0;
}

int main(int argc, char **argv)
{
	FILE *f;
	int i;

	if (!lose_a_return())
		return HANDLER_NOT_CALLED;
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	for (i = 0; i < FILE_WRITES; i++)
		fwrite(buf, 1, BLOCK, f);
	fclose(f);
	return 0;
}

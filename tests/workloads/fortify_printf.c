/* Built with _FORTIFY_SOURCE=2, where glibc turns printf, fprintf, vprintf
 * and vfprintf into __printf_chk, __fprintf_chk, __vprintf_chk and
 * __vfprintf_chk, which an interposer wrapping the plain names never sees
 * (Debian builds its packages this way).  `fortify_printf FILE` writes 15
 * bytes to FILE in two calls and 6 bytes to stdout in two. */
#include <stdarg.h>
#include <stdio.h>

static int to_stream(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

static int to_stdout(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int main(int argc, char **argv)
{
	FILE *f = argc > 1 ? fopen(argv[1], "w") : NULL;

	if (!f)
		return 1;
	if (fprintf(f, "%s-%d\n", "abc", 12345) != 10 || to_stream(f, "%05d", 42) != 5)
		return 1;
	if (fclose(f))
		return 1;
	return printf("%d\n", argc) == 2 && to_stdout("%s\n", "xyz") == 4 ? 0 : 1;
}

/* Prints the nanoseconds one dlopen of the library argv[1] takes: under a
 * recorder with library layers, the hold at its mapping is part of it. */
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long start;

	if (argc != 2)
		return 1;
	start = now_ns();
	if (!dlopen(argv[1], RTLD_NOW))
		return 1;
	printf("%lld\n", now_ns() - start);
	return 0;
}

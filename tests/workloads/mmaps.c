/* Map an existing file twice (shared and private) and touch it; an
 * anonymous mapping is not a file mapping. */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define LEN 4096

int main(int argc, char **argv)
{
	int fd = argc > 1 ? open(argv[1], O_RDWR) : -1;
	char *p, *q, *anon;

	if (fd < 0)
		return 1;
	p = mmap(0, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	q = mmap(0, LEN, PROT_READ, MAP_PRIVATE, fd, 0);
	anon = mmap(0, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || q == MAP_FAILED || anon == MAP_FAILED)
		return 1;
	p[0] = q[1];
	munmap(p, LEN);
	munmap(q, LEN);
	munmap(anon, LEN);
	return close(fd) ? 1 : 0;
}

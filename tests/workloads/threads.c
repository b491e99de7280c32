/* Two threads, each doing WRITES pwrites of 64 bytes to its own region of
 * one shared fd, concurrently. */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#define WRITES 500
#define SIZE 64

static int fd;

static void *writer(void *arg)
{
	char buf[SIZE] __attribute__((aligned(64))) = { 0 };
	long base = (long)arg * WRITES * SIZE;

	for (int i = 0; i < WRITES; i++)
		if (pwrite(fd, buf, SIZE, base + (long)i * SIZE) != SIZE)
			return (void *)1;
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	void *r0, *r1;

	fd = argc > 1 ? open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0600) : -1;
	if (fd < 0)
		return 1;
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], 0, writer, (void *)i);
	pthread_join(t[0], &r0);
	pthread_join(t[1], &r1);
	return (r0 || r1 || close(fd)) ? 1 : 0;
}

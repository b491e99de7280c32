/* Every kind of stdio call on one stream, whose offsets and byte counts
 * tests/test_stdio.py knows; an fdopen'd stream; the unlocked variants
 * (through pointers, since <stdio.h> inlines some of them); stdout and
 * stderr.  `stdio_ops MAIN FDOPENED UNLOCKED` */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 512
#define CHUNKS 8

/* Volatile pointers keep gcc from turning these calls into others
 * (fputs of a constant into fwrite) or inlining them. */
static const char *volatile hello = "hello\n";
static int (*volatile put_unlocked)(int, FILE *) = putc_unlocked;
static int (*volatile get_unlocked)(FILE *) = getc_unlocked;

static void one_stream(const char *path)
{
	static char buf[CHUNK * CHUNKS + 100];
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "w+");

	memset(buf, 'a', sizeof(buf));
	for (int i = 0; i < CHUNKS; i++)
		fwrite(buf, 1, CHUNK, f);          /* 4096 bytes */
	fprintf(f, "%05d\n", 42);                  /* 6 */
	fputc('x', f);                             /* 1 */
	fputs(hello, f);                           /* 6 */
	putw(7, f);                                /* 4: 4113 in all */
	fflush(f);
	fseek(f, 0, SEEK_SET);
	fread(buf, 1, 1000, f);                    /* 1000 */
	fgetc(f);                                  /* 1 */
	fseek(f, CHUNK * CHUNKS, SEEK_SET);
	fgets(buf, sizeof(buf), f);                /* "00042\n": 6 */
	getline(&line, &cap, f);                   /* "xhello\n": 7 */
	getw(f);                                   /* 4 */
	rewind(f);
	fscanf(f, "%s", buf);                      /* 4096 a's + "00042": 4101 */
	fclose(f);
	free(line);
}

static void fdopened(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	FILE *f = fdopen(fd, "w");

	fwrite("0123456789", 1, 10, f);
	fclose(f);
}

static void unlocked(const char *path)
{
	char buf[100] = { 0 };
	FILE *f = fopen(path, "w");

	fwrite_unlocked(buf, 1, 100, f);
	put_unlocked('z', f);
	fclose(f);
	f = fopen(path, "r");
	fread_unlocked(buf, 1, 50, f);
	get_unlocked(f);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	one_stream(argv[1]);
	fdopened(argv[2]);
	unlocked(argv[3]);
	printf("%d\n", 12345);
	fprintf(stderr, "%s\n", "err");
	return 0;
}

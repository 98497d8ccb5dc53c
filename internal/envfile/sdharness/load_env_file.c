/* Loads one environment file with systemd's own code, the way
 * exec_context_load_environment() does for EnvironmentFile= (load_env_file() then
 * strv_env_clean_with_callback()), and prints the result as NUL-terminated KEY=VALUE.
 * Linked against the libsystemd-shared-<version>.so that ships with systemd, so it
 * checks the envfile package against the systemd installed here without needing
 * systemd to be PID 1. Exit status 1 means systemd refused the file. */
#include <stdio.h>
#include <string.h>

int load_env_file(FILE *f, const char *fname, char ***ret);
char **strv_env_clean_with_callback(char **l, void (*cb)(const char *p, void *u), void *u);

static void invalid(const char *p, void *u) {
        (void) u;
        fprintf(stderr, "ignoring invalid assignment: %s\n", p);
}

int main(int argc, char **argv) {
        char **l = NULL;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s FILE\n", argv[0]);
                return 2;
        }
        r = load_env_file(NULL, argv[1], &l);
        if (r < 0) {
                fprintf(stderr, "load_env_file %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        l = strv_env_clean_with_callback(l, invalid, NULL);
        for (char **p = l; p && *p; p++) {
                fputs(*p, stdout);
                putchar(0);
        }
        return 0;
}

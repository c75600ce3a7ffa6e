/* load_peak MODEL: loads MODEL in a fresh process and prints the load's status and how much the
 * process's peak resident memory grew while loading, in MiB (Linux: /proc/self/status VmHWM).
 * Api.MetadataIsCompactAndCapped runs it: a fork of the test process would inherit its heap. */
#include "dino.h"

#include <stdio.h>
#include <string.h>

static double peak_kib(void) {
    char line[256];
    double v = -1;
    FILE * f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) sscanf(line + 6, "%lf", &v);
    }
    fclose(f);
    return v;
}

int main(int argc, char ** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: load_peak MODEL\n");
        return 2;
    }
    FILE * reset = fopen("/proc/self/clear_refs", "w"); /* "5" resets the peak to the current size */
    if (reset) {
        fputs("5", reset);
        fclose(reset);
    }
    const double before = peak_kib();
    dino_model * m = NULL;
    const int status = dino_model_load(argv[1], NULL, &m);
    const double after = peak_kib();
    dino_model_free(m);
    if (before < 0 || after < 0) return 3;
    printf("%d %.1f\n", status, (after - before) / 1024);
    return 0;
}

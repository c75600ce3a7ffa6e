/* Compiled as C99: dino.h must be a plain C header.  Runs the header's usage
 * example on the model given as argv[1]. */
#include "dino.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char ** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
        return 2;
    }
    dino_model * model = NULL;
    if (dino_model_load(argv[1], NULL, &model) != DINO_OK) {
        fprintf(stderr, "load: %s\n", dino_last_error());
        return 1;
    }
    dino_model_info info;
    dino_model_get_info(model, &info);
    const int size = info.image_size, dim = info.embedding_length;

    dino_context_params cp = dino_context_default_params();
    cp.n_threads = 2;
    dino_context * ctx = NULL;
    if (dino_context_new(model, &cp, &ctx) != DINO_OK) {
        fprintf(stderr, "context: %s\n", dino_last_error());
        return 1;
    }
    float * pixels = calloc((size_t) 3 * size * size, sizeof(float));
    float * cls = calloc((size_t) dim, sizeof(float));
    for (int i = 0; i < 3 * size * size; ++i) pixels[i] = (float) (i % 17) / 17.0f - 0.5f;

    dino_outputs out = dino_outputs_default();
    out.cls = cls;
    out.cls_capacity = (size_t) dim;
    int status = dino_compute(ctx, pixels, 1, size, size, &out);
    if (status != DINO_OK) {
        fprintf(stderr, "compute: %s\n", dino_last_error());
    } else {
        printf("%s: %s, CLS[0..2] = %.5f %.5f %.5f\n", dino_version(), info.name, cls[0], cls[1], cls[2]);
        /* An odd size is refused with a message, not a crash. */
        if (dino_compute(ctx, pixels, 1, size + 1, size, &out) != DINO_ERR_INVALID_ARGUMENT) status = 1;
    }
    free(cls);
    free(pixels);
    dino_context_free(ctx);
    dino_model_free(model);
    return status == DINO_OK ? 0 : 1;
}

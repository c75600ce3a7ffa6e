/* Loads a model through an installed libdino and embeds a flat grey image: prints the version and
 * the embedding's length and first value. */
#include <dino.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char ** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer MODEL.gguf\n");
        return 2;
    }
    printf("%s\n", dino_version());
    dino_model * model = NULL;
    if (dino_model_load(argv[1], NULL, &model) != DINO_OK) {
        fprintf(stderr, "load: %s\n", dino_last_error());
        return 1;
    }
    dino_model_info info;
    dino_model_get_info(model, &info);
    dino_context * ctx = NULL;
    if (dino_context_new(model, NULL, &ctx) != DINO_OK) {
        fprintf(stderr, "context: %s\n", dino_last_error());
        return 1;
    }
    const int s = info.image_size;
    float * pixels = calloc((size_t)3 * s * s, sizeof(float));
    float * cls = calloc((size_t)info.embedding_length, sizeof(float));
    dino_outputs out = dino_outputs_default();
    out.cls = cls;
    out.cls_capacity = (size_t)info.embedding_length;
    const dino_status st = dino_compute(ctx, pixels, 1, s, s, &out);
    if (st != DINO_OK) {
        fprintf(stderr, "compute: %s\n", dino_last_error());
        return 1;
    }
    printf("cls %d %.6f\n", info.embedding_length, cls[0]);
    free(pixels);
    free(cls);
    dino_context_free(ctx);
    dino_model_free(model);
    return 0;
}

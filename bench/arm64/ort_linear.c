// ort_linear: the layer linear_op computes, through ONNX Runtime instead: the one-node DynamicQuantizeMatMul
// graph make_linear_onnx.py writes (what quantize_dynamic makes of a linear layer), on ROWS tokens, REPS
// times, one thread. bench/arm64/count.sh counts its instructions under qemu beside linear_op's, so that
// ggml's, ours and ONNX Runtime's arm64 kernels are compared on the same shapes.
//   ort_linear MODEL.onnx K ROWS REPS
#include "onnxruntime_c_api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const OrtApi * api;

static void check(OrtStatus * status) {
    if (status) {
        fprintf(stderr, "ort_linear: %s\n", api->GetErrorMessage(status));
        exit(1);
    }
}

int main(int argc, char ** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: ort_linear MODEL.onnx K ROWS REPS\n");
        return 2;
    }
    const int64_t K = atoll(argv[2]), rows = atoll(argv[3]);
    const int reps = atoi(argv[4]);
    api = OrtGetApiBase()->GetApi(ORT_API_VERSION);

    OrtEnv * env;
    OrtSessionOptions * options;
    OrtSession * session;
    OrtMemoryInfo * memory;
    check(api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "ort_linear", &env));
    check(api->CreateSessionOptions(&options));
    check(api->SetIntraOpNumThreads(options, 1));
    check(api->SetInterOpNumThreads(options, 1));
    // No spinning while waiting (instructions that depend on timing, not on the work).
    check(api->AddSessionConfigEntry(options, "session.intra_op.allow_spinning", "0"));
    check(api->AddSessionConfigEntry(options, "session.inter_op.allow_spinning", "0"));
    check(api->CreateSession(env, argv[1], options, &session));
    check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory));

    // The same cheap pseudo-random activations as linear_op (an LCG).
    float * a = malloc(sizeof(float) * K * rows);
    uint32_t state = 12345;
    for (int64_t i = 0; i < K * rows; ++i) {
        state = state * 1664525u + 1013904223u;
        a[i] = (float) ((int32_t) (state >> 8) - (1 << 23)) / (float) (1 << 23);
    }
    const int64_t shape[2] = {rows, K};
    OrtValue * input = NULL;
    check(api->CreateTensorWithDataAsOrtValue(memory, a, sizeof(float) * K * rows, shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &input));
    const char * inputs[] = {"A"}, * outputs[] = {"Y"};
    float sum = 0;
    for (int r = 0; r < reps; ++r) {
        OrtValue * y = NULL;
        check(api->Run(session, NULL, inputs, (const OrtValue * const *) &input, 1, outputs, 1, &y));
        float * data;
        check(api->GetTensorMutableData(y, (void **) &data));
        sum += data[0];
        api->ReleaseValue(y);
    }
    printf("%g\n", sum);  // the result is used
    api->ReleaseValue(input);
    api->ReleaseMemoryInfo(memory);
    api->ReleaseSession(session);
    api->ReleaseSessionOptions(options);
    api->ReleaseEnv(env);
    free(a);
    return 0;
}

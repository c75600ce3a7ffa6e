/*
 * dino.h: DINO ViT image embeddings on the CPU, through ggml.
 *
 * Usage:
 *
 *     dino_model * model = NULL;
 *     if (dino_model_load("dino-vits8-q8_0.gguf", NULL, &model) != DINO_OK) {
 *         fprintf(stderr, "%s\n", dino_last_error());
 *         return 1;
 *     }
 *     dino_context_params cp = dino_context_default_params();
 *     cp.n_threads = 4;
 *     dino_context * ctx = NULL;
 *     dino_context_new(model, &cp, &ctx);
 *
 *     float cls[384];                       // dino_model_info.embedding_length
 *     dino_outputs out = dino_outputs_default();
 *     out.cls = cls; out.cls_capacity = 384;
 *     // pixels: N x 3 x H x W float32, already resized and normalized
 *     if (dino_compute(ctx, pixels, 1, 224, 224, &out) != DINO_OK) { ... }
 *
 *     dino_context_free(ctx);
 *     dino_model_free(model);
 *
 * Threading: a dino_model is read-only once loaded and may be shared by any
 * number of dino_context objects on any threads.  A dino_context is used by
 * one thread at a time (it owns the compute buffers and the graph); create one
 * per worker thread.  dino_last_error() is per thread.
 *
 * Errors: every function that can fail returns a dino_status (0 = DINO_OK,
 * negative = error) and sets a message read by dino_last_error().  Nothing a
 * caller passes in (file, tensor, argument) reaches a ggml assertion: inputs
 * are validated first.
 *
 * Lifetimes: each object is freed once, by its own _free function, after every
 * context made from a model is freed.  Using an object after it is freed, or
 * freeing it twice, is undefined behaviour, as with free(): the library cannot
 * tell a freed pointer from a live one.
 */
#ifndef DINO_H
#define DINO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#    if defined(DINO_BUILD)
#        define DINO_API __declspec(dllexport)
#    else
#        define DINO_API __declspec(dllimport)
#    endif
#else
#    define DINO_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dino_status {
    DINO_OK                   = 0,
    DINO_ERR_INVALID_ARGUMENT = -1, /* a NULL pointer, a bad size, a buffer too small   */
    DINO_ERR_IO               = -2, /* the file cannot be opened, read or written        */
    DINO_ERR_BAD_MODEL        = -3, /* not a valid DINO GGUF (the message says why)      */
    DINO_ERR_UNSUPPORTED      = -4, /* valid, but not something this build can run       */
    DINO_ERR_OUT_OF_MEMORY    = -5, /* an allocation failed or would pass the limit      */
    DINO_ERR_ABORTED          = -6, /* the abort callback asked to stop                  */
    DINO_ERR_COMPUTE          = -7, /* ggml failed, or the result is not finite (NaN)  */
    DINO_ERR_INTERNAL         = -8, /* a bug: please report it with the message          */
} dino_status;

typedef struct dino_model   dino_model;
typedef struct dino_context dino_context;

/* ---- library ---------------------------------------------------------------- */

/* The message of the last failed call on this thread ("" if none).  Valid until
 * the next call on this thread. */
DINO_API const char * dino_last_error(void);

/* "dino <version>; ggml <version> (<commit>)": static storage. */
DINO_API const char * dino_version(void);

/* The file ggml's base library was loaded from, as the system loader resolved
 * it ("" if it cannot say): where another ggml-base was loaded into the
 * process first (by another library), that one, whatever folder libdino came
 * from.  Static storage. */
DINO_API const char * dino_ggml_path(void);

typedef enum dino_log_level {
    DINO_LOG_DEBUG = 1,
    DINO_LOG_INFO  = 2,
    DINO_LOG_WARN  = 3,
    DINO_LOG_ERROR = 4,
} dino_log_level;

typedef void (*dino_log_callback)(int32_t level, const char * message, void * user_data);

/* Where the library's and ggml's log lines go.  The default writes warnings and
 * errors to stderr; NULL silences everything.  Process-wide; set it before
 * loading models. */
DINO_API void dino_log_set(dino_log_callback callback, void * user_data);

/* ---- model ------------------------------------------------------------------ */

typedef enum dino_resample {
    DINO_RESAMPLE_BILINEAR = 0,
    DINO_RESAMPLE_BICUBIC  = 1,
} dino_resample;

/* What a loaded model is; filled by dino_model_get_info.  Blittable. */
typedef struct dino_model_info {
    char    name[64];             /* general.name, NUL-terminated (truncated)      */
    char    weight_type[16];      /* linear weights: "f32", "q8_0"; a mix as "q5_0/q4_K" */
    int32_t embedding_length;     /* D: 384 for ViT-S                               */
    int32_t block_count;          /* 12                                             */
    int32_t head_count;           /* 6                                              */
    int32_t feed_forward_length;  /* 1536                                           */
    int32_t patch_size;           /* 8                                              */
    int32_t image_size;           /* native input size: 224                         */
    float   layer_norm_eps;       /* 1e-12 (Hugging Face DINO) or 1e-6 (original DINO, DINOv2) */
    int64_t parameter_count;
    int64_t weight_bytes;         /* bytes of tensor data held in memory            */
    /* Default preprocessing (the model's own; callers may choose another). */
    int32_t preprocess_resize;    /* 0 = no resize                                  */
    int32_t preprocess_crop;      /* center crop size, 0 = no crop                  */
    int32_t preprocess_resample;  /* dino_resample                                  */
    float   preprocess_rescale;   /* 1/255                                          */
    float   preprocess_mean[3];
    float   preprocess_std[3];
    bool    preprocess_resize_shortest_edge; /* resize the shorter side, keep aspect */
    /* What computes on this CPU: "linear avx512-vnni, attention avx512" for
     * the library's own kernels (avx512 or avx2; int8 weights -vnni or, before
     * VNNI, -int8; attention -bf16 or -int8 where DINO_ATTENTION_AUTO means
     * BF16 or INT8),
     * "ggml" where ggml's stock ops run instead (no AVX2, a weight type
     * without a kernel); "linear avx2-int8 (7-bit weights), ..." where the
     * load rounded q8_0 weights (DINO_INT8_WEIGHTS_7BIT).  The environment variable DINO_KERNELS,
     * read once per process, forces a path: ggml, avx2, avx2-novnni,
     * avx512-novnni. */
    char    kernels[64];
    /* How dino_quantize_model made the file: the layer types, the importance
     * matrix and the target it met ("" for other files; truncated). */
    char    quantization[256];
    /* "dino" (DINO ViT) or "dinov2" (LayerScale; registers where register_count > 0). */
    char    family[16];
    int32_t register_count;       /* register tokens (DINOv2 with registers: 4), 0 without */
    bool    swiglu;               /* the MLP is SwiGLU (ViT-g/14): feed_forward_length is its
                                     hidden width, fc1 twice that; else fc1, GELU, fc2 */
    int32_t position_interpolation; /* dino_pos_interp the reference uses for this file
                                     (what DINO_POS_INTERP_MODEL means): never MODEL */
    int32_t input_size;           /* the size the default preprocessing yields: its
                                     crop (224), or its square resize, else image_size */
    bool    preprocess_crop_round_down; /* the crop starts at (size - crop) / 2 rounded
                                     down (transformers); false: half to even
                                     (torchvision)                                  */
} dino_model_info;

typedef enum dino_int8_weights {
    /* The weights as the file stores them (the default). */
    DINO_INT8_WEIGHTS_AS_STORED = 0,
    /* q8_0 weights rounded at load to 7 bits: each block whose values pass
     * +-64 takes half of them (to nearest, ties to even) and twice its scale.
     * On x86 CPUs without VNNI (AVX2: Intel Core 4th to 10th generation, AMD
     * Zen 1 to 3) the linear layers then take one int8 multiply-add per
     * product instead of two, about 1.3x faster; the CLS embedding moves a
     * little (README, "7-bit weights": measured on photos).  Every CPU rounds
     * the same way, but elsewhere it is no faster.  q5_0 and q4_0 are
     * unchanged (q5_0's values are within +-64 already and always take that
     * path). */
    DINO_INT8_WEIGHTS_7BIT = 1,
} dino_int8_weights;

typedef struct dino_model_params {
    /* Scan F32/F16 tensors and quantization scales for NaN/Inf at load. */
    bool check_values;
    int32_t int8_weights; /* dino_int8_weights; default AS_STORED */
} dino_model_params;

DINO_API dino_model_params dino_model_default_params(void);

/* Loads a GGUF file written by scripts/convert_gguf.py or dino_quantize.  The
 * whole file is validated before any of it is used.  params may be NULL
 * (defaults).  On success *out_model owns the weights; free it with
 * dino_model_free after every context using it is freed. */
DINO_API dino_status dino_model_load(const char * path, const dino_model_params * params,
                                     dino_model ** out_model);

/* NULL is a no-op. */
DINO_API void dino_model_free(dino_model * model);

DINO_API dino_status dino_model_get_info(const dino_model * model, dino_model_info * out_info);

/* One tensor of the loaded model (for inspection). */
typedef struct dino_tensor_info {
    char    name[64];
    char    type[16];     /* "f32", "q8_0", ...          */
    int32_t n_dims;
    int64_t ne[4];        /* ggml order: ne[0] innermost */
    int64_t nbytes;
} dino_tensor_info;

/* The number of tensors, and tensor index (0 <= index < count) in file order. */
DINO_API int32_t dino_model_tensor_count(const dino_model * model);
DINO_API dino_status dino_model_tensor_info(const dino_model * model, int32_t index, dino_tensor_info * out_info);

/* Tokens per image of this size in the outputs: 1 + (height/patch) * (width/patch)
 * (CLS and the patches; register tokens are not counted); 0 if the size is not
 * a positive multiple of the patch size. */
DINO_API int32_t dino_model_token_count(const dino_model * model, int32_t height, int32_t width);

/* ---- context ---------------------------------------------------------------- */

typedef enum dino_pos_interp {
    /* As the original interpolate_pos_encoding: PyTorch bicubic with scale
     * factors (h/p + 0.1)/grid, coordinates mapped by 1/scale (DINO; the
     * original DINOv2 backbones without registers). */
    DINO_POS_INTERP_DINO = 0,
    /* A plain size-based bicubic resize of the grid (recent transformers:
     * ViTModel, Dinov2Model). */
    DINO_POS_INTERP_SIZE = 1,
    /* The same, antialiased (F.interpolate(antialias=True): DINOv2 with
     * registers, original and transformers). */
    DINO_POS_INTERP_SIZE_ANTIALIAS = 2,
    /* What the file records its reference uses (dino_model_info.
     * position_interpolation): the default. */
    DINO_POS_INTERP_MODEL = 3,
} dino_pos_interp;

typedef enum dino_attention_kernel {
    /* The library's choice for the model (dino_model_info.kernels says which):
     * FLASH; for models with int8 weights BF16 where the CPU has it, else
     * INT8 on arm64 (where it takes a third to two thirds of FLASH's
     * instructions). */
    DINO_ATTENTION_AUTO  = 0,
    /* softmax(q k^T / sqrt(d)) v in f32, as written in the paper: builds the
     * T x T probability matrix. */
    DINO_ATTENTION_EXACT = 1,
    /* Fused attention that never builds the T x T matrix: the library's own
     * AVX-512 kernel (exact softmax over a few queries at a time, f32) where
     * the CPU has AVX-512 and head_dim is a multiple of 16, else ggml's flash
     * attention with f32 keys and values; as close to PyTorch as EXACT
     * (~5e-6 max abs), and faster. */
    DINO_ATTENTION_FLASH = 2,
    /* FLASH with q k^T and p v as bf16 dot products (AVX512_BF16: Zen 4 and
     * later, Sapphire Rapids and later): about twice as fast, with q, k, v and
     * the probabilities rounded to bf16 (8 significant bits) and every sum,
     * the scale and the softmax in f32.  FLASH where the CPU lacks it. */
    DINO_ATTENTION_BF16  = 3,
    /* FLASH with q k^T and p v as int8 products on q8_0 blocks (the int8
     * linear kernels: VNNI, maddubs, sdot, smmla): each head's keys and values
     * quantized per 32 values along head_dim and along the keys, the queries
     * and the probabilities per 32 values as the linear layers' activations;
     * the sums exact, their scaling and the softmax in f32.  Needs head_dim a
     * multiple of 32; FLASH where it is not or the CPU has no kernels. */
    DINO_ATTENTION_INT8  = 4,
} dino_attention_kernel;

/* The most compute threads a context takes. */
#define DINO_MAX_THREADS 512

typedef struct dino_context_params {
    int32_t n_threads;        /* compute threads, 1 to DINO_MAX_THREADS; 0 = the
                                 cores this process may use (its CPU affinity and
                                 cgroup quota on Linux; the active processors on
                                 Windows): dino_context_get_threads says how
                                 many; negative is DINO_ERR_INVALID_ARGUMENT     */
    int32_t pos_interp;       /* dino_pos_interp; default MODEL                  */
    int32_t attention_kernel; /* dino_attention_kernel; requested attention
                                 outputs always come from the EXACT kernel       */
    int64_t max_memory_mb;    /* refuse a call whose compute buffers would pass
                                 this (an estimate); <= 0 = no limit             */
} dino_context_params;

DINO_API dino_context_params dino_context_default_params(void);

/* A compute object: owns its graph, buffers and threads; allocates on the first
 * call of a given shape and reuses them after.  The model must outlive it. */
DINO_API dino_status dino_context_new(const dino_model * model, const dino_context_params * params,
                                      dino_context ** out_context);

/* NULL is a no-op. */
DINO_API void dino_context_free(dino_context * context);

/* The threads the context computes with (n_threads, with 0 resolved); 0 for NULL. */
DINO_API int32_t dino_context_get_threads(const dino_context * context);

/* Called from the compute threads during dino_compute; returning true stops
 * the computation, which then returns DINO_ERR_ABORTED.  The context stays
 * usable.  callback may be NULL (no cancellation). */
typedef bool (*dino_abort_callback)(void * user_data);
DINO_API void dino_context_set_abort_callback(dino_context * context, dino_abort_callback callback,
                                              void * user_data);

/* ---- compute ---------------------------------------------------------------- */

/* What dino_compute writes.  Every buffer is optional (NULL = not wanted) and
 * caller-owned; each *_capacity is its length in floats and is checked.
 * With N images, T tokens (dino_model_token_count), D width, H heads, R
 * register tokens (dino_model_info.register_count):
 *   tokens       [N, T, D]  all tokens after the final LayerNorm (CLS is row 0,
 *                           then the patches in raster order; registers apart)
 *   cls          [N, D]     the CLS row of tokens: the image embedding
 *   attention    [N, H, Q, T] the last block's attention probabilities, softmax
 *                           over the last axis; Q = 1 (the CLS query) or Q = T
 *                           with attention_full.  With registers, their rows
 *                           and columns are left out (as the registers paper
 *                           shows the maps), so a row sums to 1 less what the
 *                           query gave the registers
 *   intermediate [N, K, T, D] outputs of the last K = n_intermediate blocks,
 *                           each after the final LayerNorm, oldest first (as
 *                           DINO's get_intermediate_layers)
 *   registers    [N, R, D]  the register tokens after the final LayerNorm
 *                           (DINOv2's x_norm_regtokens); only for R > 0 */
typedef struct dino_outputs {
    float * tokens;
    float * cls;
    float * attention;
    float * intermediate;
    size_t  tokens_capacity;
    size_t  cls_capacity;
    size_t  attention_capacity;
    size_t  intermediate_capacity;
    int32_t n_intermediate;
    bool    attention_full;
    float * registers;
    size_t  registers_capacity;
} dino_outputs;

DINO_API dino_outputs dino_outputs_default(void);

/* Runs the model on n_images images of height x width (positive multiples of
 * the patch size, any aspect), given as n_images x 3 x height x width float32
 * values already preprocessed (resized, scaled, normalized).  Fills the
 * requested outputs.  One thread at a time per context. */
DINO_API dino_status dino_compute(dino_context * context, const float * pixels, int32_t n_images,
                                  int32_t height, int32_t width, dino_outputs * outputs);

/* ---- profiling ------------------------------------------------------------- */

/* What a profile entry times: one op of one block. */
typedef enum dino_profile_kind {
    DINO_PROFILE_QKV       = 0, /* norm1 + attn.qkv (one fused op)            */
    DINO_PROFILE_ATTENTION = 1, /* softmax(q k^T / sqrt(d)) v over the heads  */
    DINO_PROFILE_PROJ      = 2, /* attn.proj + the residual                   */
    DINO_PROFILE_FC1       = 3, /* norm2 + mlp.fc1 + GELU                     */
    DINO_PROFILE_FC2       = 4, /* mlp.fc2 + the residual                     */
} dino_profile_kind;

/* The instructions a kernel's products run on, each with its peak
 * (dino_peak_ops). */
typedef enum dino_peak_kind {
    DINO_PEAK_F32_FMA  = 0, /* f32 fused multiply-adds                         */
    DINO_PEAK_INT8_DOT = 1, /* int8 dot products: VNNI, or maddubs before it   */
    DINO_PEAK_BF16_DOT = 2, /* bf16 pair dot products into f32 (AVX512_BF16)   */
} dino_peak_kind;

typedef struct dino_profile_entry {
    char    name[32];  /* "blk.3.attn_qkv", "blk.3.attention"                       */
    int32_t kind;      /* dino_profile_kind                                         */
    int32_t block;
    int32_t peak_kind; /* dino_peak_kind: what its operations ran on                */
    double  seconds;   /* wall time, from its first thread's start to its last
                          thread's end, summed over the profiled computes           */
    double  ops;       /* multiply-adds x 2 done in that time                       */
} dino_profile_entry;

/* Turns timing of the library's own ops on (a fresh profile) or off.  Ops
 * that run on ggml's (another CPU, a type without a kernel) are not timed:
 * they are in the total but no entry.  Costs two clock reads per op and thread. */
DINO_API void dino_context_set_profiling(dino_context * context, bool on);

/* The profile since profiling was turned on: writes up to capacity entries
 * and returns how many there are (call with capacity 0 to size); total_seconds
 * (may be NULL) gets the wall time of the computes. */
DINO_API int32_t dino_context_get_profile(const dino_context * context, dino_profile_entry * entries,
                                          int32_t capacity, double * total_seconds);

/* This CPU's peak, in operations per second on n_threads threads (0 = as
 * dino_context_params.n_threads 0 resolves), measured for
 * about `seconds` by a probe of the instructions the kernels use (kind: a
 * dino_peak_kind; multiply-adds count 2).  0 where no probe exists (no kernels
 * here; int8 on arm64; bf16 without AVX512_BF16). */
DINO_API double dino_peak_ops(int32_t kind, int32_t n_threads, double seconds);

/* ---- quantization ----------------------------------------------------------- */

/* The types dino_quantize writes, by ggml's name in lower case ("f32", "f16",
 * "bf16", "q4_0", ..., "q6_k"), for index 0, 1, ...; NULL past the last.  The
 * strings are static. */
DINO_API const char * dino_quantize_type_name(int32_t index);

/* Writes a copy of the F32/F16/BF16 model at input_path with its linear weights
 * converted to type (one of dino_quantize_type_name, case-insensitive: f32,
 * f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k) by
 * ggml's quantizers.
 * K-quants need rows that are multiples of 256: a tensor whose rows are not
 * (in ViT-S: every one but ffn_down) falls back to q4_0 (for q2_k/q3_k),
 * q5_0 (q4_k), q5_1 (q5_k) or q8_0 (q6_k).  Norms, biases and embeddings stay
 * F32.  The output is written beside output_path under a fresh name and renamed
 * when complete.  An output_path that is the input (the same file, links and
 * hard links followed) is DINO_ERR_INVALID_ARGUMENT, before anything is read.
 * The same as dino_quantize_model with only params.type set. */
DINO_API dino_status dino_quantize(const char * input_path, const char * output_path, const char * type);

/* Called between the steps of long work with what it is doing ("calibrating",
 * "measuring each layer", "measuring the mix", "writing") and how far it is,
 * and while a step runs again with the same values (at most 4 times a
 * second); returning false stops the work within about a second, which then
 * returns DINO_ERR_ABORTED and writes nothing. */
typedef bool (*dino_progress_callback)(const char * stage, int32_t done, int32_t total, void * user_data);

typedef struct dino_quantize_params {
    /* The linear weights' type, as for dino_quantize.  With a target: the
     * lowest type a layer may take, q4_0 (the default then), q5_0 or q8_0. */
    const char *  type;
    /* Calibration: n_calibration images, each 3 x S x S float32 preprocessed
     * as for dino_compute at a size S (below).  With them, the
     * quantizers that take an importance matrix (q4_0, q4_1, q5_0, q5_1 and
     * the K-quants) choose their scales by it: the per-input-channel mean
     * of the squared input of each linear layer over the images' tokens.
     * A few dozen images are enough; the file records how many and a
     * digest of the statistics. */
    const float * calibration;
    int32_t       n_calibration;
    int32_t       calibration_size;  /* S: a multiple of the patch size, normally
                                        dino_model_info.input_size */
    /* Targets (they need calibration images): each layer's type is chosen
     * among q4_0, q5_0, q8_0 and f16 by measuring, on up to 16 of the images, how
     * much each layer alone moves the CLS embedding at each type; the
     * smallest mix whose measured drift meets target_cos with a margin for
     * unseen images (half the drift allowed) and whose file fits in
     * max_mb.  0 = no such target.  With max_mb alone: the closest mix
     * that fits. */
    double        target_cos;    /* the lowest CLS cosine to f32, in (0, 1) */
    double        max_mb;        /* the largest file, in MB of 10^6 bytes   */
    int32_t       n_threads;     /* compute threads; 0 = all cores, as for
                                    dino_context_params                      */
    dino_progress_callback progress;  /* may be NULL                        */
    void *        progress_user_data;
    /* The calibration and measuring contexts' compute memory guard, as
     * dino_context_params.max_memory_mb (default 8192; <= 0 = no limit). */
    int64_t       max_memory_mb;
} dino_quantize_params;

DINO_API dino_quantize_params dino_quantize_default_params(void);

/* Writes a quantized copy of the F32/F16/BF16 model at input_path, as params
 * says (NULL = the defaults, which lack a type: DINO_ERR_INVALID_ARGUMENT).
 * The file's metadata says how it was made (dino_model_info.quantization).
 * Calibration is deterministic: the same images give the same file. */
DINO_API dino_status dino_quantize_model(const char * input_path, const char * output_path,
                                         const dino_quantize_params * params);

#ifdef __cplusplus
}
#endif

#endif /* DINO_H */

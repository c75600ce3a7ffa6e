// arm64/neon.cpp: the baseline ARMv8.0-A build (every arm64 CPU; int8 by smull
// and pairwise adds): arm64/build.inc with the compiler's default -march.
#define DINO_ARM_BUILD neon
#include "build.inc"

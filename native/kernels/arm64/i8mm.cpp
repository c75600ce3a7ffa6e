// arm64/i8mm.cpp: the int8 matrix-multiply build (int8 by smmla), built with
// -march=armv8.2-a+dotprod+i8mm; arm64/select.cpp runs it where HWCAP2_I8MM is set.
#define DINO_ARM_BUILD i8mm
#include "build.inc"

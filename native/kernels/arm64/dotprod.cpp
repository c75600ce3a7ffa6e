// arm64/dotprod.cpp: the ARMv8.2-A dot-product build (int8 by sdot), built with
// -march=armv8.2-a+dotprod; arm64/select.cpp runs it where HWCAP_ASIMDDP is set.
#define DINO_ARM_BUILD dotprod
#include "build.inc"

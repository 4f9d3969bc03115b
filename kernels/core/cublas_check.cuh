#pragma once
// CUDA-internal: cuBLAS status checks, one form for every kernel file that calls cuBLAS.
//   SSM_CUBLAS_CHECK(expr, where)   throws ssm::Error("<where>: cuBLAS error <n> (<name>) in <expr>")
#include <cublas_v2.h>

#include "ssm/core/error.hpp"

#define SSM_CUBLAS_CHECK(expr, where)                                                          \
  do {                                                                                         \
    const cublasStatus_t ssm_cublas_st_ = (expr);                                              \
    if (ssm_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                               \
      throw ::ssm::Error(::ssm::detail::concat((where), ": cuBLAS error ", int(ssm_cublas_st_), \
                                               " (", cublasGetStatusString(ssm_cublas_st_),    \
                                               ") in ", #expr));                               \
  } while (0)

// Fixture of tests/architecture: one mode reaching sideways into another must be refused.
#include "conv/fftconv_impl.hpp"
